"""VectorStore: exact search == brute-force cosine; approximate recall@10; model identity; appends."""

from __future__ import annotations

import numpy as np
import pytest

from e5v.index import IndexInfo, IndexNotFoundError, ModelMismatchError, VectorStore
from e5v.index.store import DEFAULT_REFINE


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _clustered(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(8, n // 100), d))
    return _unit(centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal((n, d)))


def _brute_force(vectors: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Naive oracle: cosine of every row, one at a time, sorted."""
    scores = np.array([float(v @ query) / (np.linalg.norm(v) * np.linalg.norm(query)) for v in vectors])
    order = np.argsort(-scores, kind="stable")[:k]
    return order, scores[order]


def _store(tmp_path, vectors: np.ndarray, model: str = "m") -> VectorStore:
    store = VectorStore.open_or_create(tmp_path / "idx", IndexInfo(model=model, dim=vectors.shape[1]))
    ids = [f"item-{i}" for i in range(len(vectors))]
    for start in range(0, len(vectors), 300):  # several commits
        sl = slice(start, start + 300)
        store.add(
            ids[sl],
            vectors[sl],
            sources=[f"/data/{i}.png" for i in ids[sl]],
            metadata=[{"n": 1}] * len(ids[sl]),
        )
    return store


def test_exact_search_equals_brute_force_cosine(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((700, 24)).astype(np.float32)  # not normalised: cosine must still hold
    store = _store(tmp_path, vectors)
    for query in rng.standard_normal((5, 24)).astype(np.float32):
        hits = store.search(query, k=10, mode="exact", model="m")[0]
        order, scores = _brute_force(vectors, query, 10)
        assert [h.id for h in hits] == [f"item-{i}" for i in order]
        np.testing.assert_allclose([h.score for h in hits], scores, atol=1e-5)
    assert hits[0].source.startswith("/data/") and hits[0].metadata == {"n": 1}


def test_reopen_keeps_rows_info_and_refuses_other_model(tmp_path):
    vectors = _unit(np.random.default_rng(1).standard_normal((50, 8)))
    _store(tmp_path, vectors, model="model-a")
    store = VectorStore.open(tmp_path / "idx")
    assert len(store) == 50 and store.info.model == "model-a" and store.info.dim == 8
    assert sorted(store.ids()) == sorted(f"item-{i}" for i in range(50))
    with pytest.raises(ModelMismatchError, match="model-b"):
        store.search(vectors[0], model="model-b")
    with pytest.raises(ModelMismatchError, match="16-d"):
        store.search(np.ones(16, np.float32), model="model-a")
    with pytest.raises(ModelMismatchError):
        VectorStore.open_or_create(tmp_path / "idx", IndexInfo(model="model-b", dim=8))
    with pytest.raises(IndexNotFoundError):
        VectorStore.open(tmp_path / "nothing")


def test_append_without_rebuild_keeps_approximate_index(tmp_path):
    vectors = _clustered(1200, 16, seed=2)
    store = _store(tmp_path, vectors[:1000])
    store.build_ann("ivf_hnsw_sq", num_partitions=8)
    version = store.version
    store.add([f"new-{i}" for i in range(200)], vectors[1000:])
    store.optimize()
    assert store.ann_kind == "ivf_hnsw_sq" and store.version > version and len(store) == 1200
    hit = store.search(vectors[1100], k=1)[0][0]  # a new row is found (indexed incrementally)
    assert hit.id == "new-100" and hit.score == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("kind", ["ivf_pq", "ivf_hnsw_sq", "ivf_rq"])
def test_approximate_recall_at_10_against_exact(tmp_path, kind):
    n, d = 4000, 32
    vectors = _clustered(n, d, seed=3)
    store = _store(tmp_path, vectors)
    options = {"num_sub_vectors": d // 4} if kind == "ivf_pq" else {}
    store.build_ann(kind, num_partitions=16, **options)
    rng = np.random.default_rng(4)
    queries = _unit(vectors[rng.choice(n, 40, replace=False)] + 0.2 * rng.standard_normal((40, d)))
    exact = store.search(queries, k=10, mode="exact")
    recalls = {}
    for refine in (0, None):  # quantised scores only, then the default rescoring
        approx = store.search(queries, k=10, mode="approx", nprobes=4, refine_factor=refine)
        recalls[refine] = np.mean(
            [len({h.id for h in a} & {h.id for h in e}) / 10 for a, e in zip(approx, exact, strict=True)]
        )
    print(
        f"\nrecall@10 {kind} (n={n}, d={d}, nprobes=4/16): quantised scores {recalls[0]:.3f}, "
        f"rescored x{DEFAULT_REFINE[kind]} {recalls[None]:.3f}"
    )
    assert recalls[None] >= 0.85
    assert recalls[None] >= recalls[0] - 0.02
