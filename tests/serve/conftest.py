"""Fixtures of the server tests: a tiny random LLaVA embedder and a small index built with it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def served_index(tmp_path_factory, embedder):
    """``(index_dir, image_dir)``: 4 texts, 3 images and 1 composed item, indexed with the tiny model."""
    from e5v.collection import read_collection
    from e5v.index import index_collection

    root = tmp_path_factory.mktemp("served")
    images = root / "images"
    images.mkdir()
    rows = [{"id": f"t{i}", "text": f"caption number {i} about things"} for i in range(4)]
    for i in range(3):
        rng = np.random.default_rng(i)
        Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(images / f"p{i}.png")
        rows.append({"id": f"p{i}", "image": f"images/p{i}.png", "tag": i})
    rows.append({"id": "c0", "image": "images/p0.png", "text": "make it red"})
    (root / "items.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    index_collection(read_collection(root / "items.jsonl"), root / "index", embedder, show_progress=False)
    return root / "index", images
