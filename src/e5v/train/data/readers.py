"""Readers of the training data layouts of each recipe.

* sentence triplets (E5-V): SimCSE's NLI CSV ``sent0, sent1, hard_neg`` (``hard_neg`` optional),
  or JSON Lines with the same keys;
* image-caption pairs (multimodal baseline): ``image, caption`` (CSV / JSON Lines / Parquet),
  image paths relative to the data file's folder (or ``image_root``);
* instruction pairs (UniME stage 2, MMEB-train / VLM2Vec layout): ``qry``, ``qry_image_path``,
  ``pos_text``, ``pos_image_path`` and optional ``neg_text``, ``neg_image_path``; an image slot
  marker such as ``<|image_1|>`` in the text is removed (the image goes where the prompt's
  ``<image>`` is);
* sentences (UniME stage 1 teacher input): a ``.txt`` file (one sentence a line) or any triplet
  file (its distinct sentences).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from e5v.train.data.records import DataError, Dataset, Report, RowError, read_records, text_field

#: Image slot markers of MMEB / VLM2Vec / Phi-3-V texts.
IMAGE_MARKER = re.compile(r"<\|image_\d+\|>|<image>")


@dataclass(frozen=True)
class Triplet:
    """A sentence, its positive and (optionally) its hard negative."""

    anchor: str
    positive: str
    negative: str | None = None


@dataclass(frozen=True)
class Side:
    """One side of an instruction pair: a text (instruction included), an image path, or both."""

    text: str | None = None
    image: Path | None = None


@dataclass(frozen=True)
class ImageCaption:
    image: Path
    caption: str


@dataclass(frozen=True)
class InstructionPair:
    query: Side
    positive: Side
    negative: Side | None = None


def read_triplets(path: str | Path, on_error: str = "raise") -> Dataset[Triplet]:
    """Read ``sent0, sent1[, hard_neg]`` rows. A file with a ``hard_neg`` column must fill it."""

    def parse(row: dict[str, Any]) -> Triplet:
        anchor = text_field(row, "sent0")
        positive = text_field(row, "sent1")
        negative = text_field(row, "hard_neg", required="hard_neg" in row)
        return Triplet(anchor, positive, negative)  # type: ignore[arg-type]

    data = read_records(path, parse, on_error)
    with_neg = sum(r.negative is not None for r in data.records)
    if 0 < with_neg < len(data):
        raise DataError(path, 0, f"{with_neg} of {len(data)} rows have a hard_neg: all rows or none must")
    return data


def check_image(path: Path) -> None:
    """Cheap check of an image reference (exists, non-empty, recognised header); raises RowError."""
    if not path.is_file():
        raise RowError(f"image not found: {path}")
    if path.stat().st_size == 0:
        raise RowError(f"empty image file: {path}")
    try:
        with Image.open(path) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise RowError(f"not a readable image: {path} ({exc})") from exc


def _image_path(
    row: dict[str, Any], column: str, root: Path, verify: bool, required: bool = True
) -> Path | None:
    value = text_field(row, column, required=required)
    if value is None:
        return None
    path = Path(value.strip())
    path = path if path.is_absolute() else root / path
    if verify:
        check_image(path)
    return path


def read_image_captions(
    path: str | Path,
    image_root: str | Path | None = None,
    on_error: str = "raise",
    verify_images: bool = True,
) -> Dataset[ImageCaption]:
    """Read ``image, caption`` rows; every image reference is checked up front."""
    root = Path(image_root) if image_root else Path(path).parent

    def parse(row: dict[str, Any]) -> ImageCaption:
        caption = text_field(row, "caption")
        return ImageCaption(_image_path(row, "image", root, verify_images), caption)  # type: ignore[arg-type]

    return read_records(path, parse, on_error)


def _side(
    row: dict[str, Any], text_col: str, image_col: str, root: Path, verify: bool, required: bool
) -> Side | None:
    raw = text_field(row, text_col, required=False)
    text = IMAGE_MARKER.sub("", raw).strip() if raw else None
    image = _image_path(row, image_col, root, verify, required=False)
    if text is None and image is None:
        if required:
            raise RowError(f"empty {text_col!r} and {image_col!r}: the side has neither text nor image")
        return None
    return Side(text or None, image)


def read_instruction_pairs(
    path: str | Path,
    image_root: str | Path | None = None,
    on_error: str = "raise",
    verify_images: bool = True,
) -> Dataset[InstructionPair]:
    """Read MMEB-train / VLM2Vec rows (query and positive each with text and/or image)."""
    root = Path(image_root) if image_root else Path(path).parent

    def parse(row: dict[str, Any]) -> InstructionPair:
        if "qry" not in row and "qry_image_path" not in row:
            raise RowError(f"missing column 'qry' (columns: {', '.join(map(str, row))})")
        query = _side(row, "qry", "qry_image_path", root, verify_images, required=True)
        positive = _side(row, "pos_text", "pos_image_path", root, verify_images, required=True)
        negative = _side(row, "neg_text", "neg_image_path", root, verify_images, required=False)
        return InstructionPair(query, positive, negative)  # type: ignore[arg-type]

    return read_records(path, parse, on_error)


def read_sentences(path: str | Path, on_error: str = "raise") -> Dataset[str]:
    """Distinct sentences of a ``.txt`` file (one a line) or of a triplet file, in first-seen order."""
    path = Path(path)
    if path.suffix.lower() == ".txt":
        if not path.is_file():
            raise FileNotFoundError(f"training data file not found: {path}")
        report = Report(str(path))
        sentences = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                sentences.append(line.strip())
            elif on_error == "raise":
                raise DataError(path, number, "empty line")
            else:
                report.add_skip(DataError(path, number, "empty line"))
    else:
        triplets = read_triplets(path, on_error)
        report = triplets.report
        sentences = [s for t in triplets.records for s in (t.anchor, t.positive, t.negative) if s]
    unique = list(dict.fromkeys(sentences))
    report.kept = len(unique)
    if not unique:
        raise DataError(path, 0, "no usable rows")
    return Dataset(unique, report)
