"""Helpers of the index tests: small collections on disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path: Path, seed: int, size: tuple[int, int] = (24, 20)) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def make_folder(root: Path, n_images: int = 6, n_texts: int = 3, bad: bool = True) -> Path:
    """A folder of PNGs (one in a subfolder), .txt texts and, with ``bad``, two unreadable files."""
    for i in range(n_images):
        write_image(root / ("sub" if i == 0 else "") / f"img{i:03d}.png", seed=i)
    for i in range(n_texts):
        (root / f"text{i}.txt").write_text(f"a short text number {i}")
    if bad:
        (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
        (root / "empty.jpg").write_bytes(b"")
    (root / "notes.md").write_text("ignored")
    (root / ".hidden.png").write_bytes(b"ignored")
    return root


def make_manifest(root: Path) -> Path:
    write_image(root / "a.png", 1)
    write_image(root / "b.png", 2)
    rows = [
        {"id": "q1", "image": "a.png", "text": "make it blue", "split": "val"},
        {"id": "t1", "text": "a photo of a dog"},
        {"id": "i1", "image": str((root / "b.png").resolve()), "metadata": {"label": 3}},
    ]
    manifest = root / "items.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    return manifest
