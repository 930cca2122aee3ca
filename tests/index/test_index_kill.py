"""kill -9 during indexing at random points, then resume: every id exactly once, vectors right."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from index_helpers import write_image

from e5v.collection import read_collection
from e5v.index import VectorStore

WORKER = Path(__file__).with_name("index_worker.py")


def _make_collection(root: Path) -> Path:
    root.mkdir(parents=True)
    for i in range(240):
        (root / f"t{i:03d}.txt").write_text(f"text item number {i} " * (1 + i % 5))
    for i in range(24):
        write_image(root / f"i{i:03d}.png", seed=i)
    (root / "zz_broken.png").write_bytes(b"garbage")
    return root


def _commits(index: Path) -> int:
    """LanceDB commits so far (one manifest per table version)."""
    versions = index / "items.lance" / "_versions"
    return len(list(versions.glob("*.manifest"))) if versions.is_dir() else 0


def _run(
    collection: Path, index: Path, kill_after_commits: int | None, jitter: float = 0.0
) -> tuple[str, int]:
    """Run the worker; with ``kill_after_commits``, SIGKILL it once that many new commits exist."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(collection), str(index)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # "START": the model is built, indexing begins
        if line.startswith("START"):
            break
    else:
        raise AssertionError("the worker exited before indexing")
    if kill_after_commits is None:
        out = proc.stdout.read()
        assert proc.wait(timeout=120) == 0
        return out, 0
    target = _commits(index) + kill_after_commits
    deadline = time.monotonic() + 60
    while _commits(index) < target and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(jitter)  # land anywhere: between commits, while embedding, or inside a commit
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return "", proc.returncode


def test_kill_9_at_random_points_then_resume(tmp_path, embedder):
    _kill_and_resume(tmp_path, embedder, kills=2)


@pytest.mark.slow
def test_kill_9_at_many_random_points_then_resume(tmp_path, embedder):
    _kill_and_resume(tmp_path, embedder, kills=6)


def _kill_and_resume(tmp_path: Path, embedder, kills: int) -> None:
    collection = _make_collection(tmp_path / "collection")
    index = tmp_path / "index"
    seed = int(os.environ.get("E5V_KILL_SEED", random.randrange(2**32)))  # set it to replay a run
    rng = random.Random(seed)
    counts = []
    for _ in range(kills):
        _, code = _run(collection, index, rng.randint(1, 60 // kills), jitter=rng.uniform(0, 0.03))
        assert code == -signal.SIGKILL
        counts.append(len(VectorStore.open(index)) if (index / "items.lance").exists() else 0)
    out, _ = _run(collection, index, None)
    assert "failed=1" in out
    assert counts == sorted(counts) and counts[-1] < 264, counts  # every kill landed mid-indexing

    records = [r for r in read_collection(collection) if r.id != "zz_broken.png"]
    store = VectorStore.open(index)
    ids, vectors = store.vectors()
    print(
        f"\nkill -9 test (E5V_KILL_SEED={seed}): rows committed when killed {counts}; final {len(ids)} rows for {len(records)} items"
    )
    assert len(ids) == len(set(ids)), "duplicated ids"
    assert set(ids) == {r.id for r in records}
    expected = embedder.encode([r.item for r in records], batch_size=8, show_progress=False)
    order = {r.id: i for i, r in enumerate(records)}
    np.testing.assert_allclose(vectors, expected[[order[i] for i in ids]], atol=1e-5)
