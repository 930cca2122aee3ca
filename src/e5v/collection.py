"""Read a collection to embed: a folder, a manifest or a text file, as ``(id, item, metadata)`` records.

Layouts (see ``docs/search.md``):

* **a folder**: every image file below it (``.jpg .jpeg .png .webp .gif .bmp .tif .tiff``) is an image
  item and every ``.txt`` file a text item (its whole content); the id is the path relative to the
  folder (POSIX separators), so ids are unique and stable.
* **a JSONL manifest** (``.jsonl``): one JSON object per line with an optional ``id``, an optional
  ``image`` (a path, relative to the manifest's folder unless absolute), an optional ``text`` and
  either a ``metadata`` object or any other fields (which become the metadata). ``image`` + ``text``
  is an interleaved (composed) item. Without ``id`` the line number (from 0) is used.
* **a CSV manifest** (``.csv``): the same columns as the JSONL manifest, with a header row.
* **a text file** (``.txt``): one text per non-empty line; the id is the line number (from 0).

Reading never opens an image: items hold paths, so a broken file fails when it is embedded and is
reported then (see :func:`e5v.index.index_collection`). Malformed manifests (bad JSON, a line with
neither ``image`` nor ``text``, duplicate ids) raise :class:`CollectionError` with the line number.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e5v.errors import E5VError
from e5v.inputs import Interleaved, Kind

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
TEXT_EXTENSIONS = frozenset({".txt"})
_RESERVED = ("id", "image", "text", "metadata")


class CollectionError(E5VError, ValueError):
    """A collection cannot be read (unknown layout, malformed manifest line, duplicate id)."""


@dataclass(frozen=True)
class Record:
    """One item of a collection.

    Attributes:
        id: unique, stable identifier (the key of the vector store).
        item: what ``Embedder.encode`` takes: ``str`` (text), ``pathlib.Path`` (image) or
            :class:`~e5v.inputs.Interleaved` (image path + text).
        source: where the item comes from (image path, text file path, or ``manifest:line``).
        metadata: free JSON-serialisable fields kept next to the vector.
    """

    id: str
    item: Any
    source: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> Kind:
        """The item's modality."""
        if isinstance(self.item, Interleaved):
            return Kind.INTERLEAVED
        if isinstance(self.item, str):
            return Kind.TEXT
        return Kind.IMAGE

    @property
    def text(self) -> str | None:
        """The item's text (text and interleaved items), else ``None``."""
        if isinstance(self.item, Interleaved):
            return self.item.text
        return self.item if isinstance(self.item, str) else None

    @property
    def image_path(self) -> str | None:
        """The item's image path (image and interleaved items), else ``None``."""
        image = self.item.image if isinstance(self.item, Interleaved) else self.item
        return str(image) if isinstance(image, Path) else None


def read_collection(path: str | Path) -> list[Record]:
    """Read every record of a folder, ``.jsonl``/``.csv`` manifest or ``.txt`` file (sorted for folders).

    Raises:
        CollectionError: the path does not exist, has an unknown layout, or is malformed.
    """
    path = Path(path)
    if path.is_dir():
        records = list(_read_folder(path))
    elif not path.is_file():
        raise CollectionError(f"collection not found: {path}")
    elif path.suffix.lower() == ".jsonl":
        records = list(_read_jsonl(path))
    elif path.suffix.lower() == ".csv":
        records = list(_read_csv(path))
    elif path.suffix.lower() == ".txt":
        records = list(_read_lines(path))
    else:
        raise CollectionError(
            f"unknown collection layout {path.suffix!r}: expected a folder, .jsonl, .csv or .txt"
        )
    check_unique_ids(records)
    return records


def check_unique_ids(records: Sequence[Record]) -> None:
    """Raise :class:`CollectionError` naming the duplicated ids, if any."""
    seen: set[str] = set()
    duplicates: list[str] = []
    for record in records:
        if record.id in seen:
            duplicates.append(record.id)
        seen.add(record.id)
    if duplicates:
        raise CollectionError(f"{len(duplicates)} duplicate ids in the collection, e.g. {duplicates[:5]}")


def _read_folder(root: Path) -> Iterator[Record]:
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        suffix = file.suffix.lower()
        rel = file.relative_to(root).as_posix()
        if rel.startswith(".") or "/." in rel:
            continue  # hidden files and folders (.git, .DS_Store, our own .e5v state)
        if suffix in IMAGE_EXTENSIONS:
            yield Record(id=rel, item=file, source=str(file))
        elif suffix in TEXT_EXTENSIONS:
            try:
                text = file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                text = ""  # reported as unreadable when embedded
            yield Record(id=rel, item=text, source=str(file))


def _read_jsonl(path: Path) -> Iterator[Record]:
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CollectionError(f"{path}:{line_no + 1}: invalid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise CollectionError(f"{path}:{line_no + 1}: expected a JSON object")
            yield record_from_row(
                row, base=path.parent, default_id=str(line_no), where=f"{path}:{line_no + 1}"
            )


def _read_csv(path: Path) -> Iterator[Record]:
    with path.open(encoding="utf-8", newline="") as handle:
        for row_no, row in enumerate(csv.DictReader(handle)):
            clean = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
            if isinstance(clean.get("metadata"), str):
                try:
                    clean["metadata"] = json.loads(clean["metadata"])
                except json.JSONDecodeError as exc:
                    raise CollectionError(f"{path}:{row_no + 2}: metadata is not JSON") from exc
            yield record_from_row(
                clean, base=path.parent, default_id=str(row_no), where=f"{path}:{row_no + 2}"
            )


def _read_lines(path: Path) -> Iterator[Record]:
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle):
            text = line.rstrip("\n")
            if text.strip():
                yield Record(id=str(line_no), item=text, source=f"{path}:{line_no + 1}")


def record_from_row(row: dict[str, Any], base: Path, default_id: str, where: str) -> Record:
    """Build a :class:`Record` from one manifest row (``id``, ``image``, ``text``, metadata fields)."""
    record_id = str(row.get("id", default_id))
    image, text = row.get("image"), row.get("text")
    if image is None and text is None:
        raise CollectionError(f"{where}: a row needs an 'image' or a 'text' field")
    if text is not None and not isinstance(text, str):
        raise CollectionError(f"{where}: 'text' must be a string")
    if image is not None and not isinstance(image, str):
        raise CollectionError(f"{where}: 'image' must be a path string")
    metadata = row.get("metadata")
    if metadata is None:
        metadata = {k: v for k, v in row.items() if k not in _RESERVED}
    elif not isinstance(metadata, dict):
        raise CollectionError(f"{where}: 'metadata' must be an object")
    if image is not None:
        image_path = Path(image) if Path(image).is_absolute() else base / image
        item: Any = Interleaved(image=image_path, text=text) if text is not None else image_path
        source = str(image_path)
    else:
        item, source = text, where
    return Record(id=record_id, item=item, source=source, metadata=metadata)
