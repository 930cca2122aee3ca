"""Fixtures: tiny random models saved to disk once per session, and tiny data files."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory):
    """Directories of tiny random models (family -> path), built lazily."""
    from e5v.testing import tiny_model

    root = tmp_path_factory.mktemp("tiny_models")
    cache: dict[str, str] = {}

    def get(family: str) -> str:
        if family not in cache:
            model, processor = tiny_model(family)
            path = root / family
            model.save_pretrained(path)
            processor.save_pretrained(path)
            cache[family] = str(path)
        return cache[family]

    return get


WORDS = ["dog", "cat", "car", "tree", "house", "river", "bird", "fish", "book", "lamp", "road", "ship"]


@pytest.fixture
def triplet_file(tmp_path):
    rng = random.Random(0)
    rows = ["sent0,sent1,hard_neg"]
    for _ in range(16):
        a, b = rng.sample(WORDS, 2)
        rows.append(f"a {a} near the {b},the {b} with a {a},a {b} near the {a}")
    path = tmp_path / "nli.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


COLOURS = {
    "red": (255, 0, 0),
    "green": (0, 160, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "purple": (128, 0, 128),
    "orange": (255, 140, 0),
}


@pytest.fixture
def image_dir(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for name, rgb in COLOURS.items():
        image = Image.new("RGB", (32, 32), rgb)
        image.paste(Image.new("RGB", (12, 12), tuple(255 - c for c in rgb)), (4 + len(name), 6))
        image.save(folder / f"{name}.png")
    return folder


#: The shipped recipe configs (tests may run from any working directory).
CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"
