"""Smoke tests of bench/inference.py: the agreement maths, the official loop, a full CLI run."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .loader import BENCH, load_bench

common = load_bench("common")
inference = load_bench("inference")


def test_cosine_agreement_hand_checked() -> None:
    a = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]])
    b = np.array([[1.0, 1.0], [0.0, -1.0], [6.0, 8.0]])
    # row 0: 1/sqrt(2); row 1: -1 (opposite); row 2: 1 (same direction, different norm)
    got = common.cosine_agreement(a, b)
    assert got["min"] == pytest.approx(-1.0)
    assert got["mean"] == pytest.approx((1 / math.sqrt(2) - 1 + 1) / 3)


def test_cosine_agreement_rejects_shape_mismatch() -> None:
    with pytest.raises(ValueError):
        common.cosine_agreement(np.zeros((2, 3)), np.zeros((3, 3)))


def test_model_flops_and_table() -> None:
    assert common.model_flops(10, 7) == 140.0
    text = common.table([{"a": 1.5, "min_cos": 0.99999912}])
    assert "0.999999" in text and "| a | min_cos |" in text


def test_peak_rss_grows_with_allocation() -> None:
    with common.measure() as m:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        block.sum()
    assert m.peak_over_loaded_mib > 32
    assert m.seconds > 0


@pytest.mark.parametrize(("family", "kind"), [("llama", "text"), ("llava_next", "image")])
def test_official_loop_matches_encode(family: str, kind: str) -> None:
    """The reproduced reference loop (full model, hidden_states[-1][:, -1]) == Embedder.encode."""
    import torch

    torch.set_num_threads(1)
    emb = inference.load_embedder({"tiny": family, "device": "cpu"})
    items = common.make_items(kind, 6, 2, 12, seed=1)
    prompts, images = inference.prompts_of(emb, items)
    official = inference.official_loop(emb, prompts, images)
    ours = emb.encode(items, batch_size=16, show_progress=False)
    assert official.shape == ours.shape
    assert common.cosine_agreement(ours, official)["min"] >= 0.9999


@pytest.mark.slow
def test_cli_compare_runs(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    cmd = [sys.executable, str(BENCH / "inference.py"), "--tiny", "llama", "--n", "8", "--threads", "1"]
    cmd += ["--sections", "compare,flops", "--json", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    import json

    report = json.loads(out.read_text())
    assert {r["method"] for r in report["compare"]} == {"official", "e5v", "st"}
    assert all(r["min_cos_vs_official"] >= 0.9999 for r in report["compare"])
    assert report["flops"]["model_GFLOP/s"] > 0


def test_levers_prefix_cache_on_tiny_model() -> None:
    """The prefix-cache lever: defaults (cache on) against cache off, same embeddings."""
    spec = {"tiny": "qwen2", "device": "cpu", "n": 8, "words": [2, 12], "seed": 0, "batch_size": 4}
    result = inference.levers_worker({**spec, "threads": 1, "levers": ["prefix", "dedup"]})
    names = [r["lever"] for r in result["rows"]]
    assert names[0].startswith("e5v encode (defaults") and "no prefix cache (full prompts)" in names
    assert all(r["min_cos_vs_fp32"] >= 0.9999 for r in result["rows"])
    assert all(r["compile_s"] is None for r in result["rows"])


def test_make_items_rejects_unknown_image_source() -> None:
    with pytest.raises(ValueError):
        common.make_items("image", 2, 1, 2, images="nope")
