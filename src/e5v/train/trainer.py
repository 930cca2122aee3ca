"""The training loop: one process on a CPU, or many via ``accelerate launch``.

Per step: the step's examples (a pure function of seed and step, so a resumed run sees the same
batches), the recipe's streams of inputs, prompts built by the Embedder (``collate``),
embeddings by ``Embedder.forward``, the recipe's objective with embeddings all-gathered across
processes (differentiable), optionally through GradCache, then the gradients of the trainable
parameters averaged over processes, clipping, an optimizer and a scheduler step.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from e5v.train.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from e5v.train.config import CONFIG_NAME, Config, ConfigError, TrainConfig
from e5v.train.distributed import all_reduce_mean, is_distributed
from e5v.train.export import export_merged
from e5v.train.gradcache import chunked, full_batch_step, grad_cache_step
from e5v.train.model import Built, build_embedder
from e5v.train.recipes import get_recipe
from e5v.train.zero import EngineStep, accelerator_kwargs, deepspeed_config

logger = logging.getLogger(__name__)

METRICS = "metrics.jsonl"
EXPORT = "export"


@dataclass
class StepInfo:
    """What a step callback receives."""

    step: int  # steps completed
    loss: float
    lr: float
    tokens_per_second: float


@dataclass
class TrainResult:
    output_dir: Path
    steps: int
    losses: list[float] = field(default_factory=list)
    export_dir: Path | None = None
    skipped_rows: int = 0
    embedder: Any = None  # the trained Embedder (merged weights when exported)


class BatchSchedule:
    """Which examples each step uses: an epoch-seeded permutation cut into global batches.

    Step ``s`` of epoch ``e`` takes rows ``perm_e[s*G:(s+1)*G]`` (``G`` = batch per process x
    processes; the last incomplete batch of an epoch is dropped); this process takes its slice.
    """

    def __init__(self, size: int, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        self.size, self.batch_size, self.seed, self.rank, self.world = size, batch_size, seed, rank, world
        self.global_batch = batch_size * world
        self.steps_per_epoch = size // self.global_batch
        if self.steps_per_epoch == 0:
            raise ConfigError(
                f"{size} examples cannot fill one global batch of {self.global_batch} (train.batch_size)"
            )
        self._epoch, self._perm = -1, torch.empty(0)

    def indices(self, step: int) -> list[int]:
        epoch, position = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            self._epoch, self._perm = epoch, torch.randperm(self.size, generator=generator)
        start = position * self.global_batch + self.rank * self.batch_size
        return self._perm[start : start + self.batch_size].tolist()


def _scheduler(name: str, optimizer: torch.optim.Optimizer, warmup: int, total: int) -> Any:
    from transformers import get_scheduler

    names = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}
    if name not in names:
        raise ConfigError(f"train.scheduler must be one of {sorted(names)}, got {name!r}")
    return get_scheduler(names[name], optimizer, num_warmup_steps=warmup, num_training_steps=total)


def _accelerator(tc: TrainConfig, zero_config: dict[str, Any] | None) -> Any:
    """A fresh ``Accelerator`` for this run: plain data parallelism, or DeepSpeed ZeRO."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    # A second run in the same process (a notebook, a sweep) may change the precision: accelerate
    # keeps its settings in a singleton, so forget them (the process group, if any, stays).
    AcceleratorState._reset_state()
    if tc.mixed_precision == "fp16" and not torch.cuda.is_available():
        # accelerate would silently run fp32 on the CPU.
        raise ConfigError("train.mixed_precision=fp16 needs a CUDA GPU; on the CPU use bf16 (or no)")
    if zero_config is not None:
        return Accelerator(**accelerator_kwargs(zero_config, tc.mixed_precision))
    # cpu=True where there is no CUDA: accelerate then runs several CPU processes over gloo.
    return Accelerator(mixed_precision=tc.mixed_precision, cpu=not torch.cuda.is_available())


def _sync_gradients(params: Sequence[torch.nn.Parameter]) -> None:
    """Average the trainable parameters' gradients over processes (what DDP does)."""
    if not is_distributed():
        return
    import torch.distributed as dist

    world = dist.get_world_size()
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad)
        p.grad.div_(world)


