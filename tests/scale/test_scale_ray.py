"""The Ray Data engine on a local Ray instance gives the same vectors as the in-process path."""

from __future__ import annotations

import numpy as np
import pytest

from e5v import Embedder
from e5v.scale import ray_embed, read_shards


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_local_equals_in_process_and_resumes(tmp_path, tiny_dir, collection, local_ray):
    out = tmp_path / "vectors.parquet"
    report = ray_embed(
        collection, out, model=str(tiny_dir), batch_size=4, shard_size=8, num_actors=2, device="cpu"
    )
    assert report.shards_total == 5 and report.shards_written == 5 and report.actors == 2
    assert [f[0] for f in report.failed] == ["bad"]
    ids, vectors, _ = read_shards(out)
    good = [r for r in collection if r.id != "bad"]
    assert ids == [r.id for r in good]
    direct = Embedder.from_pretrained(tiny_dir, device="cpu").encode(
        [r.item for r in good], show_progress=False
    )
    np.testing.assert_allclose(vectors, direct, atol=1e-5)

    (out / "part-00002.parquet").unlink()  # an interrupted job: one shard missing
    again = ray_embed(collection, out, model=str(tiny_dir), batch_size=4, shard_size=8, device="cpu")
    assert again.shards_skipped == 4 and again.shards_written == 1
    ids2, vectors2, _ = read_shards(out)
    assert ids2 == ids
    np.testing.assert_allclose(vectors2, vectors, atol=1e-6)


@pytest.mark.slow
def test_cli_embed_engine_ray(tmp_path, tiny_dir, collection, local_ray):
    """``e5v embed --engine ray`` writes the shards and reports what it did and what failed."""
    from typer.testing import CliRunner

    from e5v.cli import app

    out = tmp_path / "cli.parquet"
    manifest = tmp_path / "items.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "embed",
            str(manifest),
            "-o",
            str(out),
            "--model",
            str(tiny_dir),
            "--engine",
            "ray",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "embedded 34 items" in result.output and "skipped 1 unreadable items" in result.output
    _, vectors, _ = read_shards(out)
    good = [r for r in collection if r.id != "bad"]
    direct = Embedder.from_pretrained(tiny_dir, device="cpu").encode(
        [r.item for r in good], show_progress=False
    )
    np.testing.assert_allclose(vectors, direct, atol=1e-5)
