"""GradCache gives the gradients of the full-batch step, with and without dropout."""

from __future__ import annotations

import pytest
import torch

from e5v.train.gradcache import chunked, full_batch_step, grad_cache_step
from e5v.train.objectives import DistillObjective, HardNegativeObjective, InfoNCEObjective


def make_encoder(dropout: float) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Dropout(dropout), torch.nn.Linear(16, 8)
    ).double()


def grads_of(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() for p in model.parameters()]


def make_streams(n: int = 12, streams: int = 3) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randn(n, 6, generator=g, dtype=torch.float64) for _ in range(streams)]


OBJECTIVES = {
    "infonce": (InfoNCEObjective(tau=0.05), 3),
    "hardneg": (HardNegativeObjective(k=4, beta=0.1, tau=0.02), 2),
}


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
@pytest.mark.parametrize("chunk", [1, 5, 12])
def test_gradcache_equals_full_batch(name, chunk):
    objective, n_streams = OBJECTIVES[name]
    data = make_streams(streams=n_streams)
    model = make_encoder(0.0)
    full_loss = full_batch_step(model, [[x] for x in data], objective)
    full = grads_of(model)
    model.zero_grad()
    cached_loss = grad_cache_step(model, [chunked(x, chunk) for x in data], objective)
    assert cached_loss.item() == pytest.approx(full_loss.item(), rel=1e-12)
    for a, b in zip(grads_of(model), full, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_gradcache_distill_equals_full_batch():
    data = make_streams(streams=1)
    objective = DistillObjective(tau=0.1)
    objective.teacher = torch.randn(12, 5, dtype=torch.float64)
    model = make_encoder(0.0)
    full_batch_step(model, [[data[0]]], objective)
    full = grads_of(model)
    model.zero_grad()
    grad_cache_step(model, [chunked(data[0], 4)], objective)
    for a, b in zip(grads_of(model), full, strict=True):
        torch.testing.assert_close(a, b)


def test_gradcache_replays_dropout_masks():
    """With dropout on, the re-forward must reuse each chunk's mask: compare with the same
    chunked forward done once with a graph (same seed, hence the same masks)."""
    data = make_streams()
    objective = InfoNCEObjective()
    model = make_encoder(0.5)
    torch.manual_seed(123)
    full_batch_step(model, [chunked(x, 4) for x in data], objective)
    reference = grads_of(model)
    after_reference = torch.rand(1)
    model.zero_grad()
    torch.manual_seed(123)
    grad_cache_step(model, [chunked(x, 4) for x in data], objective)
    for a, b in zip(grads_of(model), reference, strict=True):
        torch.testing.assert_close(a, b)
    # The random stream continues as after one pass of the batch.
    assert torch.rand(1).item() == after_reference.item()


def test_gradcache_without_rng_replay_would_differ():
    """Sanity check that the dropout test can fail: another seed gives other gradients."""
    data = make_streams()
    model = make_encoder(0.5)
    torch.manual_seed(123)
    full_batch_step(model, [chunked(x, 4) for x in data], InfoNCEObjective())
    reference = grads_of(model)
    model.zero_grad()
    torch.manual_seed(124)
    grad_cache_step(model, [chunked(x, 4) for x in data], InfoNCEObjective())
    assert not all(torch.allclose(a, b) for a, b in zip(grads_of(model), reference, strict=True))
