"""Parquet shards of vectors + ids: planning, atomic writing, resuming, reading back.

An output folder holds ``part-00000.parquet``, ``part-00001.parquet``... (columns ``id`` and
``vector``, like ``e5v embed -o x.parquet``) and ``_e5v_job.json`` (model, prompt, shard size).
Shard ``k`` holds records ``k * shard_size ... (k + 1) * shard_size - 1`` of the collection; its
parquet metadata holds a fingerprint of those ids, so a re-run skips shards that are complete and
still match the collection. Files are written under a hidden temporary name and renamed, so a
killed job never leaves a half-written shard behind. ``pyarrow.parquet.read_table(folder)`` reads
the whole folder (files starting with ``.`` or ``_`` are ignored).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from e5v.collection import Record
from e5v.inputs import Interleaved

logger = logging.getLogger(__name__)

JOB_FILE = "_e5v_job.json"
_FINGERPRINT = b"e5v.ids_sha256"
_FAILED = b"e5v.failed"
_MODEL = b"e5v.model"


@dataclass(frozen=True)
class Shard:
    """A slice of the collection written to one parquet file."""

    index: int
    records: tuple[Record, ...]

    @property
    def name(self) -> str:
        return f"part-{self.index:05d}.parquet"

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for record in self.records:
            digest.update(record.id.encode())
            digest.update(b"\0")
        return digest.hexdigest()


def plan_shards(records: Sequence[Record], shard_size: int) -> list[Shard]:
    """Cut the collection, in order, into shards of ``shard_size`` records."""
    if shard_size < 1:
        raise ValueError("shard_size must be >= 1")
    return [
        Shard(k, tuple(records[s : s + shard_size])) for k, s in enumerate(range(0, len(records), shard_size))
    ]


def shard_is_done(folder: Path, shard: Shard) -> bool:
    """Whether the shard's file exists and was written for the same ids."""
    import pyarrow.parquet as pq

    path = folder / shard.name
    if not path.is_file():
        return False
    try:
        metadata = pq.read_schema(path).metadata or {}
    except Exception:  # an unreadable file is redone
        return False
    return metadata.get(_FINGERPRINT, b"").decode() == shard.fingerprint


def write_shard(
    folder: Path,
    shard: Shard,
    ids: Sequence[str],
    vectors: np.ndarray,
    model: str,
    failed: Sequence[tuple[str, str]],
) -> Path:
    """Write one shard atomically (temporary hidden file + rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    table = pa.table(
        {
            "id": pa.array(list(ids), pa.string()),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), dim),
        }
    ).replace_schema_metadata(
        {
            _MODEL: model.encode(),
            _FINGERPRINT: shard.fingerprint.encode(),
            _FAILED: json.dumps([list(f) for f in failed]).encode(),
        }
    )
    path = folder / shard.name
    tmp = folder / f".{shard.name}.{uuid.uuid4().hex}.tmp"
    pq.write_table(table, tmp)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path


def prepare_output(folder: Path, job: dict[str, Any], n_shards: int) -> None:
    """Create the folder, check or write ``_e5v_job.json``, and remove stale shards and temp files.

    Raises:
        ValueError: the folder holds vectors of another model, prompt or shard size.
    """
    folder.mkdir(parents=True, exist_ok=True)
    job_file = folder / JOB_FILE
    if job_file.is_file():
        previous = json.loads(job_file.read_text())
        if previous != job:
            raise ValueError(
                f"{folder} holds vectors of another job ({previous}); use a new output folder for {job}"
            )
    else:
        tmp = folder / f".{JOB_FILE}.tmp"
        tmp.write_text(json.dumps(job, indent=2))
        os.replace(tmp, job_file)
    for path in folder.glob(".part-*.tmp"):
        path.unlink(missing_ok=True)
    for path in folder.glob("part-*.parquet"):
        if int(path.stem.split("-")[1]) >= n_shards:
            logger.warning("removing %s: the collection has fewer shards now", path)
            path.unlink()


def read_shards(folder: str | Path) -> tuple[list[str], np.ndarray, list[tuple[str, str]]]:
    """All ids and vectors of an output folder in shard order, and the items that failed."""
    import pyarrow.parquet as pq

    ids: list[str] = []
    vectors: list[np.ndarray] = []
    failed: list[tuple[str, str]] = []
    for path in sorted(Path(folder).glob("part-*.parquet")):
        table = pq.read_table(path)
        ids += table.column("id").to_pylist()
        dim = table.schema.field("vector").type.list_size
        flat = np.asarray(table.column("vector").combine_chunks().flatten(), dtype=np.float32)
        vectors.append(flat.reshape(-1, dim))
        failed += [tuple(f) for f in json.loads((table.schema.metadata or {}).get(_FAILED, b"[]"))]
    return ids, (np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float32)), failed


def record_to_dict(record: Record) -> dict[str, Any]:
    """A JSON-able form of a record whose items are texts or image paths (sent to Ray workers)."""
    item = record.item
    if isinstance(item, Interleaved):
        image, text = item.image, item.text
    elif isinstance(item, str):
        image, text = None, item
    else:
        image, text = item, None
    if image is not None and not isinstance(image, (str, os.PathLike)):
        raise TypeError(
            f"record {record.id!r}: Ray workers read images from paths; got {type(image).__name__}"
        )
    return {
        "id": record.id,
        "image": None if image is None else str(image),
        "text": text,
        "source": record.source,
        "metadata": record.metadata,
    }


def record_from_dict(data: dict[str, Any]) -> Record:
    image = Path(data["image"]) if data.get("image") is not None else None
    text = data.get("text")
    item: Any = (
        Interleaved(image=image, text=text) if image is not None and text is not None else image or text
    )
    return Record(id=data["id"], item=item, source=data.get("source"), metadata=data.get("metadata") or {})
