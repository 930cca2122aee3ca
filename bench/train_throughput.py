"""Training step throughput and memory of the E5-V recipe: vision tower loaded or not, GradCache or not.

One command measures, for the same model, the same data and the same seed in one run, one training
step of the ``e5v_text`` recipe built exactly as ``e5v.train.trainer`` builds it:
``build_embedder(ModelConfig, LoraConfig)`` (LoRA on, E5-V defaults r 64 / alpha 16 / dropout
0.05 on all language-model linears), text triplets (sent0, sent1, hard_neg) through
``Embedder.collate`` (``max_length`` 32 tokens per text, as ``data.max_text_tokens``) and
``Embedder.forward``, the recipe's InfoNCE objective (tau 0.05), ``full_batch_step`` or
``grad_cache_step``, gradient clipping at 1.0 and an AdamW step.

Rows (each in a fresh subprocess, so every peak is its own): {full MLLM loaded, text-only (the
language model alone, no vision tower or projector)} x {no GradCache, GradCache chunk c}; a
text-only LLM (``--model smollm2-135m-instruct``) has the no-vision-tower rows only. After
``--warmup`` steps of one chunk, ``--steps`` steps of ``--batch`` triplets are timed (``--repeats``
rounds over all rows keep each row's fastest); reported: tokens/s (real, unpadded tokens of the
prompts, as the trainer counts them, per step time; best step), steps/s, peak RSS during the timed
steps, peak over the loaded RSS (model + optimizer state), and ratios against the first row
(full MLLM, no GradCache) measured in the same run. The per-step losses are reported too: with
the same seed and data every row must give the same losses (GradCache is exact; the text-only
model is the full model's language model), to rounding with ``--lora-dropout 0``, and at the first
step also with dropout (LoRA's B starts at zero, so dropout cannot act yet). Results and their
reading: docs/benchmarks-training.md.

Examples::

    nice python bench/train_throughput.py --tiny llava_next
    nice python bench/train_throughput.py --model e5v-tiny --batch 32 --chunk 8 --steps 1 --repeats 2
    nice python bench/train_throughput.py --model smollm2-135m-instruct
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from inference import versions

COLUMNS = [
    "batch",
    "row",
    "chunk",
    "params_M",
    "param_MiB",
    "tokens/step",
    "step_s",
    "tokens/s",
    "x_tokens/s",
    "steps/s",
    "rss_model_MiB",
    "rss_loaded_MiB",
    "peak_rss_MiB",
    "x_peak_rss",
    "peak_over_loaded_MiB",
    "x_over_loaded",
    "loss@1",
    "loss@last",
    "loss_rel_diff_max",
]


# ---------------------------------------------------------------- data


def triplets(n: int, source: str = "auto", seed: int = 0) -> tuple[list[list[str]], str]:
    """``n`` (sent0, sent1, hard_neg) triplets: WordNet's (real text) when found, else synthetic."""
    if source in ("auto", "wordnet"):
        from e5v.train.data.wordnet import build_triplets, find_wordnet

        found = find_wordnet(download=False)
        if found is not None:
            rows, _ = build_triplets(found, seed=seed, held_out=0.0)
            if len(rows) >= n:
                return [[t.anchor, t.positive, t.negative] for t in rows[:n]], f"wordnet ({found})"
        if source == "wordnet":
            raise SystemExit("WordNet not found (set E5V_WORDNET_DIR)")
    anchors, positives, negatives = (common.make_texts(n, 4, 16, seed=seed + k) for k in range(3))
    return [list(t) for t in zip(anchors, positives, negatives, strict=True)], "synthetic"


