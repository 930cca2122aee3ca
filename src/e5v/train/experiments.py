"""A reproducible real run: E5-V text training on WordNet, held-out ranking before and after."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from e5v.errors import E5VError
from e5v.train.config import load_config
from e5v.train.data.wordnet import build_triplets, find_wordnet, write_triplets
from e5v.train.evaluate import heldout_ranking
from e5v.train.trainer import train

logger = logging.getLogger(__name__)

WORDNET_CONFIG = Path(__file__).resolve().parents[3] / "configs" / "train" / "wordnet_smollm2.yaml"


def wordnet_experiment(
    out_dir: str | Path,
    overrides: Sequence[str] = (),
    eval_n: int = 300,
    config_path: str | Path = WORDNET_CONFIG,
    seed: int = 0,
) -> dict[str, Any]:
    """Build WordNet triplets, rank ``eval_n`` held-out triplets, train, rank again.

    Returns (and writes to ``out_dir/results.json``) the metrics before and after, the loss
    curve and timings.
    """
    from e5v import Embedder

    out = Path(out_dir)
    wordnet = find_wordnet()
    if wordnet is None:
        raise E5VError(
            "WordNet not found: apt-get download wordnet-base && dpkg -x ... or set E5V_WORDNET_DIR"
        )
    train_rows, test_rows = build_triplets(wordnet, seed=seed)
    train_file = write_triplets(train_rows, out / "wordnet" / "train.csv")
    heldout = test_rows[:eval_n]
    write_triplets(heldout, out / "wordnet" / "heldout.csv")

    cfg = load_config(
        config_path, [f"data.train_file={train_file}", f"train.output_dir={out / 'run'}", *overrides]
    )
    began = time.perf_counter()
    base = Embedder.from_pretrained(
        cfg.model.name, chat_template=cfg.model.chat_template, dtype=cfg.model.dtype
    )
    before = heldout_ranking(base, heldout, max_length=cfg.data.max_text_tokens)
    eval_seconds = time.perf_counter() - began
    del base
    logger.info("held-out before training: %s", before)

    began = time.perf_counter()
    result = train(cfg, show_progress=False)
    train_seconds = time.perf_counter() - began
    trained = Embedder.from_pretrained(result.export_dir)  # the exported, merged model
    after = heldout_ranking(trained, heldout, max_length=cfg.data.max_text_tokens)
    logger.info("held-out after training: %s", after)
    report = {
        "model": cfg.model.name,
        "train_triplets": len(train_rows),
        "heldout_triplets": len(heldout),
        "candidates": 2 * len(heldout),
        "steps": result.steps,
        "batch_size": cfg.train.batch_size,
        "before": before,
        "after": after,
        "losses": result.losses,
        "train_seconds": round(train_seconds, 1),
        "eval_seconds": round(eval_seconds, 1),
        "export_dir": str(result.export_dir),
    }
    (out / "results.json").write_text(json.dumps(report, indent=2))
    return report
