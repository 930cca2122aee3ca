from __future__ import annotations

import torch

from e5v.pooling import last_token_pool


def naive_last_token(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    rows = []
    for b in range(hidden.shape[0]):
        positions = [i for i in range(mask.shape[1]) if mask[b, i] == 1]
        rows.append(hidden[b, positions[-1]])
    return torch.stack(rows)


def test_last_token_pool_left_and_right_padding():
    torch.manual_seed(0)
    hidden = torch.randn(4, 6, 3)
    lengths = [6, 1, 3, 4]
    right = torch.tensor([[1] * n + [0] * (6 - n) for n in lengths])
    left = torch.tensor([[0] * (6 - n) + [1] * n for n in lengths])
    assert torch.equal(last_token_pool(hidden, right), naive_last_token(hidden, right))
    assert torch.equal(last_token_pool(hidden, left), naive_last_token(hidden, left))
    # hand-computed: right padding, row 2 has 3 tokens -> position 2
    assert torch.equal(last_token_pool(hidden, right)[2], hidden[2, 2])
    assert torch.equal(last_token_pool(hidden, left)[2], hidden[2, 5])