def train(
    config: Config,
    resume: bool = False,
    callbacks: Sequence[Callable[[StepInfo], None]] = (),
    show_progress: bool = True,
) -> TrainResult:
    """Run a training recipe described by ``config``.

    Args:
        config: the resolved configuration (see :mod:`e5v.train.config`).
        resume: continue from the latest checkpoint in ``train.output_dir`` (weights, optimizer,
            scheduler, RNG and data position); starts from scratch when there is none.
        callbacks: called after every step with a :class:`StepInfo`.
        show_progress: show a progress bar.

    Returns:
        A :class:`TrainResult` (per-step losses of this invocation, export directory).
    """
    from accelerate.utils import set_seed

    tc = config.train
    recipe = get_recipe(tc.recipe)
    zero_config = deepspeed_config(tc.deepspeed, tc) if tc.deepspeed else None
    accelerator = _accelerator(tc, zero_config)
    rank, world = accelerator.process_index, accelerator.num_processes
    out = Path(tc.output_dir)
    set_seed(tc.seed)

    data = recipe.load(config)  # every row validated before any model is loaded
    schedule = BatchSchedule(len(data), tc.batch_size, tc.seed, rank, world)
    max_steps = math.ceil(tc.epochs * schedule.steps_per_epoch) if tc.epochs else tc.max_steps

    built: Built = build_embedder(config.model, config.lora, device=accelerator.device)
    embedder = built.embedder
    if recipe.needs_images and not embedder.backbone.multimodal:
        raise ConfigError(f"recipe {recipe.name} needs image inputs but {config.model.name} is text-only")
    prompts = config.model.prompts if config.model.prompts is not None else recipe.default_prompts
    params = [p for p in embedder.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=tc.lr, weight_decay=tc.weight_decay)
    scheduler = _scheduler(tc.scheduler, optimizer, tc.warmup_steps, max_steps)
    engine: EngineStep | None = None
    if zero_config is not None:
        # The engine wraps embedder.model (the same module object, which Embedder.forward keeps
        # calling part by part); ZeRO partitions the optimizer state and the gradients.
        wrapped, optimizer = accelerator.prepare(embedder.model, optimizer)
        engine = EngineStep(wrapped)
    else:
        optimizer = accelerator.prepare_optimizer(optimizer)
    objective = recipe.objective(config)
    # Same seed everywhere for the (LoRA) initialisation above; from here on each process draws
    # its own dropout masks.
    set_seed(tc.seed + rank)

    start = 0
    checkpoints = list_checkpoints(out)
    if resume and checkpoints:
        start = load_checkpoint(
            checkpoints[-1], embedder.model, optimizer, scheduler, rank, world if engine else None
        )
        logger.info("resumed from %s (step %d)", checkpoints[-1], start)
    elif resume:
        logger.warning("--resume: no checkpoint in %s, starting from scratch", out)
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        config.dump(out / CONFIG_NAME)
    writer = _tensorboard(out) if (tc.tensorboard and accelerator.is_main_process) else None

    def encode(batch: Any) -> torch.Tensor:
        with accelerator.autocast():
            return embedder.forward(batch).float()  # [c, d]

    def save(at_step: int) -> None:
        save_checkpoint(
            out,
            at_step,
            embedder.model,
            optimizer,
            scheduler,
            config,
            rank,
            tc.keep_checkpoints,
            accelerator.wait_for_everyone,
            optimizer_per_rank=engine is not None,
        )

    result = TrainResult(out, start, skipped_rows=data.report.skipped)
    bar = tqdm(
        total=max_steps,
        initial=start,
        desc=f"train {recipe.name}",
        disable=not (show_progress and accelerator.is_main_process),
    )
    embedder.model.train()
    for step in range(start, max_steps):
        began = time.perf_counter()
        indices = schedule.indices(step)
        recipe.before_step(objective, data, indices)
        streams = [
            [
                embedder.collate(chunk, prompts=prompts, max_length=config.data.max_text_tokens)
                for chunk in chunked(items, tc.chunk_size)
            ]
            for items in recipe.streams([data[i] for i in indices])
        ]
        tokens = sum(int(b["attention_mask"].sum()) for stream in streams for b in stream)
        if engine is not None:  # DeepSpeed: reduction, clipping and update inside the engine
            if tc.chunk_size:
                loss = grad_cache_step(encode, streams, objective, engine.backward, engine.no_sync)
            else:
                loss = full_batch_step(encode, streams, objective, engine.backward)
            engine.step()
        else:
            step_fn = grad_cache_step if tc.chunk_size else full_batch_step
            loss = step_fn(encode, streams, objective, backward=accelerator.backward)
            _sync_gradients(params)
            if tc.max_grad_norm:
                accelerator.clip_grad_norm_(params, tc.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        scheduler.step()

        loss_value = float(all_reduce_mean(loss))
        lr = scheduler.get_last_lr()[0]
        elapsed = time.perf_counter() - began
        info = StepInfo(step + 1, loss_value, lr, tokens * world / max(elapsed, 1e-9))
        result.losses.append(loss_value)
        result.steps = step + 1
        if accelerator.is_main_process:
            _log(out, info, writer, force=(step + 1) % max(tc.log_every, 1) == 0 or step + 1 == max_steps)
            bar.set_postfix(loss=f"{loss_value:.4f}", lr=f"{lr:.2e}", tok_s=f"{info.tokens_per_second:.0f}")
        bar.update(1)
        if tc.save_every and (step + 1) % tc.save_every == 0 and step + 1 < max_steps:
            save(step + 1)
        for callback in callbacks:
            callback(info)
    bar.close()
    if start < max_steps:
        save(max_steps)
    if writer is not None:
        writer.close()
    if tc.export and accelerator.is_main_process:
        result.export_dir = export_merged(built, config, out / EXPORT)
        logger.info("exported the merged model to %s", result.export_dir)
    accelerator.wait_for_everyone()
    result.embedder = embedder
    return result


def _tensorboard(out: Path) -> Any:
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(out / "tensorboard"))


def _log(out: Path, info: StepInfo, writer: Any, force: bool) -> None:
    """Every step goes to ``metrics.jsonl``; every ``log_every`` steps to the log too."""
    record = {
        "step": info.step,
        "loss": info.loss,
        "lr": info.lr,
        "tokens_per_second": round(info.tokens_per_second, 1),
    }
    with (out / METRICS).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
    if writer is not None:
        writer.add_scalar("train/loss", info.loss, info.step)
        writer.add_scalar("train/lr", info.lr, info.step)
        writer.add_scalar("train/tokens_per_second", info.tokens_per_second, info.step)
    if force:
        logger.info(
            "step %d loss %.4f lr %.2e tokens/s %.0f", info.step, info.loss, info.lr, info.tokens_per_second
        )


def read_metrics(output_dir: str | Path) -> dict[int, dict[str, float]]:
    """Step -> last logged record (a resumed run overwrites the steps it repeats)."""
    records: dict[int, dict[str, float]] = {}
    path = Path(output_dir) / METRICS
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                records[int(record["step"])] = record
    return records
