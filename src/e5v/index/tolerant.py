"""Embed records while skipping unreadable ones: decode ahead of the model, isolate refused items.

Shared by the indexer (:mod:`e5v.index.indexer`) and the Ray engine (:mod:`e5v.scale`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from e5v.collection import Record
from e5v.errors import InvalidInputError
from e5v.index.protocol import EncoderLike
from e5v.inputs import Interleaved, prepare_item


@dataclass
class Embedded:
    """Records that were embedded (with their vectors, in order) and ``(id, reason)`` of the others."""

    records: list[Record] = field(default_factory=list)
    vectors: np.ndarray | None = None
    failed: list[tuple[str, str]] = field(default_factory=list)


def load_record(record: Record) -> tuple[Record, Any, str | None]:
    """Decode a record's image (so the model never waits on disk); an unreadable item gets its reason."""
    try:
        prepared = prepare_item(record.item)
    except ValueError as exc:
        return record, None, str(exc)
    if isinstance(record.item, Interleaved):
        return record, Interleaved(image=prepared.image, text=record.item.text), None
    return record, prepared.image if prepared.image is not None else record.item, None


def embed_tolerant(
    encoder: EncoderLike,
    records: Sequence[Record],
    *,
    prompt: Any = None,
    batch_size: int = 16,
    pool: Executor | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Embedded:
    """Embed ``records`` in model batches; unreadable or refused items are skipped and listed.

    Args:
        encoder: the embedder.
        records: what to embed.
        prompt: prompts passed to ``encoder.encode``.
        batch_size: model batch size.
        pool: decode images in this executor (in parallel with nothing else: call per chunk).
        on_progress: called with the number of items done after each step.
    """
    loaded = list(pool.map(load_record, records)) if pool is not None else [load_record(r) for r in records]
    result = Embedded(failed=[(r.id, err) for r, _, err in loaded if err is not None])
    ok = [(r, item) for r, item, err in loaded if err is None]
    if on_progress is not None and len(ok) < len(records):
        on_progress(len(records) - len(ok))
    vectors: list[np.ndarray] = []
    for start in range(0, len(ok), batch_size):
        batch = ok[start : start + batch_size]
        try:
            vectors.append(_encode(encoder, [item for _, item in batch], prompt, batch_size))
            result.records += [r for r, _ in batch]
        except InvalidInputError:  # find the refused item(s): retry one by one
            for record, item in batch:
                try:
                    vectors.append(_encode(encoder, [item], prompt, 1))
                    result.records.append(record)
                except InvalidInputError as exc:
                    result.failed.append((record.id, exc.reason))
        if on_progress is not None:
            on_progress(len(batch))
    dim = int(encoder.dim)
    result.vectors = np.concatenate(vectors, axis=0) if vectors else np.zeros((0, dim), np.float32)
    return result


def _encode(encoder: EncoderLike, items: list[Any], prompt: Any, batch_size: int) -> np.ndarray:
    vectors = encoder.encode(items, prompt=prompt, batch_size=batch_size, show_progress=False)
    return np.asarray(vectors, dtype=np.float32)
