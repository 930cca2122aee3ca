"""DynamicBatcher: grouping, order, per-request errors, keys, overload, cancellation."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from e5v.errors import InvalidInputError
from e5v.serve.batcher import DynamicBatcher, QueueFullError


class RecordingEncoder:
    """A deterministic encode(items, key): item i -> [i, key-code]; records each call's size."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[tuple[int, object]] = []
        self.delay = delay
        self.thread_names: set[str] = set()

    def __call__(self, items, key):
        self.thread_names.add(threading.current_thread().name)
        for index, item in enumerate(items):
            if item < 0:
                raise InvalidInputError(index, "negative item")
        self.calls.append((len(items), key))
        time.sleep(self.delay)
        return np.array([[float(i), 0.0 if key is None else 1.0] for i in items], dtype=np.float32)


async def _gather(batcher, requests):
    return await asyncio.gather(
        *(batcher.submit(items, key) for items, key in requests), return_exceptions=True
    )


def test_concurrent_requests_share_batches_and_get_their_own_rows():
    encoder = RecordingEncoder(delay=0.01)
    requests = [([i, i + 1000], None) for i in range(40)]
    with DynamicBatcher(encoder, max_batch_size=16, max_wait_ms=20) as batcher:
        results = asyncio.run(_gather(batcher, requests))
    for (items, _), result in zip(requests, results, strict=True):
        np.testing.assert_array_equal(result[:, 0], items)
    assert sum(n for n, _ in encoder.calls) == 80
    assert len(encoder.calls) < 40 and max(n for n, _ in encoder.calls) <= 16
    assert encoder.thread_names == {"e5v-batcher"}  # the model runs in one worker thread
    assert batcher.stats.requests == 40


def test_one_forward_per_request_mode():
    encoder = RecordingEncoder()
    with DynamicBatcher(encoder, max_batch_size=1, max_wait_ms=0) as batcher:
        asyncio.run(_gather(batcher, [([i], None) for i in range(10)]))
    assert [n for n, _ in encoder.calls] == [1] * 10


def test_requests_are_grouped_by_key():
    encoder = RecordingEncoder(delay=0.01)
    requests = [([i], "a" if i % 2 else None) for i in range(20)]
    with DynamicBatcher(encoder, max_batch_size=64, max_wait_ms=30) as batcher:
        results = asyncio.run(_gather(batcher, requests))
    for (items, key), result in zip(requests, results, strict=True):
        assert result[0, 1] == (0.0 if key is None else 1.0) and result[0, 0] == items[0]


def test_a_bad_item_fails_only_its_request():
    encoder = RecordingEncoder()
    requests = [([1, 2], None), ([3, -1], None), ([5], None)]
    with DynamicBatcher(encoder, max_batch_size=64, max_wait_ms=50) as batcher:
        results = asyncio.run(_gather(batcher, requests))
    assert isinstance(results[1], InvalidInputError) and results[1].index == 1
    np.testing.assert_array_equal(results[0][:, 0], [1, 2])
    np.testing.assert_array_equal(results[2][:, 0], [5])


def test_full_queue_raises_and_cancelled_requests_are_skipped():
    encoder = RecordingEncoder(delay=0.5)  # the worker stays busy while the queue fills
    with DynamicBatcher(encoder, max_batch_size=1, max_wait_ms=0, max_queue=2) as batcher:
        first = batcher.submit_future([1])
        deadline = time.monotonic() + 10
        while not encoder.calls and time.monotonic() < deadline:  # the worker took the first request
            time.sleep(0.005)
        waiting = [batcher.submit_future([2]), batcher.submit_future([3])]
        with pytest.raises(QueueFullError):
            batcher.submit_future([4])
        assert waiting[0].cancel()
        assert first.result(timeout=5)[0, 0] == 1 and waiting[1].result(timeout=5)[0, 0] == 3
    assert [n for n, _ in encoder.calls] == [1, 1]
