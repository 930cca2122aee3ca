"""Embed a collection into a :class:`~e5v.index.store.VectorStore`: incremental, resumable, crash-safe.

Items are committed in batches keyed by id. On (re)start the ids already in the store are skipped,
so a run killed at any point (``kill -9`` included) and started again finishes the job with no
item lost and none duplicated. Unreadable items are skipped and reported at the end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e5v.collection import Record, check_unique_ids
from e5v.index.info import IndexInfo
from e5v.index.protocol import EncoderLike, prompts_of
from e5v.index.store import ANN_KINDS, AUTO_ANN_MIN_ROWS, DEFAULT_ANN, VectorStore
from e5v.index.tolerant import embed_tolerant

logger = logging.getLogger(__name__)

#: Fewer rows than this cannot train the quantisers of an approximate index.
MIN_ANN_ROWS = 256


@dataclass
class IndexReport:
    """What one indexing run did. ``failed`` lists ``(id, reason)`` of the skipped items."""

    total: int = 0
    already_indexed: int = 0
    added: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    ann: str | None = None

    @property
    def items_per_second(self) -> float:
        return self.added / self.seconds if self.seconds > 0 else 0.0


def resolve_item_prompts(encoder: object, prompt: Any) -> dict[str, Any] | None:
    """The prompt set (as a dict) ``encoder.encode(..., prompt=prompt)`` will use."""
    default = prompts_of(encoder)
    if prompt is None:
        return default
    from e5v.prompts import PromptSet, resolve_prompts

    base = PromptSet.from_dict(default) if default else PromptSet.single("<text>")
    return resolve_prompts(prompt, base).to_dict()


def index_collection(
    records: Sequence[Record],
    index_path: str | Path | VectorStore,
    encoder: EncoderLike,
    *,
    prompt: Any = None,
    batch_size: int = 16,
    commit_every: int = 256,
    ann: str = "auto",
    show_progress: bool = True,
    workers: int = 4,
) -> IndexReport:
    """Embed the records not yet in the index and append them, one commit per ``commit_every`` items.

    Args:
        records: the collection (ids must be unique).
        index_path: the index folder (created if missing) or an open store.
        encoder: an :class:`e5v.Embedder` (or any :class:`~e5v.index.protocol.EncoderLike`).
        prompt: prompt set / template for the items (recorded in the index).
        batch_size: model batch size.
        commit_every: items per commit; a crash loses at most this much work.
        ann: ``auto`` (build ``ivf_hnsw_sq`` once the index holds ``AUTO_ANN_MIN_ROWS`` rows),
            ``none`` (exact search only) or an approximate index kind (see ``ANN_KINDS``).
        show_progress: show a progress bar (items/s and ETA) on stderr.
        workers: threads decoding images ahead of the model.

    Returns:
        An :class:`IndexReport`; ``failed`` lists the unreadable items (skipped, not fatal).

    Raises:
        ModelMismatchError: the index was built with another model, size or prompts.
    """
    from tqdm.auto import tqdm

    if ann not in ("auto", "none", *ANN_KINDS):
        raise ValueError(f"ann must be 'auto', 'none' or one of {sorted(ANN_KINDS)}, got {ann!r}")
    check_unique_ids(records)
    start = time.perf_counter()
    info = IndexInfo(
        model=encoder.name,
        dim=int(encoder.dim),
        prompts=resolve_item_prompts(encoder, prompt),
        prompt_name=prompt if isinstance(prompt, str) else None,
    )
    store = (
        index_path if isinstance(index_path, VectorStore) else VectorStore.open_or_create(index_path, info)
    )
    if isinstance(index_path, VectorStore):
        store.info.check_same_build(info)
    done = set(store.ids())
    todo = [r for r in records if r.id not in done]
    report = IndexReport(total=len(records), already_indexed=len(records) - len(todo))
    logger.info("%d items, %d already indexed, %d to embed", report.total, report.already_indexed, len(todo))

    bar = tqdm(total=len(todo), unit="item", desc="indexing", disable=not show_progress, smoothing=0.1)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for offset in range(0, len(todo), commit_every):
            chunk = todo[offset : offset + commit_every]
            done_chunk = embed_tolerant(
                encoder, chunk, prompt=prompt, batch_size=batch_size, pool=pool, on_progress=bar.update
            )
            report.failed += done_chunk.failed
            kept, vectors = done_chunk.records, done_chunk.vectors
            store.add(
                ids=[r.id for r in kept],
                vectors=vectors,
                sources=[r.source for r in kept],
                kinds=[r.kind.value for r in kept],
                texts=[r.text for r in kept],
                metadata=[r.metadata for r in kept],
            )
            report.added += len(kept)
    bar.close()
    report.ann = _finish(store, ann, changed=report.added > 0)
    report.seconds = time.perf_counter() - start
    return report


def _finish(store: VectorStore, ann: str, changed: bool) -> str | None:
    """Build the approximate index when asked (or when ``auto`` and large), else fold in new rows."""
    current = store.ann_kind
    wanted = None
    if ann in ANN_KINDS:
        wanted = ann
    elif ann == "auto" and current is None and len(store) >= AUTO_ANN_MIN_ROWS:
        wanted = DEFAULT_ANN
    if wanted is not None and wanted != current and len(store) < MIN_ANN_ROWS:
        logger.warning("%d rows are too few to train a %s index; search stays exact", len(store), wanted)
        wanted = None
    if wanted is not None and wanted != current:
        store.build_ann(wanted)
        store.optimize()
        return wanted
    if changed:
        store.optimize()  # compaction + incremental indexing of the new rows, no retraining
    return current


def missing_ids(records: Iterable[Record], store: VectorStore) -> list[str]:
    """Ids of the collection that the store does not hold (for checks and reports)."""
    done = set(store.ids())
    return [r.id for r in records if r.id not in done]
