"""DeepSpeed ZeRO (stages 1-2) under accelerate, with GradCache and the differentiable gather.

``train.deepspeed`` names a DeepSpeed JSON config (``zero2`` is the one shipped with e5v:
``e5v/data/deepspeed_zero2.json``). Its ``"auto"`` values are filled from the run's own settings,
so that one file serves every recipe: micro batch = ``train.batch_size``, one gradient
accumulation step (GradCache is how e5v grows the contrastive batch), clipping =
``train.max_grad_norm``, bf16/fp16 from ``train.mixed_precision``.

The step is driven by e5v, not by ``accelerator.backward`` (which would step the optimizer inside
every backward): each GradCache chunk is back-propagated with ``engine.backward`` and only the
last chunk of a step marks the gradient-accumulation boundary, after which ``engine.step()``
reduces, clips and updates once. ZeRO-2 reduces gradients in every backward, so the chunks'
reduced partitions add up to the full-batch gradient (tested: two CPU processes with ZeRO-2
and GradCache follow one process on the concatenated batch).

ZeRO-3 is refused: it partitions the weights themselves, which the merged export and the
checkpoints (whole trainable tensors) do not handle.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from e5v.train.config import ConfigError, TrainConfig

SHIPPED = {"zero2": "deepspeed_zero2.json"}


def deepspeed_config(spec: str, tc: TrainConfig) -> dict[str, Any]:
    """Read ``spec`` (a shipped name or a JSON path) and fill its ``"auto"`` values from ``tc``."""
    if spec in SHIPPED:
        text = resources.files("e5v").joinpath("data", SHIPPED[spec]).read_text(encoding="utf-8")
        where = f"e5v/data/{SHIPPED[spec]}"
    else:
        path = Path(spec)
        if not path.is_file():
            raise ConfigError(
                f"train.deepspeed: {spec!r} is neither a shipped config ({sorted(SHIPPED)}) nor a JSON file"
            )
        text, where = path.read_text(encoding="utf-8"), str(path)
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"train.deepspeed: {where} is not valid JSON: {exc}") from None
    stage = int(config.get("zero_optimization", {}).get("stage", 0))
    if stage > 2:
        raise ConfigError(
            f"train.deepspeed: {where} asks for ZeRO stage {stage}; e5v supports stages 0-2 (ZeRO-3 "
            "partitions the weights, which the checkpoints and the merged export do not handle)"
        )
    gas = config.get("gradient_accumulation_steps", "auto")
    if gas not in ("auto", 1):
        raise ConfigError(
            f"train.deepspeed: gradient_accumulation_steps must be 1 or auto (got {gas!r} in {where}); "
            "use train.chunk_size (GradCache) to grow the contrastive batch"
        )
    filled = {
        "train_micro_batch_size_per_gpu": tc.batch_size,
        "gradient_accumulation_steps": 1,
        "gradient_clipping": float(tc.max_grad_norm or 0.0),
    }
    for key, value in filled.items():
        if config.get(key, "auto") == "auto":
            config[key] = value
    config.pop("train_batch_size", None)  # derived by DeepSpeed from micro batch x processes
    for precision in ("bf16", "fp16"):
        section = config.setdefault(precision, {})
        if section.get("enabled", "auto") == "auto":
            section["enabled"] = tc.mixed_precision == precision
    return config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def accelerator_kwargs(config: dict[str, Any], mixed_precision: str) -> dict[str, Any]:
    """Keyword arguments for ``Accelerator`` that run DeepSpeed with ``config``.

    Sets the environment accelerate reads (``ACCELERATE_USE_DEEPSPEED``; a one-process rendezvous
    when the run was not launched by ``accelerate``/``torchrun``) and, without CUDA, the gloo
    backend (accelerate has no CPU default for DeepSpeed).
    """
    from accelerate.utils import DeepSpeedPlugin, InitProcessGroupKwargs

    os.environ["ACCELERATE_USE_DEEPSPEED"] = "true"
    if "LOCAL_RANK" not in os.environ:
        os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", LOCAL_WORLD_SIZE="1")
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(_free_port()))
    kwargs: dict[str, Any] = {
        "deepspeed_plugin": DeepSpeedPlugin(hf_ds_config=config),
        "mixed_precision": mixed_precision,
    }
    if not torch.cuda.is_available():
        kwargs["kwargs_handlers"] = [InitProcessGroupKwargs(backend="gloo")]
    return kwargs


class EngineStep:
    """Backward and step through a DeepSpeed engine, with GradCache's chunks accumulated."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def backward(self, loss: torch.Tensor) -> None:
        self.engine.backward(loss)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Chunks inside are not the step's last: not an accumulation boundary."""
        self.engine.set_gradient_accumulation_boundary(False)
        try:
            yield
        finally:
            self.engine.set_gradient_accumulation_boundary(True)

    def step(self) -> None:
        """Reduce (ZeRO), clip (``gradient_clipping``), update and zero the gradients."""
        self.engine.set_gradient_accumulation_boundary(True)
        self.engine.step()


def load_sharded_optimizer(optimizer: Any, checkpoint: Path, world: int) -> None:
    """Restore a ZeRO optimizer from the ``optimizer-rank{r}.pt`` files of ``checkpoint``.

    Each rank takes its own partition (DeepSpeed indexes the list by data-parallel rank),
    including the fp32 master weights.
    """
    files = sorted(checkpoint.glob("optimizer-rank*.pt"))
    if len(files) != world:
        raise ValueError(
            f"{checkpoint}: the optimizer state is sharded over {len(files)} processes (DeepSpeed ZeRO); "
            f"resume with {len(files)} processes, not {world}"
        )
    states = [
        torch.load(checkpoint / f"optimizer-rank{r}.pt", map_location="cpu", weights_only=False)
        for r in range(world)
    ]
    zero = getattr(optimizer, "optimizer", optimizer)  # accelerate's wrapper -> DeepSpeed's optimizer
    zero.load_state_dict(states, load_from_fp32_weights=True)
