"""Checkpoints that resume exactly: trainable weights, optimizer, scheduler, RNG, data position.

Layout of ``output_dir/checkpoints/step-000120/``: ``trainable.pt`` (trainable parameters only:
the LoRA adapter, or every weight when LoRA is off), ``optimizer.pt``, ``scheduler.pt``,
``rng-rank{r}.pt`` (Python, NumPy, torch CPU and CUDA states of each process),
``state.json`` (the step, which fixes the data position: batches are a pure function of the
seed and the step) and the run's configuration. A checkpoint is written to a temporary folder
and renamed, so a kill while saving never leaves a half checkpoint behind.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from e5v.train.config import CONFIG_NAME, Config

CHECKPOINTS = "checkpoints"


def rng_state() -> dict[str, Any]:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().cpu().clone() for name, p in model.named_parameters() if p.requires_grad}


def checkpoint_dir(output_dir: str | Path, step: int) -> Path:
    return Path(output_dir) / CHECKPOINTS / f"step-{step:06d}"


def save_checkpoint(
    output_dir: str | Path,
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    config: Config,
    rank: int = 0,
    keep: int = 2,
    barrier: Any = None,
    optimizer_per_rank: bool = False,
) -> Path:
    """Write the checkpoint of ``step`` (every rank writes its RNG state; rank 0 the rest).

    ``optimizer_per_rank``: the optimizer state is sharded (DeepSpeed ZeRO): every rank writes
    its own ``optimizer-rank{r}.pt``.
    """
    final = checkpoint_dir(output_dir, step)
    tmp = final.with_name(final.name + ".tmp")
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    if barrier:
        barrier()
    torch.save(rng_state(), tmp / f"rng-rank{rank}.pt")
    if optimizer_per_rank:
        torch.save(optimizer.state_dict(), tmp / f"optimizer-rank{rank}.pt")
    if rank == 0:
        torch.save(trainable_state(model), tmp / "trainable.pt")
        if not optimizer_per_rank:
            torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        (tmp / "state.json").write_text(json.dumps({"step": step}))
        config.dump(tmp / CONFIG_NAME)
    if barrier:
        barrier()
    if rank == 0:
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for old in list_checkpoints(output_dir)[:-keep] if keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
    if barrier:
        barrier()
    return final


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = Path(output_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and not p.name.endswith(".tmp") and (p / "state.json").is_file()
    )


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    rank: int = 0,
    optimizer_ranks: int | None = None,
) -> int:
    """Restore a checkpoint into the objects; returns the step to continue from.

    ``optimizer_ranks``: the optimizer state is sharded over this many ranks (DeepSpeed ZeRO);
    the run must resume with the same number of processes.
    """
    path = Path(path)
    state = torch.load(path / "trainable.pt", map_location="cpu", weights_only=True)
    params = dict(model.named_parameters())
    missing = [name for name, p in params.items() if p.requires_grad and name not in state]
    if missing:
        raise ValueError(
            f"{path}: checkpoint lacks trainable parameters, e.g. {missing[0]} (different model or LoRA config?)"
        )
    with torch.no_grad():
        for name, tensor in state.items():
            params[name].copy_(tensor.to(params[name].device, params[name].dtype))
    if optimizer_ranks is None:
        optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location="cpu", weights_only=False))
    else:
        from e5v.train.zero import load_sharded_optimizer

        load_sharded_optimizer(optimizer, path, optimizer_ranks)
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", map_location="cpu", weights_only=False))
    rng_file = path / f"rng-rank{rank}.pt"
    if rng_file.is_file():
        set_rng_state(torch.load(rng_file, map_location="cpu", weights_only=False))
    return int(json.loads((path / "state.json").read_text())["step"])
