"""Modality-gap measures against naive loops; the PCA plot is a real PNG."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from e5v.evaluation.gap import modality_gap, pca_2d, plot_modality_gap


def test_gap_vs_naive_loops():
    rng = np.random.default_rng(1)
    img = rng.normal(size=(6, 5))
    txt = rng.normal(size=(18, 5))
    owner = np.repeat(np.arange(6), 3)
    got = modality_gap(img, txt, owner)
    n_img = img / np.linalg.norm(img, axis=1, keepdims=True)
    n_txt = txt / np.linalg.norm(txt, axis=1, keepdims=True)
    matched, unmatched = [], []
    for t in range(18):
        for i in range(6):
            (matched if owner[t] == i else unmatched).append(n_txt[t] @ n_img[i])
    assert got["mean_cos_matched"] == pytest.approx(np.mean(matched))
    assert got["mean_cos_unmatched"] == pytest.approx(np.mean(unmatched))
    assert got["centroid_distance"] == pytest.approx(np.linalg.norm(n_img.mean(0) - n_txt.mean(0)))


def test_gap_hand_made():
    # images all along e1, texts all along e2: centroids sqrt(2) apart, every cosine 0
    img = np.tile([1.0, 0.0], (3, 1))
    txt = np.tile([0.0, 2.0], (3, 1))
    got = modality_gap(img, txt, [0, 1, 2])
    assert got["centroid_distance"] == pytest.approx(np.sqrt(2))
    assert got["mean_cos_matched"] == pytest.approx(0.0)
    # identical modalities: no gap
    got = modality_gap(img, img, [0, 1, 2])
    assert got["centroid_distance"] == pytest.approx(0.0)


def test_pca_2d_matches_covariance_eigenvectors():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 4)) * np.array([5.0, 2.0, 0.5, 0.1])
    p = pca_2d(x)
    assert p.shape == (50, 2)
    var = p.var(axis=0)
    eig = np.sort(np.linalg.eigvalsh(np.cov(x.T, bias=True)))[::-1]
    np.testing.assert_allclose(var, eig[:2], rtol=1e-8)


def test_plot_writes_png(tmp_path):
    rng = np.random.default_rng(3)
    path = plot_modality_gap(
        rng.normal(size=(20, 8)), rng.normal(size=(40, 8)) + 3, tmp_path / "gap" / "g.png", title="t"
    )
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == (500, 500)
