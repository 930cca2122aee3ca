"""Embedding cache: one ``.npy`` per (model, prompt, dataset, part, items) under a directory.

The key is a SHA-256 of those fields; the items enter through a fingerprint (texts verbatim,
image files by path, size and modification time, in-memory images by their pixels), so editing a
dataset invalidates its entries. The model enters by *name* only: after changing weights under
the same name, clear the cache (or use another directory).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

__all__ = ["EmbeddingCache", "default_cache_dir", "fingerprint_items", "prompt_key"]


def default_cache_dir() -> Path:
    """``$E5V_EVAL_CACHE`` or ``~/.cache/e5v/eval-embeddings``."""
    env = os.environ.get("E5V_EVAL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "e5v" / "eval-embeddings"


def prompt_key(prompt: Any) -> str:
    """A stable text for a prompt argument (a name, a template, a PromptSet, a mapping or None)."""
    if prompt is None or isinstance(prompt, str):
        return json.dumps(prompt)
    if is_dataclass(prompt):
        return json.dumps({f.name: getattr(prompt, f.name) for f in fields(prompt)}, sort_keys=True)
    if isinstance(prompt, dict):
        return json.dumps(prompt, sort_keys=True)
    return repr(prompt)


def _update(h: Any, item: Any) -> None:
    if isinstance(item, str):
        h.update(b"s" + item.encode("utf-8") + b"\0")
    elif isinstance(item, os.PathLike):
        path = Path(item)
        stat = path.stat() if path.exists() else None
        meta = f"{path.resolve()}|{stat.st_size if stat else -1}|{stat.st_mtime_ns if stat else -1}"
        h.update(b"p" + meta.encode("utf-8") + b"\0")
    elif isinstance(item, (bytes, bytearray)):
        h.update(b"b" + hashlib.sha256(item).digest())
    elif isinstance(item, Image.Image):
        h.update(f"i{item.mode}{item.size}".encode() + hashlib.sha256(item.tobytes()).digest())
    elif is_dataclass(item):  # e5v.Interleaved(image, text)
        h.update(b"d" + type(item).__name__.encode())
        for f in fields(item):
            _update(h, getattr(item, f.name))
    else:
        h.update(b"r" + repr(item).encode("utf-8") + b"\0")


def fingerprint_items(items: Sequence[Any]) -> str:
    """SHA-256 over the items' identities (see the module docstring)."""
    h = hashlib.sha256()
    h.update(str(len(items)).encode())
    for item in items:
        _update(h, item)
    return h.hexdigest()


class EmbeddingCache:
    """A directory of ``<key>.npy`` files with a ``<key>.json`` note of what each one holds."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def key(self, **fields: Any) -> str:
        return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:32]

    def path(self, key: str) -> Path:
        return self.root / f"{key}.npy"

    def load(self, key: str, n_items: int) -> np.ndarray | None:
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            emb = np.load(path)
        except (OSError, ValueError) as exc:
            logger.warning("ignoring unreadable cache entry %s: %s", path, exc)
            return None
        if emb.ndim != 2 or len(emb) != n_items:
            logger.warning("ignoring cache entry %s of shape %s (expected %d rows)", path, emb.shape, n_items)
            return None
        return emb

    def save(self, key: str, emb: np.ndarray, note: dict[str, Any] | None = None) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path(key)
        # write-then-rename so that a concurrent or interrupted run never leaves a torn file
        with tempfile.NamedTemporaryFile(dir=self.root, suffix=".npy.tmp", delete=False) as tmp:
            np.save(tmp, emb)
        os.replace(tmp.name, path)
        if note:
            path.with_suffix(".json").write_text(json.dumps(note, indent=1, default=str))
        return path
