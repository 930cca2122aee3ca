"""Dynamic batching: concurrent requests are grouped into model batches run by one worker thread.

The worker takes the first waiting request, then keeps collecting until ``max_batch_size`` items
are gathered or ``max_wait_ms`` has passed, groups the requests by key (the prompt set) and makes
one ``encode`` call per group. With ``max_batch_size=1, max_wait_ms=0`` every request gets its own
forward pass (the baseline of ``bench/serve_batching.py``).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from e5v.errors import E5VError, InvalidInputError

logger = logging.getLogger(__name__)

EncodeFn = Callable[[list[Any], Hashable], np.ndarray]


class QueueFullError(E5VError):
    """The batcher's queue is full: the server is overloaded (HTTP 503)."""


@dataclass
class _Request:
    items: list[Any]
    key: Hashable
    future: Future = field(default_factory=Future)


@dataclass
class BatcherStats:
    """Counters since start: forward calls, items embedded, requests served."""

    batches: int = 0
    items: int = 0
    requests: int = 0


class DynamicBatcher:
    """Groups concurrent :meth:`submit` calls into batched ``encode(items, key)`` calls on one thread.

    Args:
        encode: ``encode(items, key) -> [n, d]`` array; ``key`` is what requests were grouped by.
        max_batch_size: most items per model call (a single larger request runs alone).
        max_wait_ms: how long the first request of a batch waits for company.
        max_queue: most waiting requests; beyond it :meth:`submit` raises :class:`QueueFullError`.
        on_batch: optional callback ``(n_items, seconds)`` after each model call (metrics).
    """

    def __init__(
        self,
        encode: EncodeFn,
        max_batch_size: int = 32,
        max_wait_ms: float = 5.0,
        max_queue: int = 1024,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        if max_batch_size < 1 or max_wait_ms < 0 or max_queue < 1:
            raise ValueError("need max_batch_size >= 1, max_wait_ms >= 0 and max_queue >= 1")
        self._encode = encode
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000.0
        self._queue: queue.Queue[_Request | None] = queue.Queue(maxsize=max_queue)
        self._on_batch = on_batch
        self._thread: threading.Thread | None = None
        self.stats = BatcherStats()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="e5v-batcher", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> DynamicBatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    # -- submitting ------------------------------------------------------------------------------
    def submit_future(self, items: Sequence[Any], key: Hashable = None) -> Future:
        """Queue ``items``; the returned future resolves to their ``[n, d]`` vectors."""
        if self._thread is None:
            raise RuntimeError("the batcher is not started")
        request = _Request(list(items), key)
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            raise QueueFullError("too many requests waiting; retry later") from None
        return request.future

    async def submit(self, items: Sequence[Any], key: Hashable = None) -> np.ndarray:
        """Embed ``items`` in a shared batch; cancelling the caller drops the request if not started."""
        return await asyncio.wrap_future(self.submit_future(items, key))

    # -- worker ----------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._collect(first)
            live = [r for r in batch if r.future.set_running_or_notify_cancel()]
            groups: dict[Hashable, list[_Request]] = {}
            for request in live:
                groups.setdefault(request.key, []).append(request)
            for key, requests in groups.items():
                self._serve(key, requests)
            if stop:
                return

    def _collect(self, first: _Request) -> tuple[list[_Request], bool]:
        batch, size = [first], len(first.items)
        deadline = time.monotonic() + self.max_wait
        while size < self.max_batch_size:
            remaining = deadline - time.monotonic()
            try:
                request = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if request is None:
                return batch, True
            batch.append(request)
            size += len(request.items)
        return batch, False

    def _serve(self, key: Hashable, requests: list[_Request]) -> None:
        """One model call for the group; a request with a bad item fails alone, the rest are retried."""
        while requests:
            items = [item for r in requests for item in r.items]
            start = time.perf_counter()
            try:
                vectors = np.asarray(self._encode(items, key), dtype=np.float32)
            except InvalidInputError as exc:
                bad, offset = _owner(requests, exc.index)
                bad.future.set_exception(InvalidInputError(exc.index - offset, exc.reason))
                requests = [r for r in requests if r is not bad]
                continue
            except Exception as exc:  # the model failed: every request of the group gets the error
                logger.exception("encode failed for a batch of %d items", len(items))
                for r in requests:
                    r.future.set_exception(exc)
                return
            seconds = time.perf_counter() - start
            self.stats.batches += 1
            self.stats.items += len(items)
            self.stats.requests += len(requests)
            if self._on_batch is not None:
                self._on_batch(len(items), seconds)
            offset = 0
            for r in requests:
                r.future.set_result(vectors[offset : offset + len(r.items)])
                offset += len(r.items)
            return


def _owner(requests: list[_Request], index: int) -> tuple[_Request, int]:
    """The request holding flat item ``index``, and the flat index of its first item."""
    offset = 0
    for request in requests:
        if index < offset + len(request.items):
            return request, offset
        offset += len(request.items)
    return requests[-1], offset - len(requests[-1].items)
