"""Fixtures of the scale tests: a tiny LLaVA saved to disk (loadable by name in Ray actors)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory, tiny):
    from e5v import Embedder

    path = tmp_path_factory.mktemp("tiny-llava")
    Embedder(*tiny("llava")).save_pretrained(path)
    return path


@pytest.fixture
def collection(tmp_path):
    """A manifest of 26 texts, 6 images, 2 composed items and one broken image."""
    from e5v.collection import read_collection

    rows = [{"id": f"t{i:02d}", "text": f"text number {i} " + "word " * (i % 4)} for i in range(26)]
    for i in range(6):
        rng = np.random.default_rng(i)
        Image.fromarray(rng.integers(0, 256, (18, 22, 3), dtype=np.uint8)).save(tmp_path / f"p{i}.png")
        rows.append({"id": f"p{i}", "image": f"p{i}.png"})
    rows += [
        {"id": "c0", "image": "p0.png", "text": "make it red"},
        {"id": "c1", "image": "p1.png", "text": "zoom"},
    ]
    (tmp_path / "broken.png").write_bytes(b"nope")
    rows.append({"id": "bad", "image": "broken.png"})
    (tmp_path / "items.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return read_collection(tmp_path / "items.jsonl")