# ---------------------------------------------------------------- worker (one subprocess per row)


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Build the model as the trainer does, warm up, then time ``steps`` E5-V training steps."""
    common.set_threads(spec["threads"])
    import torch

    from e5v.train.config import Config, LoraConfig, ModelConfig
    from e5v.train.data import Triplet
    from e5v.train.gradcache import chunked, full_batch_step, grad_cache_step
    from e5v.train.model import build_embedder, parameter_bytes
    from e5v.train.recipes import get_recipe

    torch.manual_seed(spec["seed"])  # the same LoRA initialisation in every row
    rss_start = common.rss_mib()
    model_cfg = ModelConfig(name=spec["source"], text_only=spec["text_only"], dtype=spec["dtype"])
    lora_cfg = LoraConfig(dropout=spec["lora_dropout"])
    built = build_embedder(model_cfg, lora_cfg, device=spec["device"])
    emb = built.embedder
    rss_model = common.rss_mib()
    params = [p for p in emb.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=spec["lr"], weight_decay=0.0)
    recipe = get_recipe("e5v_text")
    objective = recipe.objective(Config())
    chunk = spec["chunk"] or None
    step_fn = grad_cache_step if chunk else full_batch_step
    with open(spec["data"], encoding="utf-8") as handle:
        data = [Triplet(*row) for row in json.load(handle)]

    def encode(batch: Any) -> torch.Tensor:
        return emb.forward(batch).float()  # [c, d]

    def step(first: int, size: int) -> tuple[float, int]:
        records = data[first : first + size]
        streams = [
            [emb.collate(c, max_length=spec["max_length"]) for c in chunked(items, chunk)]
            for items in recipe.streams(records)
        ]
        tokens = sum(int(b["attention_mask"].sum()) for stream in streams for b in stream)
        loss = step_fn(encode, streams, objective)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss), tokens

    torch.manual_seed(spec["seed"] + 1)  # the same dropout draws in every row
    losses: list[float] = []
    small = spec["warmup_batch"]
    for i in range(spec["warmup"]):  # small batches: optimizer state, first-call overheads
        losses.append(step(i * small, small)[0])
    timed: list[tuple[float, int, common.Measure]] = []
    for i in range(spec["steps"]):
        with common.measure(spec["device"]) as m:
            loss, tokens = step(spec["warmup"] * small + i * spec["batch"], spec["batch"])
        losses.append(loss)
        timed.append((m.seconds, tokens, m))
    seconds = [t[0] for t in timed]
    tokens = [t[1] for t in timed]
    measures = [t[2] for t in timed]
    total = sum(p.numel() for p in emb.model.parameters())
    return {
        "params_M": total / 1e6,
        "param_MiB": parameter_bytes(emb.model) / 2**20,
        "trainable_M": sum(p.numel() for p in params) / 1e6,
        "tokens/step": sum(tokens) / len(tokens),
        "step_s": min(seconds),
        "step_s_mean": sum(seconds) / len(seconds),
        "tokens/s": max(n / s for n, s in zip(tokens, seconds, strict=True)),
        "tokens/s_mean": sum(tokens) / sum(seconds),
        "steps/s": 1.0 / min(seconds),
        "rss_start_MiB": rss_start,
        "rss_model_MiB": rss_model,
        "rss_loaded_MiB": measures[0].rss_before_mib,
        "peak_rss_MiB": max(m.peak_rss_mib for m in measures),
        "peak_over_loaded_MiB": max(m.peak_over_loaded_mib for m in measures),
        "cuda_peak_MiB": measures[0].cuda_peak_mib,
        "ru_maxrss_MiB": common.process_maxrss_mib(),
        "losses": losses,
    }


# ---------------------------------------------------------------- rows


def row_configs(multimodal: bool, chunk: int) -> list[tuple[str, bool, int]]:
    """(row name, text_only, GradCache chunk or 0) of a run; the first row is the baseline."""
    kinds = [("full MLLM", False), ("text-only", True)] if multimodal else [("text LLM", False)]
    return [
        (name if not c else f"{name} + GradCache", text_only, c)
        for name, text_only in kinds
        for c in (0, chunk)
    ]


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Ratios of every row against the first row of its batch size (in place)."""
    base: dict[int, dict[str, Any]] = {}
    for r in rows:
        b = base.setdefault(r["batch"], r)
        r["x_tokens/s"] = r["tokens/s"] / b["tokens/s"]
        r["x_steps/s"] = r["steps/s"] / b["steps/s"]
        r["x_peak_rss"] = r["peak_rss_MiB"] / b["peak_rss_MiB"]
        over = b["peak_over_loaded_MiB"]
        r["x_over_loaded"] = r["peak_over_loaded_MiB"] / over if over > 0 else None
        r["x_rss_loaded"] = r["rss_loaded_MiB"] / b["rss_loaded_MiB"]
        diffs = [abs(a - c) / max(abs(c), 1e-12) for a, c in zip(r["losses"], b["losses"], strict=True)]
        r["loss_rel_diff_step1"] = diffs[0]
        r["loss_rel_diff_max"] = max(diffs)
        r["loss@1"], r["loss@last"] = r["losses"][0], r["losses"][-1]


