"""Embedding whole collections: chunked encoding with bad-item skipping, and vector files."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from e5v.collection import Record, read_collection
from e5v.embedder import Embedder
from e5v.errors import InvalidInputError

logger = logging.getLogger(__name__)


def load_records(path: Path, kind: str = "auto") -> list[Record]:
    """Read a collection; with ``kind="image"`` a .txt file lists one image path per line."""
    records = read_collection(path)
    if kind == "image":
        base = Path(path).parent
        return [
            Record(id=r.id, item=_as_path(r.item, base), source=r.source, metadata=r.metadata)
            if isinstance(r.item, str)
            else r
            for r in records
        ]
    if kind != "auto":
        raise ValueError(f"kind must be 'auto' or 'image', got {kind!r}")
    return records


def _as_path(text: str, base: Path) -> Path:
    path = Path(text.strip())
    return path if path.is_absolute() else base / path


def embed_records(
    embedder: Embedder,
    records: Sequence[Record],
    prompt: str | None = None,
    batch_size: int = 16,
    chunk_size: int = 1024,
    max_length: int | None = None,
    skip_bad: bool = False,
    max_batch_tokens: int | None = None,
) -> tuple[list[str], np.ndarray, list[tuple[str, str]]]:
    """Embed records chunk by chunk (bounded memory).

    With ``skip_bad`` an item that fails validation is dropped and reported as
    ``(id, reason)``; validation happens before model work, so a retry wastes nothing.

    Returns:
        ``(ids, vectors [n, d] float32, skipped)`` in collection order.
    """
    ids: list[str] = []
    chunks: list[np.ndarray] = []
    skipped: list[tuple[str, str]] = []
    with tqdm(total=len(records), desc="embedding", unit="item") as bar:
        for start in range(0, len(records), chunk_size):
            chunk = list(records[start : start + chunk_size])
            while chunk:
                try:
                    vectors = embedder.encode(
                        [r.item for r in chunk],
                        prompt=prompt,
                        batch_size=batch_size,
                        show_progress=False,
                        max_length=max_length,
                        max_batch_tokens=max_batch_tokens,
                    )
                except InvalidInputError as exc:
                    bad = chunk[exc.index]
                    if not skip_bad:
                        raise InvalidInputError(start + exc.index, f"{bad.id}: {exc.reason}") from exc
                    skipped.append((bad.id, exc.reason))
                    del chunk[exc.index]
                    bar.update(1)
                    continue
                ids += [r.id for r in chunk]
                chunks.append(vectors)
                bar.update(len(chunk))
                break
    dim = embedder.dim
    return ids, (np.concatenate(chunks) if chunks else np.zeros((0, dim), np.float32)), skipped


def write_vectors(output: Path, ids: Sequence[str], vectors: np.ndarray, model: str) -> list[Path]:
    """Write ``.npy`` (+ ``.ids.json``) or ``.parquet`` (columns ``id``, ``vector``); returns the files."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix == ".npy":
        np.save(output, vectors)
        ids_file = output.with_suffix(".ids.json")
        ids_file.write_text(json.dumps({"model": model, "ids": list(ids)}, ensure_ascii=False))
        return [output, ids_file]
    if output.suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise ImportError("writing parquet needs pyarrow: pip install 'e5v[parquet]'") from exc
        table = pa.table(
            {
                "id": pa.array(list(ids), pa.string()),
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(vectors.reshape(-1), pa.float32()), vectors.shape[1]
                ),
            }
        ).replace_schema_metadata({"e5v.model": model})
        pq.write_table(table, output)
        return [output]
    raise ValueError(f"unknown output format {output.suffix!r}: use .npy or .parquet")
