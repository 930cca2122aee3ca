"""Last-token pooling: the final-layer hidden state of each sequence's last real token."""

from __future__ import annotations

import torch


def last_token_index(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position of the last non-padding token of each row; correct for left and right padding.

    Args:
        attention_mask: ``[B, L]`` with 1 for real tokens and 0 for padding.

    Returns:
        ``[B]`` long tensor of positions.
    """
    length = attention_mask.shape[1]
    # argmax returns the first maximum: flip so that it finds the last 1 of each row.
    return length - 1 - attention_mask.flip(dims=[1]).to(torch.int64).argmax(dim=1)


def last_token_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Gather ``hidden[b, last_real_token(b)]``.

    Args:
        hidden: ``[B, L, D]`` final-layer hidden states.
        attention_mask: ``[B, L]``.

    Returns:
        ``[B, D]``.
    """
    index = last_token_index(attention_mask).to(hidden.device)  # [B]
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), index]  # [B, D]
