"""Pure retrieval and similarity metrics: NumPy arrays in, numbers out.

Nothing here knows about models, prompts or datasets. Scores are dot products of the given
embeddings (pass L2-normalised embeddings to get cosine similarities).

Conventions, used by every function:

* **Rank** of a query = the number of *negative* candidates that score at least as high as the
  query's best-scoring positive (``ties="pessimistic"``, the default: a tie counts against the
  model) or strictly higher (``ties="optimistic"``). Rank 0 is a hit at 1. Other positives never
  push a positive down, so with several positives per query (image->text retrieval with five
  captions per image) a query is a hit at ``k`` when *any* of its positives is in the top ``k``:
  the standard way papers count it.
* Recall@k = the fraction of queries whose rank is ``< k``. Values are fractions in [0, 1]; the
  evaluators multiply by 100 for the tables.
* Large score matrices are never materialised: queries are processed in chunks of
  ``chunk_size`` rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

Ties = Literal["pessimistic", "optimistic"]
#: One positive candidate index per query, or a sequence of candidate indices per query.
Positives = np.ndarray | Sequence[int] | Sequence[Sequence[int]]

__all__ = [
    "Ties",
    "cosine_rows",
    "image_text_recall",
    "pairwise_accuracy",
    "precision_at_1",
    "recall_at_k",
    "retrieval_ranks",
    "spearman",
    "subset_ranks",
    "top_k",
]


def _as_csr(positives: Positives, n_queries: int) -> tuple[np.ndarray, np.ndarray]:
    """Positives as (indptr, indices): query ``i`` has positives ``indices[indptr[i]:indptr[i+1]]``."""
    if isinstance(positives, np.ndarray) and positives.ndim == 1 and positives.dtype.kind in "iu":
        indices = positives.astype(np.int64)
        indptr = np.arange(len(indices) + 1, dtype=np.int64)
    else:
        rows = [np.atleast_1d(np.asarray(p, dtype=np.int64)) for p in positives]
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        indices = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    if len(indptr) - 1 != n_queries:
        raise ValueError(f"got positives for {len(indptr) - 1} queries but {n_queries} query embeddings")
    if np.any(np.diff(indptr) == 0):
        raise ValueError("every query needs at least one positive candidate")
    return indptr, indices


def _check_2d(name: str, array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array [n, d], got shape {array.shape}")
    return array


def retrieval_ranks(
    queries: np.ndarray,
    candidates: np.ndarray,
    positives: Positives,
    *,
    exclude: np.ndarray | Sequence[int] | None = None,
    ties: Ties = "pessimistic",
    chunk_size: int = 1024,
) -> np.ndarray:
    """Rank of each query's best positive among all candidates (see the module conventions).

    Args:
        queries: [n_q, d] query embeddings.
        candidates: [n_c, d] candidate embeddings.
        positives: one candidate index per query (int array) or a sequence of indices per query.
        exclude: optional candidate index per query removed from the ranking (``-1`` for none);
            CIRR removes the reference image this way.
        ties: whether a negative scoring exactly like the best positive counts ahead of it.
        chunk_size: number of query rows scored at once.

    Returns:
        [n_q] int64 array of 0-based ranks.
    """
    queries = _check_2d("queries", queries)
    candidates = _check_2d("candidates", candidates)
    n_q, n_c = len(queries), len(candidates)
    indptr, indices = _as_csr(positives, n_q)
    if len(indices) and (indices.min() < 0 or indices.max() >= n_c):
        raise ValueError(f"positive candidate index out of range [0, {n_c})")
    excl = None if exclude is None else np.asarray(exclude, dtype=np.int64)
    if excl is not None and len(excl) != n_q:
        raise ValueError(f"exclude has {len(excl)} entries for {n_q} queries")
    ranks = np.empty(n_q, dtype=np.int64)
    for start in range(0, n_q, chunk_size):
        stop = min(start + chunk_size, n_q)
        scores = queries[start:stop] @ candidates.T  # [b, n_c]
        rows = np.arange(stop - start)
        is_pos = np.zeros(scores.shape, dtype=bool)
        counts = np.diff(indptr[start : stop + 1])
        is_pos[np.repeat(rows, counts), indices[indptr[start] : indptr[stop]]] = True
        best = np.where(is_pos, scores, -np.inf).max(axis=1)  # [b]
        is_neg = ~is_pos
        if excl is not None:
            chunk_excl = excl[start:stop]
            has = chunk_excl >= 0
            is_neg[rows[has], chunk_excl[has]] = False
        ahead = scores >= best[:, None] if ties == "pessimistic" else scores > best[:, None]
        ranks[start:stop] = (ahead & is_neg).sum(axis=1)
    return ranks


def subset_ranks(
    queries: np.ndarray,
    candidates: np.ndarray,
    positives: np.ndarray | Sequence[int],
    subsets: Sequence[Sequence[int]],
    *,
    exclude: np.ndarray | Sequence[int] | None = None,
    ties: Ties = "pessimistic",
) -> np.ndarray:
    """Rank of each query's positive among only its own candidate subset (CIRR's Recall_subset).

    Args:
        queries: [n_q, d] query embeddings.
        candidates: [n_c, d] embeddings of the whole gallery.
        positives: [n_q] gallery index of each query's target; it must be in the query's subset.
        subsets: per query, the gallery indices of its subset (e.g. CIRR's ``img_set`` members).
        exclude: optional gallery index per query removed from its subset (the reference image).
        ties: tie convention, see :func:`retrieval_ranks`.
    """
    queries = _check_2d("queries", queries)
    candidates = _check_2d("candidates", candidates)
    positives = np.asarray(positives, dtype=np.int64)
    n_q = len(queries)
    if len(subsets) != n_q or len(positives) != n_q:
        raise ValueError("queries, positives and subsets must have the same length")
    width = max((len(s) for s in subsets), default=0)
    members = np.full((n_q, width), -1, dtype=np.int64)
    for i, subset in enumerate(subsets):
        members[i, : len(subset)] = subset
    valid = members >= 0
    if exclude is not None:
        valid &= members != np.asarray(exclude, dtype=np.int64)[:, None]
    if not np.all((members == positives[:, None]).any(axis=1)):
        raise ValueError("every query's positive must be a member of its subset")
    is_neg = valid & (members != positives[:, None])
    ranks = np.empty(n_q, dtype=np.int64)
    step = _rows_per_chunk(width * queries.shape[1])
    for start in range(0, n_q, step):
        sl = slice(start, min(start + step, n_q))
        gathered = candidates[np.where(valid[sl], members[sl], 0)]  # [b, width, d]
        scores = np.einsum("qd,qwd->qw", queries[sl], gathered)
        pos_score = np.einsum("qd,qd->q", queries[sl], candidates[positives[sl]])
        ahead = scores >= pos_score[:, None] if ties == "pessimistic" else scores > pos_score[:, None]
        ranks[sl] = (ahead & is_neg[sl]).sum(axis=1)
    return ranks


def _rows_per_chunk(floats_per_row: int, budget: int = 1 << 25) -> int:
    """Rows to process at once so that a gathered block stays under ``budget`` floats (128 MB)."""
    return max(1, budget // max(1, floats_per_row))


def recall_at_k(ranks: np.ndarray, ks: Iterable[int]) -> dict[int, float]:
    """Fraction of queries whose rank is below ``k``, for each ``k``."""
    ranks = np.asarray(ranks)
    if ranks.size == 0:
        raise ValueError("no queries to compute recall on")
    return {int(k): float(np.mean(ranks < k)) for k in ks}


def image_text_recall(
    image_emb: np.ndarray,
    text_emb: np.ndarray,
    text_to_image: np.ndarray | Sequence[int],
    ks: Iterable[int] = (1, 5, 10),
    *,
    ties: Ties = "pessimistic",
    chunk_size: int = 1024,
) -> dict[str, dict[int, float]]:
    """Text->image and image->text Recall@k with several captions per image.

    Args:
        image_emb: [n_images, d].
        text_emb: [n_texts, d].
        text_to_image: [n_texts] index of the image each text describes.

    Returns:
        ``{"t2i": {k: recall}, "i2t": {k: recall}}``; for image->text an image is a hit when any
        of its captions is in the top ``k``.
    """
    text_to_image = np.asarray(text_to_image, dtype=np.int64)
    n_images = len(image_emb)
    if len(text_to_image) != len(text_emb):
        raise ValueError(f"text_to_image has {len(text_to_image)} entries for {len(text_emb)} texts")
    order = np.argsort(text_to_image, kind="stable")
    counts = np.bincount(text_to_image, minlength=n_images)
    if np.any(counts == 0):
        raise ValueError(f"{int(np.sum(counts == 0))} images have no caption")
    captions_of_image = np.split(order, np.cumsum(counts)[:-1])
    ks = tuple(ks)
    t2i = retrieval_ranks(text_emb, image_emb, text_to_image, ties=ties, chunk_size=chunk_size)
    i2t = retrieval_ranks(image_emb, text_emb, captions_of_image, ties=ties, chunk_size=chunk_size)
    return {"t2i": recall_at_k(t2i, ks), "i2t": recall_at_k(i2t, ks)}


def top_k(
    queries: np.ndarray,
    candidates: np.ndarray,
    k: int,
    *,
    exclude: np.ndarray | Sequence[int] | None = None,
    chunk_size: int = 1024,
) -> np.ndarray:
    """[n_q, k] indices of the highest-scoring candidates, best first (ties: lower index first)."""
    queries = _check_2d("queries", queries)
    candidates = _check_2d("candidates", candidates)
    k = min(k, len(candidates) - (0 if exclude is None else 1))
    excl = None if exclude is None else np.asarray(exclude, dtype=np.int64)
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), chunk_size):
        stop = min(start + chunk_size, len(queries))
        scores = queries[start:stop] @ candidates.T
        if excl is not None:
            rows = np.arange(stop - start)
            has = excl[start:stop] >= 0
            scores[rows[has], excl[start:stop][has]] = -np.inf
        out[start:stop] = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return out


def precision_at_1(
    queries: np.ndarray,
    candidates: np.ndarray,
    candidate_ids: np.ndarray,
    *,
    positive_column: int = 0,
    ties: Ties = "pessimistic",
    chunk_size: int | None = None,
) -> float:
    """MMEB's Precision@1: each query ranks its own candidate list; is the positive first?

    Args:
        queries: [n_q, d].
        candidates: [n_unique, d] embeddings of the distinct candidates.
        candidate_ids: [n_q, n_cand] index into ``candidates`` of each query's candidates.
        positive_column: the column of ``candidate_ids`` holding the positive (MMEB: 0).
        chunk_size: queries per block (default: as many as keep the gathered block ~128 MB).
    """
    queries = _check_2d("queries", queries)
    candidate_ids = np.asarray(candidate_ids, dtype=np.int64)
    if candidate_ids.shape[0] != len(queries):
        raise ValueError("candidate_ids needs one row per query")
    hits = 0
    chunk_size = chunk_size or _rows_per_chunk(candidate_ids.shape[1] * queries.shape[1])
    for start in range(0, len(queries), chunk_size):
        stop = min(start + chunk_size, len(queries))
        ids = candidate_ids[start:stop]
        scores = np.einsum("qd,qcd->qc", queries[start:stop], candidates[ids])
        pos = scores[:, positive_column]
        others = np.delete(scores, positive_column, axis=1)
        if others.shape[1] == 0:
            hits += stop - start
            continue
        best_other = others.max(axis=1)
        hits += int(np.sum(pos > best_other if ties == "pessimistic" else pos >= best_other))
    return hits / len(queries)


def pairwise_accuracy(anchors: np.ndarray, positives: np.ndarray, negatives: np.ndarray) -> float:
    """Fraction of rows where the anchor is strictly closer (dot product) to its positive than to
    its negative (SugarCrepe: image vs true caption vs hard-negative caption)."""
    pos = np.einsum("nd,nd->n", anchors, positives)
    neg = np.einsum("nd,nd->n", anchors, negatives)
    return float(np.mean(pos > neg))


def cosine_rows(a: np.ndarray, b: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Cosine similarity of each row of ``a`` with the same row of ``b``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    num = np.einsum("nd,nd->n", a, b)
    den = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), eps)
    return num / den


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given the mean of the ranks they span (as scipy.stats.rankdata)."""
    order = np.argsort(values, kind="mergesort")
    sorted_vals = values[order]
    new_group = np.concatenate([[True], sorted_vals[1:] != sorted_vals[:-1]])
    group = np.cumsum(new_group) - 1
    starts = np.flatnonzero(new_group)
    ends = np.concatenate([starts[1:], [len(values)]])
    mean_rank = (starts + ends + 1) / 2.0  # mean of 1-based ranks start+1 .. end
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = mean_rank[group]
    return ranks


def spearman(x: np.ndarray | Sequence[float], y: np.ndarray | Sequence[float]) -> float:
    """Spearman rank correlation (Pearson correlation of average ranks); ``nan`` when constant."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"spearman needs two 1-D arrays of the same length, got {x.shape} and {y.shape}")
    if len(x) < 2:
        raise ValueError("spearman needs at least 2 pairs")
    rx = _average_ranks(x) - (len(x) + 1) / 2.0
    ry = _average_ranks(y) - (len(y) + 1) / 2.0
    den = np.sqrt(np.sum(rx * rx) * np.sum(ry * ry))
    return float(np.sum(rx * ry) / den) if den > 0 else float("nan")
