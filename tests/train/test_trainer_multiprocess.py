"""The trainer in two CPU processes (accelerate, gloo) follows the one-process run on the same global batch."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import torch.multiprocessing as mp

from e5v.train.config import load_config
from e5v.train.trainer import read_metrics, train

from .conftest import CONFIGS

ARGS = [
    "lora.qlora=false",
    "train.mixed_precision=no",
    "train.epochs=null",
    "train.warmup_steps=0",
    "train.tensorboard=false",
    "model.gradient_checkpointing=false",
    "model.dtype=float32",
    "lora.r=4",
    "lora.dropout=0.0",
    "train.max_steps=3",
    "train.lr=5e-3",
    "train.save_every=0",
    "train.export=false",
    "train.chunk_size=2",
]


def _worker(
    rank: int, world: int, port: int, overrides: list[str], resume: bool = False, die_after: int = 0
) -> None:
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        OMP_NUM_THREADS="1",
    )

    def die(info) -> None:  # a kill right after the checkpoint of step ``die_after``
        if info.step == die_after:
            os._exit(0)

    train(
        load_config(f"{CONFIGS}/e5v_text.yaml", overrides),
        resume=resume,
        callbacks=[die],
        show_progress=False,
    )


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # three trainer processes: ~15 s on an idle 2-core machine
def test_two_processes_follow_one_process(tiny_dirs, triplet_file, tmp_path):
    common = [*ARGS, f"model.name={tiny_dirs('llama')}", f"data.train_file={triplet_file}"]
    one = tmp_path / "one"
    train(
        load_config(f"{CONFIGS}/e5v_text.yaml", [*common, "train.batch_size=8", f"train.output_dir={one}"]),
        show_progress=False,
    )
    two = tmp_path / "two"
    mp.spawn(
        _worker,
        args=(2, _port(), [*common, "train.batch_size=4", f"train.output_dir={two}"]),
        nprocs=2,
        join=True,
    )
    want, got = read_metrics(one), read_metrics(two)
    assert sorted(got) == [1, 2, 3]
    for step in (1, 2, 3):  # same data, same global batch: same loss (and, after step 1, same updates)
        assert got[step]["loss"] == pytest.approx(want[step]["loss"], rel=1e-4, abs=1e-5), (step, want, got)
    assert json.loads(Path(two / "metrics.jsonl").read_text().splitlines()[0])["step"] == 1


def _spawn(overrides: list[str], resume: bool = False, die_after: int = 0) -> None:
    mp.spawn(_worker, args=(2, _port(), overrides, resume, die_after), nprocs=2, join=True)


@pytest.mark.slow  # DeepSpeed in two CPU processes: ~1 min on an idle 2-core machine
@pytest.mark.parametrize("chunk", ["null", "2"], ids=["full-batch", "gradcache"])
def test_deepspeed_zero2_follows_one_process(tiny_dirs, triplet_file, tmp_path, chunk):
    """ZeRO-2 (sharded optimizer state and gradients) over gloo, with and without GradCache, gives
    the losses of one plain process on the concatenated batch; resuming from a ZeRO checkpoint
    (per-rank optimizer shards) continues the uninterrupted run exactly."""
    pytest.importorskip("deepspeed")
    common = [
        *ARGS,
        f"model.name={tiny_dirs('llama')}",
        f"data.train_file={triplet_file}",
        f"train.chunk_size={chunk}",
        "train.max_steps=4",
    ]
    one = tmp_path / "one"
    train(
        load_config(f"{CONFIGS}/e5v_text.yaml", [*common, "train.batch_size=8", f"train.output_dir={one}"]),
        show_progress=False,
    )
    zero = [*common, "train.batch_size=4", "train.deepspeed=zero2"]
    two = tmp_path / "two"
    _spawn([*zero, f"train.output_dir={two}"])
    want, got = read_metrics(one), read_metrics(two)
    assert sorted(got) == [1, 2, 3, 4]
    for step in got:
        assert got[step]["loss"] == pytest.approx(want[step]["loss"], rel=1e-4, abs=1e-5), (step, want, got)

    resumed = tmp_path / "resumed"
    _spawn([*zero, f"train.output_dir={resumed}", "train.save_every=2"], die_after=2)
    assert sorted(read_metrics(resumed)) == [1, 2]
    shards = sorted(p.name for p in (resumed / "checkpoints" / "step-000002").glob("optimizer-rank*.pt"))
    assert shards == ["optimizer-rank0.pt", "optimizer-rank1.pt"]
    _spawn([*zero, f"train.output_dir={resumed}", "train.save_every=2"], resume=True)
    again = read_metrics(resumed)
    for step in (3, 4):
        assert again[step]["loss"] == pytest.approx(got[step]["loss"], rel=1e-5, abs=1e-6), (step, again, got)
