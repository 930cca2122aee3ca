"""GradCache: contrastive batches far larger than what fits through the model at once.

Gao et al., "Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup" (2021).
The step is exact, not an approximation:

1. every chunk of every stream is embedded WITHOUT a graph (memory of one chunk at a time),
   recording the random state before each chunk (dropout);
2. the loss is computed on the concatenated embeddings (leaf tensors) and differentiated with
   respect to the embeddings only; this is where the cross-rank gather happens, so its
   gradient for the local slice includes every rank's loss;
3. every chunk is embedded again WITH a graph under its recorded random state (the same
   dropout masks) and ``(embedding * cached_grad).sum()`` is back-propagated into the model.

Under data parallelism, gradient synchronisation is suppressed for every chunk but the last
(``no_sync``), so the parameters are all-reduced once per step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import torch

Encode = Callable[[Any], torch.Tensor]
LossFn = Callable[[list[torch.Tensor]], torch.Tensor]


class RandState:
    """The CPU and CUDA random states at one moment; ``restore()`` puts them back."""

    def __init__(self) -> None:
        self.cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None

    def restore(self) -> None:
        torch.set_rng_state(self.cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)


def chunked(items: Sequence[Any], size: int | None) -> list[Sequence[Any]]:
    """Split a sequence into consecutive chunks of at most ``size`` (one chunk when None)."""
    if not size or size >= len(items):
        return [items]
    return [items[i : i + size] for i in range(0, len(items), size)]


def _default_backward(loss: torch.Tensor) -> None:
    loss.backward()


def full_batch_step(
    encode: Encode,
    streams: Sequence[Sequence[Any]],
    loss_fn: LossFn,
    backward: Callable[[torch.Tensor], None] = _default_backward,
) -> torch.Tensor:
    """The plain step: each stream's chunks embedded with a graph, loss, backward.

    ``streams[g]`` is the list of model inputs (chunks) of stream ``g`` (e.g. queries,
    positives, negatives). Returns the detached loss.
    """
    reps = [torch.cat([encode(chunk) for chunk in chunks], dim=0) for chunks in streams]  # [n_g, d]
    loss = loss_fn(reps)
    backward(loss)
    return loss.detach()


def grad_cache_step(
    encode: Encode,
    streams: Sequence[Sequence[Any]],
    loss_fn: LossFn,
    backward: Callable[[torch.Tensor], None] = _default_backward,
    no_sync: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
) -> torch.Tensor:
    """One GradCache step; the parameter gradients equal those of :func:`full_batch_step`.

    Args:
        encode: model input chunk -> ``[c, d]`` embeddings (differentiable).
        streams: ``streams[g]`` = list of input chunks of stream ``g``.
        loss_fn: list of ``[n_g, d]`` embeddings -> scalar loss (may gather across ranks).
        backward: how to back-propagate a scalar (e.g. ``accelerator.backward``).
        no_sync: context manager factory that suppresses gradient all-reduce (DDP
            ``model.no_sync`` / ``accelerator.no_sync(model)``); used for all chunks but the last.

    Returns:
        The detached loss.
    """
    # 1. Embeddings without a graph, remembering the random state of each chunk.
    jobs: list[tuple[int, Any, RandState, int]] = []  # (stream, chunk, random state, first row)
    reps: list[torch.Tensor] = []
    with torch.no_grad():
        for g, chunks in enumerate(streams):
            outs: list[torch.Tensor] = []
            start = 0
            for chunk in chunks:
                state = RandState()
                outs.append(encode(chunk))
                jobs.append((g, chunk, state, start))
                start += outs[-1].shape[0]
            reps.append(torch.cat(outs, dim=0).detach().requires_grad_(True))  # [n_g, d]
    after_first_pass = RandState()

    # 2. Loss and its gradient with respect to the embeddings only.
    loss = loss_fn(reps)
    grads = torch.autograd.grad(loss, reps, allow_unused=True)
    grads = [torch.zeros_like(r) if g is None else g for r, g in zip(reps, grads, strict=True)]

    # 3. Re-embed each chunk with a graph under its random state; push the cached gradient in.
    for j, (g, chunk, state, start) in enumerate(jobs):
        state.restore()
        last = j == len(jobs) - 1
        context = contextlib.nullcontext() if (last or no_sync is None) else no_sync()
        with context:
            out = encode(chunk)  # [c, d]
            cached = grads[g][start : start + out.shape[0]]
            backward((out * cached.to(out.dtype)).sum())
    after_first_pass.restore()
    return loss.detach()
