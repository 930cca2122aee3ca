"""Reading rows from CSV, JSON Lines and Parquet files, with errors that name file and row.

Every reader validates every row before training starts. A bad row raises :class:`DataError`
(file, row, reason) unless ``on_error="skip"``, in which case it is dropped and counted in the
returned :class:`Report`.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from e5v.errors import E5VError

logger = logging.getLogger(__name__)

T = TypeVar("T")

ON_ERROR = ("raise", "skip")


class DataError(E5VError, ValueError):
    """A training data row is unusable.

    Attributes:
        path: the file. row: 1-based data row (header not counted). reason: what is wrong.
    """

    def __init__(self, path: str | Path, row: int, reason: str) -> None:
        self.path, self.row, self.reason = str(path), row, reason
        super().__init__(f"{path}, row {row}: {reason}")


class RowError(ValueError):
    """Raised by a row parser; turned into :class:`DataError` with file and row."""


@dataclass
class Report:
    """What a reader kept and dropped."""

    path: str
    kept: int = 0
    skipped: int = 0
    examples: list[str] = field(default_factory=list)  # first few skipped rows' reasons

    def add_skip(self, error: DataError) -> None:
        self.skipped += 1
        if len(self.examples) < 5:
            self.examples.append(str(error))


@dataclass
class Dataset(Generic[T]):
    """Parsed records plus the reading report."""

    records: list[T]
    report: Report
    extras: dict[str, Any] = field(default_factory=dict)  # side data (e.g. teacher embeddings)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> T:
        return self.records[index]


def iter_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield ``(row number, row dict or None, parse error or None)`` for a data file."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ",")
            for number, row in enumerate(reader, start=1):
                if None in row:  # more cells than the header has columns
                    yield number, None, f"{len(row) - 1 + len(row[None])} cells for {len(row) - 1} columns"
                else:
                    yield number, dict(row), None
    elif suffix in (".jsonl", ".json"):
        with path.open(encoding="utf-8") as handle:
            number = 0
            for line in handle:
                if not line.strip():
                    continue
                number += 1
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, None, f"invalid JSON ({exc.msg})"
                    continue
                if not isinstance(value, dict):
                    yield number, None, f"expected a JSON object, got {type(value).__name__}"
                else:
                    yield number, value, None
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        for number, row in enumerate(pq.read_table(path).to_pylist(), start=1):
            yield number, row, None
    else:
        raise DataError(path, 0, f"unsupported file type {suffix!r}; use .csv, .tsv, .jsonl or .parquet")


def read_records(
    path: str | Path, parse: Callable[[dict[str, Any]], T], on_error: str = "raise"
) -> Dataset[T]:
    """Parse every row of ``path`` with ``parse`` (which raises :class:`RowError`)."""
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training data file not found: {path}")
    report = Report(str(path))
    records: list[T] = []
    for number, row, problem in iter_rows(path):
        error = None
        if problem is not None:
            error = DataError(path, number, problem)
        else:
            try:
                records.append(parse(row))  # type: ignore[arg-type]
            except RowError as exc:
                error = DataError(path, number, str(exc))
        if error is not None:
            if on_error == "raise":
                raise error
            report.add_skip(error)
    report.kept = len(records)
    if report.skipped:
        logger.warning(
            "%s: skipped %d bad rows (kept %d); first: %s",
            path,
            report.skipped,
            report.kept,
            report.examples[0],
        )
    if not records:
        raise DataError(path, 0, "no usable rows")
    return Dataset(records, report)


def text_field(row: dict[str, Any], column: str, required: bool = True) -> str | None:
    """A non-empty string cell; raises :class:`RowError` naming the column."""
    if column not in row:
        if required:
            raise RowError(f"missing column {column!r} (columns: {', '.join(map(str, row))})")
        return None
    value = row[column]
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(f"empty {column!r}")
        return None
    if not isinstance(value, str):
        raise RowError(f"{column!r} must be text, got {type(value).__name__}")
    return value