# ---------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_model_source(p, "e5v-tiny, smollm2-135m-instruct")
    p.add_argument("--batch", default="32", help="triplets per step (3 texts each); comma list for a sweep")
    p.add_argument("--chunk", type=int, default=8, help="GradCache chunk (triplets per forward)")
    p.add_argument("--steps", type=int, default=3, help="timed steps per row (best is the headline)")
    p.add_argument("--repeats", type=int, default=1, help="rounds over all rows; each row's best is kept")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first (optimizer state, allocator)")
    p.add_argument("--warmup-batch", type=int, default=0, help="triplets per warm-up step (0: the chunk)")
    p.add_argument("--max-length", type=int, default=32, help="tokens per text before templating (E5-V: 32)")
    p.add_argument(
        "--lora-dropout", type=float, default=0.05, help="E5-V: 0.05; 0 makes every row's losses equal"
    )
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--data", default="auto", choices=("auto", "wordnet", "synthetic"), help="triplet text")
    p.add_argument("--threads", type=int, default=1, help="torch threads, the same for every row")
    p.add_argument("--nice", type=int, default=10, help="niceness added to this run (shared machines)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="auto", help="ModelConfig.dtype (auto: float32 on CPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write all results to this JSON file")
    p.add_argument("--md", type=Path, help="also write the Markdown report to this file")
    p.add_argument(
        "--in-process",
        action="store_true",
        help="run every row in this process (fast smoke runs; memory figures are then not per row)",
    )
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return common.check_model_source(p, p.parse_args(argv))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.worker:
        result = worker(json.loads(args.worker))
        print(json.dumps(result))
        return result
    if args.nice:
        os.nice(args.nice)  # inherited by the row subprocesses
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    batches = [int(b) for b in args.batch.split(",")]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        source = args.model
        if args.tiny:
            from e5v.testing import tiny_model

            model, processor = tiny_model(args.tiny, seed=0)
            source = str(Path(tmp) / f"tiny-{args.tiny}")
            model.save_pretrained(source)
            processor.save_pretrained(source)
        else:
            from e5v.loading import resolve_source

            source = resolve_source(args.model)[0]
        multimodal = common.is_multimodal(source)
        warmup_batch = args.warmup_batch or min(args.chunk, min(batches))
        n = warmup_batch * args.warmup + max(batches) * args.steps
        rows_text, data_source = triplets(n, args.data, args.seed)
        data_file = Path(tmp) / "triplets.json"
        data_file.write_text(json.dumps(rows_text))
        spec = {
            "model": args.model or f"tiny {args.tiny}",
            "multimodal": multimodal,
            "chunk": args.chunk,
            "steps": args.steps,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "warmup_batch": warmup_batch,
            "max_length": args.max_length,
            "lora_dropout": args.lora_dropout,
            "lr": args.lr,
            "threads": args.threads,
            "device": args.device,
            "dtype": args.dtype,
            "seed": args.seed,
            "data_source": data_source,
            "in_process": args.in_process,
        }
        order = [(b, *c) for b in batches for c in row_configs(multimodal, args.chunk)]
        best: dict[tuple[int, str], dict[str, Any]] = {}
        rounds: dict[tuple[int, str], list[float]] = {}
        for r in range(args.repeats):  # rounds over all rows, alternating order (load drifts)
            for batch, name, text_only, chunk in order if r % 2 == 0 else order[::-1]:
                row_spec = {**spec, "name": name, "source": source, "data": str(data_file)}
                row_spec.update(batch=batch, text_only=text_only, chunk=chunk)
                if args.in_process:
                    result = worker(row_spec)
                else:
                    result = common.run_json_worker(Path(__file__).resolve(), row_spec)
                key = (batch, name)
                rounds.setdefault(key, []).append(result["tokens/s"])
                if key not in best or result["tokens/s"] > best[key]["tokens/s"]:
                    best[key] = {"batch": batch, "row": name, "chunk": chunk or None, **result}
                print(f"  {name} (batch {batch}): {result['tokens/s']:.0f} tokens/s", file=sys.stderr)
    rows = [{**best[(b, n)], "tokens/s_rounds": rounds[(b, n)]} for b, n, _, _ in order]
    add_ratios(rows)
    report = {"versions": versions(), "spec": spec, "rows": rows}
    report["wall_s"] = time.perf_counter() - started
    text = markdown(report)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    if args.md:
        args.md.write_text(text + "\n")
    return report


def markdown(report: dict[str, Any]) -> str:
    spec = report["spec"]
    where = "all rows in one process" if spec.get("in_process") else "each row a fresh subprocess"
    lines = [
        f"# e5v training step throughput: {spec['model']}",
        "",
        json.dumps(report["versions"]),
        "",
        f"E5-V text recipe, LoRA r 64 / alpha 16 / dropout {spec['lora_dropout']}, AdamW, "
        f"max_length {spec['max_length']}, {spec['threads']} thread(s), dtype {spec['dtype']}, "
        f"{spec['warmup']} warm-up step(s) of {spec['warmup_batch']} triplets + {spec['steps']} timed "
        f"step(s) per row (best step; best of {spec.get('repeats', 1)} round(s) of fresh processes), "
        f"data: {spec['data_source']}; {where}; x_ = ratio to the first row "
        f"of the same batch; batch = triplets (3 texts each); wall {report['wall_s']:.0f} s.",
        "",
        common.table(report["rows"], COLUMNS),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
