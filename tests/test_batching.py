"""Batched mixed-length == one-at-a-time; left == right padding; order preserved."""

from __future__ import annotations

import numpy as np
import pytest

from e5v import Embedder, Interleaved
from e5v.testing import MULTIMODAL_FAMILIES

TEXTS = [
    "a dog",
    "two people ride bicycles in the park at noon under a blue sky while a dog runs",
    "a cat sleeps on a red sofa",
    "the quick brown fox jumps over the lazy dog, then sleeps",
    "0123",
]


def mixed_items(family, images):
    items: list[object] = list(TEXTS)
    if family in MULTIMODAL_FAMILIES:
        items[1:1] = [images[0], Interleaved(image=images[1], text="make it red and bigger")]
        items.append(images[2])
        items.append(Interleaved(image=images[0], text="blue"))
    return items


@pytest.mark.parametrize(
    "family", ["llava", "llava_next", "llava_onevision", "qwen2_vl", "idefics3", "qwen2", "gemma"]
)
@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_batched_equals_one_at_a_time(family, padding_side, tiny, images):
    model, processor = tiny(family)
    embedder = Embedder(model, processor, padding_side=padding_side)
    items = mixed_items(family, images)
    batched = embedder.encode(items, batch_size=8, show_progress=False)
    single = np.stack([embedder.encode([item], show_progress=False)[0] for item in items])
    np.testing.assert_allclose(batched, single, atol=2e-5)


@pytest.mark.parametrize("family", ["llava_next", "qwen2_vl", "llama"])
def test_left_padding_equals_right_padding(family, tiny, images):
    model, processor = tiny(family)
    items = mixed_items(family, images)
    left = Embedder(model, processor, padding_side="left").encode(items, batch_size=3, show_progress=False)
    right = Embedder(model, processor, padding_side="right").encode(items, batch_size=3, show_progress=False)
    np.testing.assert_allclose(left, right, atol=2e-5)


def test_order_preserved_and_duplicates(tiny):
    model, processor = tiny("llama")
    embedder = Embedder(model, processor)
    items = ["a dog", "a cat sleeps on a red sofa", "a dog", "0123"]
    vectors = embedder.encode(items, batch_size=2, show_progress=False)
    reversed_vectors = embedder.encode(items[::-1], batch_size=2, show_progress=False)
    np.testing.assert_allclose(vectors, reversed_vectors[::-1], atol=2e-5)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert not np.allclose(vectors[0], vectors[1])


def test_normalize_and_raw(tiny):
    model, processor = tiny("llama")
    embedder = Embedder(model, processor)
    raw = embedder.encode(TEXTS, normalize=False, show_progress=False)
    unit = embedder.encode(TEXTS, show_progress=False)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), unit, atol=1e-5)
    assert embedder.encode([], show_progress=False).shape == (0, embedder.dim)


def test_token_budget_batches_and_results(tiny):
    from e5v.embedder import _length_sorted_batches, _Prepared
    from e5v.inputs import Item, Kind

    prepared = [
        _Prepared(i, Item(Kind.TEXT, text="x"), "x", n) for i, n in enumerate([10, 300, 40, 300, 20, 5])
    ]
    batches = _length_sorted_batches(prepared, batch_size=4, max_batch_tokens=600)
    # hand-computed: sorted 300,300 | 40,20,10,5 (4 x 40 = 160 <= 600, then batch_size stops)
    assert [[p.length for p in b] for b in batches] == [[300, 300], [40, 20, 10, 5]]
    assert [[p.length for p in b] for b in _length_sorted_batches(prepared, 4, 250)] == [
        [300],
        [300],
        [40, 20, 10, 5],
    ]

    model, processor = tiny("llama")
    embedder = Embedder(model, processor)
    texts = [*TEXTS, "a " * 100 + "dog"]
    np.testing.assert_allclose(
        embedder.encode(texts, max_batch_tokens=64, show_progress=False),
        embedder.encode(texts, show_progress=False),
        atol=2e-5,
    )


def test_encode_applies_the_token_budget_and_prepares_batches_ahead(tiny):
    """encode really passes max_batch_tokens to the batcher (padded tokens per forward stay within
    the budget) and collates the next batch in the prefetch thread, not in the caller's."""
    import threading

    model, processor = tiny("llama")
    embedder = Embedder(model, processor, prefix_cache=False)
    widths: list[int] = []
    threads: set[str] = set()
    forward, collate = embedder.forward, embedder._collate

    def counting_forward(batch):
        widths.append(int(batch["input_ids"].numel()))
        return forward(batch)

    def recording_collate(batch):
        threads.add(threading.current_thread().name)
        return collate(batch)

    embedder.forward, embedder._collate = counting_forward, recording_collate
    texts = [f"{w} dog number {i}" for i, w in enumerate(["a", "the"] * 6)]
    embedder.encode(texts, batch_size=16, max_batch_tokens=40, show_progress=False)
    assert len(widths) > 1 and max(widths) <= 40, widths
    assert threading.current_thread().name not in threads or len(threads) > 1, threads


def test_identical_images_are_embedded_once(tiny, images):
    """Images with the same pixels (the same object, a copy, or the same file re-encoded) and the
    same prompt run through the model once; a different text with that image does not."""
    import io

    from PIL import Image

    model, processor = tiny("llava")
    embedder = Embedder(model, processor, prefix_cache=False)
    rows: list[int] = []
    forward = embedder.forward

    def counting_forward(batch):
        rows.append(int(batch["input_ids"].shape[0]))
        return forward(batch)

    embedder.forward = counting_forward
    buffer = io.BytesIO()
    images[0].save(buffer, format="PNG")
    same_pixels = Image.open(io.BytesIO(buffer.getvalue()))
    items = [
        images[0],
        images[1],
        images[0].copy(),
        same_pixels,
        Interleaved(image=images[0], text="red"),
        Interleaved(image=images[0], text="red"),
        Interleaved(image=images[0], text="blue"),
    ]
    vectors = embedder.encode(items, batch_size=8, show_progress=False)
    assert sum(rows) == 4  # images[0], images[1], (images[0], "red"), (images[0], "blue")
    embedder.forward = forward
    single = np.stack([embedder.encode([item], show_progress=False)[0] for item in items])
    np.testing.assert_allclose(vectors, single, atol=2e-5)
    np.testing.assert_array_equal(vectors[0], vectors[3])
    assert not np.allclose(vectors[4], vectors[6])
