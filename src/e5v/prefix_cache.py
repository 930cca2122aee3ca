"""Shared-prefix KV caching for text batches (inference only).

Every text prompt of an ``encode`` call starts with the same chat-template tokens (SmolLM2's
system prompt is 24 tokens; Llama-3 E5-V's ``<|begin_of_text|><|start_header_id|>user...``
is 5). With causal attention the keys and values of those tokens do not depend on what follows,
so they are computed once (batch 1) and every batch runs only its suffixes: right-padded, the
attention mask covering prefix + suffix, positions continuing at the prefix length, pooled at
each row's last real token. The result equals the full forward up to float rounding.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from e5v.pooling import last_token_pool

MIN_PREFIX_TOKENS = 4
"""A shorter common prefix is not worth a separate forward pass."""


def common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest common token prefix of ``rows``, leaving every row >= 1 token.

    The last token of each row is never part of the prefix: it is the token that is pooled.
    """
    if not rows:
        return 0
    first = rows[0]
    limit = min(len(r) for r in rows) - 1
    n = 0
    while n < limit and all(r[n] == first[n] for r in rows):
        n += 1
    return max(n, 0)


def text_model(base: nn.Module) -> nn.Module:
    """The decoder that text-only inputs go through (the language model of an MLLM).

    For text-only inputs an MLLM's base model only embeds the tokens and calls its language
    model, so calling the language model directly computes the same hidden states.
    """
    for name in ("language_model", "text_model"):
        module = getattr(base, name, None)
        if isinstance(module, nn.Module):
            return module
    return base


class PrefixCache:
    """The key/value cache of a token prefix shared by every prompt of a set of text inputs.

    Args:
        model: the decoder (see :func:`text_model`); it must accept ``past_key_values``.
        prefix_ids: the shared prefix token ids.
        pad_token_id: id used to right-pad suffixes (masked out; any id works).
    """

    def __init__(self, model: nn.Module, prefix_ids: Sequence[int], pad_token_id: int) -> None:
        self.model = model
        self.prefix_ids = list(prefix_ids)
        self.length = len(self.prefix_ids)
        self.pad_token_id = int(pad_token_id)
        self.device = next(model.parameters()).device
        from transformers import DynamicCache

        ids = torch.tensor([self.prefix_ids], device=self.device)
        # a cache without config: every layer keeps all prefix keys, sliding-window layers too
        # (their window is applied by the attention mask, from the config)
        with torch.inference_mode():
            out = model(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                past_key_values=DynamicCache(),
                use_cache=True,
                return_dict=True,
            )
        self._layers = [(k, v) for k, v, *_ in out.past_key_values]

    def matches(self, ids: Sequence[int]) -> bool:
        """Whether ``ids`` starts with the prefix and has at least one token after it."""
        return len(ids) > self.length and list(ids[: self.length]) == self.prefix_ids

    def collate(self, rows: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        """Right-padded suffixes ``input_ids`` ``[B, S]`` and ``suffix_mask`` ``[B, S]`` (CPU)."""
        suffixes = [list(r[self.length :]) for r in rows]
        width = max(len(s) for s in suffixes)
        input_ids = torch.full((len(suffixes), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(suffixes), width), dtype=torch.long)
        for i, s in enumerate(suffixes):
            input_ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
            mask[i, : len(s)] = 1
        return {"input_ids": input_ids, "suffix_mask": mask}

    def _cache(self) -> Any:
        """A cache that prepends the prefix's keys/values to each layer's (never stores them)."""
        from transformers.cache_utils import Cache

        return Cache(layers=[_prefix_layer_class()(k, v) for k, v in self._layers])

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Last-real-token final hidden states ``[B, D]`` of prefix + each suffix."""
        input_ids = batch["input_ids"].to(self.device)
        suffix_mask = batch["suffix_mask"].to(self.device)
        rows = input_ids.shape[0]
        prefix_mask = torch.ones((rows, self.length), dtype=suffix_mask.dtype, device=self.device)
        out = self.model(
            input_ids=input_ids,
            attention_mask=torch.cat([prefix_mask, suffix_mask], dim=1),
            past_key_values=self._cache(),
            use_cache=True,
            return_dict=True,
        )
        return last_token_pool(out.last_hidden_state, suffix_mask)


@functools.cache
def _prefix_layer_class() -> type:
    """The cache-layer class, built on first use (importing ``transformers`` takes ~0.5 s)."""
    from transformers.cache_utils import DynamicLayer

    class PrefixLayer(DynamicLayer):
        """One layer's prefix keys/values ``[1, H, P, d]``: ``update`` returns them joined with
        the batch's new keys/values but stores nothing, so that the suffix's keys/values are
        freed layer by layer as in a forward without a cache (no memory growth)."""

        def __init__(self, keys: torch.Tensor, values: torch.Tensor) -> None:
            super().__init__()
            self.keys, self.values = keys, values
            self.dtype, self.device = keys.dtype, keys.device
            self.is_initialized = True

        def update(
            self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
        ) -> tuple[torch.Tensor, torch.Tensor]:
            rows = key_states.shape[0]
            keys = torch.cat([self.keys.expand(rows, -1, -1, -1), key_states], dim=-2)
            values = torch.cat([self.values.expand(rows, -1, -1, -1), value_states], dim=-2)
            return keys, values

    return PrefixLayer
