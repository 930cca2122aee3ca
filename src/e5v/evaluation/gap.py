"""Modality gap between image and text embeddings: numbers and a 2-D picture.

The numbers follow the usual definitions (Liang et al., 2022, "Mind the Gap"):

* ``centroid_distance``: Euclidean distance between the mean of the L2-normalised image
  embeddings and the mean of the L2-normalised text embeddings (0 = no gap);
* ``mean_cos_matched``: mean cosine of matched (image, caption) pairs;
* ``mean_cos_unmatched``: mean cosine over all other (image, caption) pairs;
* ``matched_minus_unmatched``: their difference (how much a match stands out).

A model with a modality gap shows a large centroid distance, and its two clouds separate in the
PCA plot; E5-V's one-word prompt is claimed to remove it (paper appendix B).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["modality_gap", "pca_2d", "plot_modality_gap"]


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def modality_gap(
    image_emb: np.ndarray, text_emb: np.ndarray, text_to_image: np.ndarray | Sequence[int]
) -> dict[str, float]:
    """Gap measures for images ``[n_i, d]`` and texts ``[n_t, d]``; ``text_to_image[t]`` = image of text t.

    All pairs are used for the unmatched mean without forming the [n_t, n_i] matrix: the sum of
    all cosines is ``sum(images) . sum(texts)`` for normalised vectors.
    """
    img = _normalise(image_emb)
    txt = _normalise(text_emb)
    text_to_image = np.asarray(text_to_image, dtype=np.int64)
    if len(text_to_image) != len(txt):
        raise ValueError(f"text_to_image has {len(text_to_image)} entries for {len(txt)} texts")
    matched = np.einsum("td,td->t", txt, img[text_to_image])
    total = float(img.sum(axis=0) @ txt.sum(axis=0))
    n_pairs = len(img) * len(txt)
    n_unmatched = n_pairs - len(txt)
    mean_unmatched = (total - matched.sum()) / n_unmatched if n_unmatched > 0 else float("nan")
    centroid_distance = float(np.linalg.norm(img.mean(axis=0) - txt.mean(axis=0)))
    mean_matched = float(matched.mean())
    return {
        "centroid_distance": centroid_distance,
        "mean_cos_matched": mean_matched,
        "mean_cos_unmatched": float(mean_unmatched),
        "matched_minus_unmatched": float(mean_matched - mean_unmatched),
    }


def pca_2d(x: np.ndarray) -> np.ndarray:
    """Project rows of ``x`` on their first two principal components (SVD of the centred data)."""
    x = np.asarray(x, dtype=np.float64)
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def plot_modality_gap(
    image_emb: np.ndarray,
    text_emb: np.ndarray,
    path: str | Path,
    *,
    title: str = "",
    max_points: int = 2000,
    seed: int = 0,
) -> Path:
    """Save a PNG scatter of image vs text embeddings on the first two principal components.

    Both modalities are normalised and projected together (one PCA), so a gap shows as two
    separate clouds. At most ``max_points`` points per modality are drawn (a fixed random sample).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    img = _normalise(image_emb)
    txt = _normalise(text_emb)
    if len(img) > max_points:
        img = img[np.sort(rng.choice(len(img), max_points, replace=False))]
    if len(txt) > max_points:
        txt = txt[np.sort(rng.choice(len(txt), max_points, replace=False))]
    points = pca_2d(np.concatenate([img, txt]))
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.scatter(points[: len(img), 0], points[: len(img), 1], s=6, alpha=0.6, label="image", c="tab:blue")
    ax.scatter(points[len(img) :, 0], points[len(img) :, 1], s=6, alpha=0.6, label="text", c="tab:orange")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend(loc="best")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
