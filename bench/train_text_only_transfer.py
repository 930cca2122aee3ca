"""E5-V's claim on a real small MLLM: text-only training also moves image-text retrieval.

e5v-tiny (DINOv2 ViT-S/14 + trained projector + SmolLM2-135M-Instruct) is trained with the
``e5v_text`` recipe on WordNet triplets with ``model.text_only=true`` (the vision tower and
projector are not loaded), and the exported full MLLM is compared with the original on the
held-out Tux Paint image-caption pairs (caption -> image and image -> caption recall) and on the
held-out WordNet triplets. Also prints the memory of loading e5v-tiny whole vs text-only.

    python bench/train_text_only_transfer.py --out runs/transfer [train.max_steps=150 ...]
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch


def image_text_recall(embedder, pairs) -> dict[str, float]:
    from e5v.train.evaluate import ranking_metrics

    images = embedder.encode([p.path for p in pairs], batch_size=16, show_progress=False)
    texts = embedder.encode([p.caption for p in pairs], batch_size=32, show_progress=False)
    sim = texts @ images.T
    labels = np.arange(len(pairs))
    t2i, i2t = ranking_metrics(sim, labels), ranking_metrics(sim.T, labels)
    return {"t2i_r@1": t2i["r@1"], "t2i_r@5": t2i["r@5"], "i2t_r@1": i2t["r@1"], "i2t_r@5": i2t["r@5"]}


def memory(mode: str, path: str) -> dict[str, float]:
    """Peak resident memory of loading e5v-tiny whole or text-only, weights touched."""
    from e5v.train.model import load_language_model

    if mode == "full":
        from transformers import AutoModelForImageTextToText

        model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32)
    else:
        model = load_language_model(path, torch.float32)
    with torch.no_grad():
        for p in model.parameters():
            p.sum()
    hwm = next(
        int(x.split()[1]) for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM")
    )
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    return {"mode": mode, "weights_mib": weights / 2**20, "peak_rss_mib": hwm / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/transfer")
    parser.add_argument("--eval-n", type=int, default=300)
    parser.add_argument("--_memory", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    if args._memory:
        print(json.dumps(memory(*args._memory)))
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(1)
    from e5v import Embedder
    from e5v.train.config import load_config
    from e5v.train.data.wordnet import build_triplets, find_wordnet, write_triplets
    from e5v.train.evaluate import heldout_ranking
    from e5v.train.trainer import train
    from e5v.zoo import resolve
    from e5v.zoo.pairs import load_pairs

    source = str(resolve("e5v-tiny"))
    mem = [
        json.loads(
            subprocess.run(
                [sys.executable, __file__, "--_memory", m, source], capture_output=True, text=True, check=True
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        for m in ("full", "text_only")
    ]
    out = Path(args.out)
    train_rows, test_rows = build_triplets(find_wordnet())
    train_file = write_triplets(train_rows, out / "wordnet" / "train.csv")
    heldout = test_rows[: args.eval_n]
    pairs = load_pairs(split="heldout", sources=("tuxpaint",))

    base = Embedder.from_pretrained(source)
    before = {"wordnet": heldout_ranking(base, heldout), "tuxpaint": image_text_recall(base, pairs)}
    logging.info("before: %s", before)
    del base
    cfg = load_config(
        "configs/train/wordnet_smollm2.yaml",
        [
            f"model.name={source}",
            "model.text_only=true",
            "model.chat_template=null",
            f"data.train_file={train_file}",
            f"train.output_dir={out / 'run'}",
            *args.overrides,
        ],
    )
    result = train(cfg, show_progress=False)
    trained = Embedder.from_pretrained(result.export_dir)
    after = {"wordnet": heldout_ranking(trained, heldout), "tuxpaint": image_text_recall(trained, pairs)}
    report = {
        "memory": mem,
        "steps": result.steps,
        "pairs": len(pairs),
        "before": before,
        "after": after,
        "loss_first10": float(np.mean(result.losses[:10])),
        "loss_last10": float(np.mean(result.losses[-10:])),
    }
    (out / "results.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
