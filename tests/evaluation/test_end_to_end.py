"""End to end: a tiny random LLaVA wrapped in e5v.Embedder, every benchmark's files, the tables."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from e5v.evaluation import EvalOptions, evaluate, format_results

MMEB_SMALL = ("ImageNet-1K", "OK-VQA", "MSCOCO_t2i", "MSCOCO")
ALL = ["e5v", "cirr-test", "mmeb", "sharegpt4v-1k", "urban1k", "sugarcrepe"]


@pytest.fixture(scope="module")
def embedder(tiny):
    from e5v import Embedder

    model, processor = tiny("llava")
    return Embedder(model, processor)


def test_every_benchmark_produces_the_tables(embedder, data_root, tmp_path):
    options = EvalOptions(output_dir=tmp_path / "out", mmeb_datasets=MMEB_SMALL)
    results = evaluate(
        embedder,
        ALL,
        data_root,
        options=options,
        batch_size=4,
        cache_dir=tmp_path / "cache",
        output=tmp_path / "r.json",
    )
    names = set(results["benchmarks"])
    assert {
        "flickr30k",
        "coco",
        "i2i-coco",
        "cirr",
        "fashioniq",
        "sick-r",
        "mmeb",
        "urban1k",
        "sugarcrepe",
    } <= names
    for name, r in results["benchmarks"].items():
        if name != "cirr-test":
            assert r["primary_metric"] in r["metrics"], name
            assert all(np.isfinite(v) for v in r["metrics"].values()), name
    # recall is monotone in k and bounded; the image-text gap is measured and plotted
    m = results["benchmarks"]["flickr30k"]["metrics"]
    assert 0 <= m["t2i_R@1"] <= m["t2i_R@5"] <= m["t2i_R@10"] <= 100
    details = results["benchmarks"]["flickr30k"]["details"]
    assert (tmp_path / "out" / "modality_gap_flickr30k.png").is_file()
    assert set(details["modality_gap"]) >= {"centroid_distance", "mean_cos_matched", "mean_cos_unmatched"}
    assert (tmp_path / "out" / "cirr_test_recall.json").is_file()
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["benchmarks"].keys() == results["benchmarks"].keys()

    table = format_results(results)
    for heading in (
        "Text-image retrieval (E5-V Table 1)",
        "Modality gap",
        "Composed image retrieval, CIRR val",
        "FashionIQ val (E5-V Table 3)",
        "Image-image retrieval (E5-V Table 4)",
        "Sentence embeddings (E5-V Table 5)",
        "MMEB Precision@1",
        "Long-caption retrieval (UniME)",
        "SugarCrepe",
    ):
        assert heading in table, heading
    assert "| STS12 | STS13 | STS14 | STS15 | STS16 | STS-B | SICK-R | Avg. |" in table.replace(
        "  ", " "
    ) or ("SICK-R" in table and "Avg." in table)
    # a re-run reads every embedding from the cache and gives the same numbers
    again = evaluate(embedder, ["flickr30k", "sts12"], data_root, batch_size=4, cache_dir=tmp_path / "cache")
    assert again["benchmarks"]["flickr30k"]["metrics"] == results["benchmarks"]["flickr30k"]["metrics"]


def test_cli_run_list_show(embedder, data_root, tmp_path):
    from e5v.cli import app

    model_dir = tmp_path / "tiny-llava"
    embedder.save_pretrained(model_dir)
    runner = CliRunner()
    out = tmp_path / "results.json"
    result = runner.invoke(
        app,
        [
            "eval",
            "run",
            "flickr30k,sts12",
            "-d",
            str(data_root),
            "-m",
            str(model_dir),
            "-o",
            str(out),
            "--no-cache",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Text-image retrieval (E5-V Table 1)" in result.output
    assert json.loads(out.read_text())["benchmarks"]["sts12"]["primary_metric"] == "spearman_all"
    shown = runner.invoke(app, ["eval", "show", str(out)])
    assert shown.exit_code == 0 and "Sentence embeddings" in shown.output
    listed = runner.invoke(app, ["eval", "list"])
    assert "fashioniq/captions/cap.<category>.val.json" in listed.output
    missing = runner.invoke(
        app, ["eval", "run", "cirr", "-d", str(tmp_path), "-m", str(model_dir), "--no-cache"]
    )
    assert missing.exit_code == 2 and "cap.rc2.val.json" in missing.output
