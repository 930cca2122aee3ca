"""Parquet shards without Ray: the worker in-process, resuming, stale shards, job identity."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from e5v import Embedder
from e5v.scale.ray_embed import ShardWorker
from e5v.scale.shards import (
    plan_shards,
    prepare_output,
    read_shards,
    record_from_dict,
    record_to_dict,
    shard_is_done,
    write_shard,
)


def test_records_round_trip_through_json(collection):
    for record in collection:
        assert record_from_dict(json.loads(json.dumps(record_to_dict(record)))) == record


def test_worker_writes_shards_equal_to_direct_encode(tmp_path, tiny_dir, collection):
    out = tmp_path / "out.parquet"
    shards = plan_shards(collection, 8)
    assert [len(s.records) for s in shards] == [8, 8, 8, 8, 3]
    prepare_output(out, {"model": str(tiny_dir)}, len(shards))
    worker = ShardWorker(str(tiny_dir), str(out), batch_size=4, embedder_kwargs={"device": "cpu"})
    for shard in shards:
        batch = {
            "shard": np.array([shard.index]),
            "records": np.array([json.dumps([record_to_dict(r) for r in shard.records])]),
        }
        result = worker(batch)
        assert shard_is_done(out, shard) and result["shard"][0] == shard.index
    ids, vectors, failed = read_shards(out)
    good = [r for r in collection if r.id != "bad"]
    assert ids == [r.id for r in good] and [f[0] for f in failed] == ["bad"]
    direct = Embedder.from_pretrained(tiny_dir, device="cpu").encode(
        [r.item for r in good], show_progress=False
    )
    np.testing.assert_allclose(vectors, direct, atol=1e-5)
    table = pq.read_table(out)  # the folder reads as one parquet dataset
    assert table.num_rows == len(good) and table.column_names[:2] == ["id", "vector"]


def test_resume_skips_matching_shards_and_redoes_changed_ones(tmp_path, collection):
    out = tmp_path / "out"
    shards = plan_shards(collection, 10)
    prepare_output(out, {"model": "m"}, len(shards))
    write_shard(out, shards[0], [r.id for r in shards[0].records], np.zeros((10, 4)), "m", [])
    assert shard_is_done(out, shards[0]) and not shard_is_done(out, shards[1])
    changed = plan_shards(collection[1:], 10)  # the collection changed: shard 0 holds other ids now
    assert not shard_is_done(out, changed[0])
    (out / "part-00009.parquet").write_bytes(b"stale")
    (out / ".part-00001.parquet.abc.tmp").write_bytes(b"half-written")
    prepare_output(out, {"model": "m"}, len(shards))
    assert not (out / "part-00009.parquet").exists() and not list(out.glob(".*.tmp"))
    with pytest.raises(ValueError, match="another job"):
        prepare_output(out, {"model": "other"}, len(shards))
