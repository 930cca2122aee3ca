"""Held-out ranking of triplets: does each anchor rank its positive first among all candidates?

Candidates are every held-out positive and every hard negative (``2N`` texts); the metrics are
pure functions of the similarity matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from e5v.train.data.readers import Triplet


def ranking_metrics(similarity: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """``similarity [N, M]``, ``labels [N]`` (column of each row's positive) -> R@1, R@5, MRR."""
    positive = similarity[np.arange(len(labels)), labels][:, None]  # [N, 1]
    rank = (similarity > positive).sum(axis=1) + 1  # [N], 1 = best
    return {
        "r@1": float((rank <= 1).mean()),
        "r@5": float((rank <= 5).mean()),
        "mrr": float((1.0 / rank).mean()),
        "mean_rank": float(rank.mean()),
    }


def heldout_ranking(
    embedder: Any, triplets: Sequence[Triplet], batch_size: int = 32, max_length: int | None = 32
) -> dict[str, float]:
    """Embed anchors and candidates with ``embedder`` and rank (cosine)."""
    anchors = [t.anchor for t in triplets]
    candidates = [t.positive for t in triplets] + [t.negative or t.positive for t in triplets]
    was_training = embedder.model.training
    embedder.model.eval()
    try:
        q = embedder.encode(anchors, batch_size=batch_size, show_progress=False, max_length=max_length)
        c = embedder.encode(candidates, batch_size=batch_size, show_progress=False, max_length=max_length)
    finally:
        embedder.model.train(was_training)
    return ranking_metrics(q @ c.T, np.arange(len(triplets)))
