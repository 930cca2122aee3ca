"""Reading datasets from the Hugging Face hub through ``datasets`` (optional dependency)."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from e5v.evaluation.data import DataError


def load_hub(repo_id: str, split: str, name: str | None = None) -> Any:
    """``datasets.load_dataset(repo_id, name, split=split)`` with errors that say what failed."""
    try:
        import datasets
    except ImportError as exc:
        raise DataError("reading from the hub needs the `datasets` package: pip install 'e5v[eval]'") from exc
    try:
        return datasets.load_dataset(repo_id, name, split=split)
    except Exception as exc:  # network, missing repo, bad config: all reported the same way
        raise DataError(
            f"could not load {repo_id!r} (config {name!r}, split {split!r}) with datasets: {exc}"
        ) from exc


def require_columns(dataset: Any, columns: tuple[str, ...], repo_id: str) -> None:
    missing = [c for c in columns if c not in dataset.column_names]
    if missing:
        raise DataError(f"{repo_id}: missing columns {missing} (has {dataset.column_names})")


def as_image(value: Any, where: str) -> Image.Image:
    """A hub image cell (PIL image, or ``{"bytes": ...}``) as a PIL image."""
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, dict) and value.get("bytes"):
        return Image.open(io.BytesIO(value["bytes"]))
    raise DataError(f"{where}: not an image cell ({type(value).__name__})")
