"""Smoke test of bench/train_throughput.py: every row runs, and GradCache gives the same losses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .loader import BENCH, load_bench

throughput = load_bench("train_throughput")

ROWS = {"full MLLM", "full MLLM + GradCache", "text-only", "text-only + GradCache"}
SMALL = ["--batch", "4", "--chunk", "2", "--steps", "1", "--warmup", "1", "--nice", "0"]
SMALL += ["--lora-dropout", "0", "--data", "synthetic", "--threads", "1"]


def _check(report: dict) -> None:
    rows = {r["row"]: r for r in report["rows"]}
    assert set(rows) == ROWS
    for r in rows.values():
        assert r["tokens/s"] > 0 and r["steps/s"] > 0 and r["tokens/step"] > 0
        assert r["peak_rss_MiB"] > 0 and len(r["losses"]) == 2
    assert rows["full MLLM"]["x_tokens/s"] == 1.0
    assert rows["full MLLM + GradCache"]["chunk"] == 2 and rows["full MLLM"]["chunk"] is None
    # The text-only model has no vision tower: fewer parameters, same language model.
    assert rows["text-only"]["params_M"] < rows["full MLLM"]["params_M"]
    # Oracle: GradCache is exact and the text-only model is the full model's language model, so
    # with the same seed, data and no dropout every row's losses (warm-up and timed step) agree.
    base = rows["full MLLM"]["losses"]
    for name in ROWS - {"full MLLM"}:
        assert rows[name]["losses"] == pytest.approx(base, rel=1e-4), name
        assert rows[name]["loss_rel_diff_max"] < 1e-4


def test_rows_and_gradcache_losses(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    report = throughput.main(["--tiny", "llava_next", *SMALL, "--in-process", "--json", str(out)])
    _check(report)
    assert json.loads(out.read_text())["rows"][0]["row"] == "full MLLM"


def test_row_configs() -> None:
    assert [r[0] for r in throughput.row_configs(False, 4)] == ["text LLM", "text LLM + GradCache"]
    assert throughput.row_configs(True, 4)[0] == ("full MLLM", False, 0)


@pytest.mark.slow
def test_cli_fresh_subprocess_per_row(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    cmd = [sys.executable, str(BENCH / "train_throughput.py"), "--tiny", "llava_next", *SMALL]
    subprocess.run([*cmd, "--json", str(out)], check=True, capture_output=True, timeout=600)
    _check(json.loads(out.read_text()))
