"""Two gloo CPU processes give the loss and gradients of one process on the whole batch."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from e5v.train.distributed import gather_with_grad
from e5v.train.gradcache import chunked, full_batch_step, grad_cache_step
from e5v.train.objectives import DistillObjective, HardNegativeObjective, InfoNCEObjective

WORLD = 2
N = 6  # rows per rank


def _encoder() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 12), torch.nn.Tanh(), torch.nn.Linear(12, 7)).double()


def _data(name: str) -> tuple[list[torch.Tensor], torch.Tensor | None]:
    g = torch.Generator().manual_seed(7)
    streams = {"infonce": 3, "hardneg": 2, "distill": 1}[name]
    data = [torch.randn(WORLD * N, 5, generator=g, dtype=torch.float64) for _ in range(streams)]
    teacher = torch.randn(WORLD * N, 4, generator=g, dtype=torch.float64) if name == "distill" else None
    return data, teacher


def _objective(name: str):
    return {
        "infonce": InfoNCEObjective(tau=0.05),
        "hardneg": HardNegativeObjective(k=3, beta=0.1, tau=0.02),
        "distill": DistillObjective(tau=0.1),
    }[name]


def _step(name: str, data, teacher, cache: bool):
    model = _encoder()
    objective = _objective(name)
    if teacher is not None:
        objective.teacher = teacher
    if cache:
        loss = grad_cache_step(model, [chunked(x, 2) for x in data], objective)
    else:
        loss = full_batch_step(model, [[x] for x in data], objective)
    return loss, [p.grad for p in model.parameters()]


def _worker(rank: int, port: int, results: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        # The gather itself: forward order and the gradient reaching the local slice.
        local = torch.full((N, 3), float(rank), dtype=torch.float64, requires_grad=True)
        gathered = gather_with_grad(local)
        weights = torch.arange(WORLD * N * 3, dtype=torch.float64).view(WORLD * N, 3)
        (gathered * weights).sum().backward()
        out = {"gathered": gathered.detach(), "local_grad": local.grad}
        for name in ("infonce", "hardneg", "distill"):
            for cache in (False, True):
                data, teacher = _data(name)
                rows = slice(rank * N, (rank + 1) * N)
                local_data = [x[rows] for x in data]
                local_teacher = teacher[rows] if teacher is not None else None
                loss, grads = _step(name, local_data, local_teacher, cache)
                # What DDP does: average the loss for logging and the gradients over ranks.
                dist.all_reduce(loss)
                for grad in grads:
                    dist.all_reduce(grad)
                out[(name, cache)] = (loss / WORLD, [g / WORLD for g in grads])
        if rank == 0:
            results.update(out)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_process_results() -> dict:
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_worker, args=(_free_port(), results), nprocs=WORLD, join=True)
        return dict(results)


def test_gather_forward_and_local_gradient(two_process_results):
    gathered = two_process_results["gathered"]
    assert gathered[:N].eq(0).all() and gathered[N:].eq(1).all()
    # d/d local of sum(gathered * w) summed over both ranks' losses = 2 * w[local rows].
    weights = torch.arange(WORLD * N * 3, dtype=torch.float64).view(WORLD * N, 3)
    torch.testing.assert_close(two_process_results["local_grad"], WORLD * weights[:N])


@pytest.mark.parametrize("cache", [False, True])
@pytest.mark.parametrize("name", ["infonce", "hardneg", "distill"])
def test_two_processes_equal_one_process(two_process_results, name, cache):
    data, teacher = _data(name)
    loss, grads = _step(name, data, teacher, cache=False)
    dist_loss, dist_grads = two_process_results[(name, cache)]
    assert dist_loss.item() == pytest.approx(loss.item(), rel=1e-10)
    for a, b in zip(dist_grads, grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
