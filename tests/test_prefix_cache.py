"""Shared-prefix KV caching in ``encode``: equal to the full forward and to the reference oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from e5v import Embedder, Interleaved
from e5v.inputs import prepare_items
from e5v.prefix_cache import MIN_PREFIX_TOKENS, PrefixCache, common_prefix_length, text_model
from test_parity import TEXT_BODY, reference_embedding, reference_prompt

# A shared opening phrase makes the common prefix long in every family, including those whose
# chat wrapping adds fewer than MIN_PREFIX_TOKENS tokens (llama, mistral: no template).
TEXTS = [
    "represent this: a dog",
    "represent this: a dog runs on the beach while two children play with a red ball",
    "represent this: x",
    "represent this: the city lights shine over a quiet river as people walk home after work",
    "represent this: a dog runs",
    "represent this: scientists measured the temperature of the lake every morning",
]
FAMILIES = ["llama", "qwen2", "mistral", "gemma", "llava", "llava_next", "qwen2_vl", "idefics3"]


def _prefix_length(embedder: Embedder, texts: list[str]) -> int:
    prepared = embedder._prepare(prepare_items(texts), embedder.prompts, None)
    return common_prefix_length([p.ids for p in prepared])


def test_common_prefix_length() -> None:
    assert common_prefix_length([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 9]]) == 2
    assert common_prefix_length([[1, 2, 3], [1, 2, 3, 4]]) == 2  # every row keeps its last token
    assert common_prefix_length([[1, 2, 3]]) == 2
    assert common_prefix_length([[7], [7]]) == 0
    assert common_prefix_length([]) == 0


@pytest.mark.parametrize("family", FAMILIES)
def test_prefix_cache_equals_full_forward_and_oracle(family: str, tiny) -> None:
    model, processor = tiny(family)
    on = Embedder(model, processor, prefix_cache=True)
    off = Embedder(model, processor, prefix_cache=False)
    assert _prefix_length(on, TEXTS) >= MIN_PREFIX_TOKENS

    calls = []
    original = PrefixCache.forward

    def spy(self: PrefixCache, batch: dict) -> torch.Tensor:
        calls.append(batch["input_ids"].shape)
        return original(self, batch)

    PrefixCache.forward = spy  # type: ignore[method-assign]
    try:
        with_cache = on.encode(TEXTS, batch_size=4, show_progress=False)
    finally:
        PrefixCache.forward = original  # type: ignore[method-assign]
    assert len(calls) == 2  # both batches took the prefix path
    without = off.encode(TEXTS, batch_size=4, show_progress=False)
    assert np.all(np.sum(with_cache * without, axis=1) >= 0.99999)
    assert np.abs(with_cache - without).max() < 1e-4

    oracle = np.stack(
        [
            reference_embedding(model, processor, family, reference_prompt(family, TEXT_BODY.format(t)))
            for t in TEXTS
        ]
    )
    assert np.all(np.sum(with_cache * oracle, axis=1) >= 0.99999), family


@pytest.mark.parametrize("family", ["llava_next", "qwen2"])
def test_prefix_cache_with_mixed_kinds_and_duplicates(family: str, tiny, images) -> None:
    """Text batches take the cache, image batches the full model; order and dedup are kept."""
    model, processor = tiny(family)
    items: list[object] = [TEXTS[1], TEXTS[0], TEXTS[1], TEXTS[3]]
    if family == "llava_next":
        items[2:2] = [images[0], Interleaved(image=images[1], text="make it red")]
    on = Embedder(model, processor, prefix_cache=True).encode(items, batch_size=2, show_progress=False)
    off = Embedder(model, processor, prefix_cache=False).encode(items, batch_size=2, show_progress=False)
    assert np.all(np.sum(on * off, axis=1) >= 0.99999)
    assert np.abs(on - off).max() < 1e-4


def test_no_prefix_cache_when_prefix_is_short_or_single_text(tiny) -> None:
    model, processor = tiny("llama")  # no chat template: the prompts share no prefix
    embedder = Embedder(model, processor)
    prepared = embedder._prepare(prepare_items(["a dog", "two cats"]), embedder.prompts, None)
    assert embedder._shared_prefix(prepared) is None
    assert embedder._shared_prefix(prepared[:1]) is None


def test_prefix_cache_reads_no_gradients_and_forward_unchanged(tiny) -> None:
    """Training's ``collate``/``forward`` keep working with gradients; the cache is inference only."""
    model, processor = tiny("qwen2")
    embedder = Embedder(model, processor)
    batch = embedder.collate(prepare_items(TEXTS[:3]))
    hidden = embedder.forward(batch)
    hidden.sum().backward()
    assert any(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=True)
    expected = torch.nn.functional.normalize(hidden.detach(), dim=-1).numpy()
    got = embedder.encode(TEXTS[:3], batch_size=3, show_progress=False)
    assert np.all(np.sum(got * expected, axis=1) >= 0.99999)
    assert text_model(embedder.backbone.base_model(model)) is embedder.backbone.base_model(model)


def test_prefix_cache_with_a_sliding_window_shorter_than_the_prefix() -> None:
    """Sliding-window layers: all prefix keys are kept and the window is applied by the mask."""
    from e5v.testing import tiny_model

    model, processor = tiny_model("mistral")  # a fresh model: the config is changed below
    model.config.sliding_window = 3
    on = Embedder(model, processor)
    assert _prefix_length(on, TEXTS) > 3
    got = on.encode(TEXTS, batch_size=4, show_progress=False)
    off = Embedder(model, processor, prefix_cache=False)
    one_by_one = np.concatenate([off.encode([t], show_progress=False) for t in TEXTS])
    assert np.all(np.sum(got * one_by_one, axis=1) >= 0.99999)
