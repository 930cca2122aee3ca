"""In-memory forms of the benchmarks, shared by loaders and evaluators, and loading helpers.

A loader turns a dataset's published files into one of these dataclasses; an evaluator turns
one into metrics. Images are kept as paths (or PIL images when they come from the hub) and are
decoded only when encoded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from e5v.errors import E5VError

ImageRef = Path | Image.Image

__all__ = [
    "CIRRData",
    "DataError",
    "FashionIQData",
    "FashionIQSplit",
    "ImageRef",
    "ImageTextData",
    "MMEBData",
    "MMEBDataset",
    "STSData",
    "SugarCrepeData",
    "read_json",
    "require_dir",
    "require_file",
]


class DataError(E5VError, ValueError):
    """A dataset is missing or malformed; the message says what was expected where."""


def require_file(path: Path, what: str, layout: str = "") -> Path:
    if not path.is_file():
        hint = f"\nexpected layout:\n{layout}" if layout else ""
        raise DataError(f"{what}: file not found: {path}{hint}")
    return path


def require_dir(path: Path, what: str, layout: str = "") -> Path:
    if not path.is_dir():
        hint = f"\nexpected layout:\n{layout}" if layout else ""
        raise DataError(f"{what}: directory not found: {path}{hint}")
    return path


def read_json(path: Path, what: str, layout: str = "") -> Any:
    require_file(path, what, layout)
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise DataError(f"{what}: {path} is not valid JSON ({exc})") from exc


def field_of(record: Any, key: str, where: str) -> Any:
    """``record[key]``, or a DataError naming the file/record and the missing field."""
    if not isinstance(record, dict) or key not in record:
        got = sorted(record)[:8] if isinstance(record, dict) else type(record).__name__
        raise DataError(f"{where}: missing field {key!r} (got {got})")
    return record[key]


@dataclass
class ImageTextData:
    """Images, captions, and which image each caption describes (Flickr30K, COCO, long captions)."""

    images: list[ImageRef]
    captions: list[str]
    text_to_image: np.ndarray

    def __post_init__(self) -> None:
        self.text_to_image = np.asarray(self.text_to_image, dtype=np.int64)
        if len(self.text_to_image) != len(self.captions):
            raise DataError("text_to_image must have one entry per caption")


@dataclass
class CIRRData:
    """CIRR queries over a gallery. ``targets`` is ``None`` for the test split (hidden labels)."""

    split: str
    gallery_ids: list[str]
    gallery: list[ImageRef]
    pair_ids: list[int]
    references: np.ndarray  # [n_q] gallery index of the reference image
    captions: list[str]
    targets: np.ndarray | None  # [n_q] gallery index of the target image
    subsets: list[list[int]]  # [n_q] gallery indices of the img_set members


@dataclass
class FashionIQSplit:
    category: str
    gallery_ids: list[str]
    gallery: list[ImageRef]
    references: list[ImageRef]  # [n_q] the candidate (reference) image of each query
    captions: list[tuple[str, str]]  # the two relative captions of each query
    targets: np.ndarray  # [n_q] gallery index of the target


@dataclass
class FashionIQData:
    splits: dict[str, FashionIQSplit]


@dataclass
class STSData:
    """Sentence pairs with gold scores, per subset (STS12-16 have several; STS-B and SICK-R one)."""

    name: str
    subsets: dict[str, tuple[list[str], list[str], np.ndarray]]


@dataclass
class MMEBDataset:
    name: str
    meta_task: str
    queries: list[Any]  # encode items: str, image ref, or Interleaved
    candidates: list[Any]  # distinct candidate items
    candidate_ids: np.ndarray  # [n_q, n_cand] index into candidates; column 0 is the positive


@dataclass
class MMEBData:
    datasets: list[MMEBDataset] = field(default_factory=list)


@dataclass
class SugarCrepeData:
    """Per subset: images, their true captions and their hard-negative captions."""

    subsets: dict[str, tuple[list[ImageRef], list[str], list[str]]]
