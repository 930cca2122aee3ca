"""Batch embedding on Ray Data: actors holding the model write parquet shards; resumable.

The same call runs on a laptop (a local Ray instance is started) and on a cluster
(``address="auto"`` or ``"ray://head:10001"``). Each shard is one Ray Data row; a pool of actors
(one per GPU, or ``num_cpus_per_actor`` CPU slots each) loads the model once, reads the shard's
items, embeds them and writes ``part-XXXXX.parquet``. Shards already written for the same ids are
skipped, so an interrupted job is resumed by running it again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from e5v.collection import Record, check_unique_ids
from e5v.scale.shards import (
    Shard,
    plan_shards,
    prepare_output,
    record_from_dict,
    record_to_dict,
    shard_is_done,
    write_shard,
)

logger = logging.getLogger(__name__)

ModelSpec = str | Path | Callable[[], Any]


@dataclass
class RayEmbedReport:
    """Outcome of :func:`ray_embed`: shards written now / skipped, items embedded, failures."""

    output: Path
    shards_total: int = 0
    shards_skipped: int = 0
    shards_written: int = 0
    items_embedded: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    actors: int = 0


class ShardWorker:
    """Ray actor: holds one model, embeds whole shards and writes them (a callable class for Ray Data)."""

    def __init__(
        self,
        model: ModelSpec,
        output: str,
        prompt: Any = None,
        batch_size: int = 16,
        embedder_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if callable(model):
            self.embedder = model()
        else:
            from e5v import Embedder

            self.embedder = Embedder.from_pretrained(str(model), **(embedder_kwargs or {}))
        self.output = Path(output)
        self.prompt = prompt
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from e5v.index.tolerant import embed_tolerant

        shards, counts, failures = [], [], []
        for index, payload in zip(batch["shard"], batch["records"], strict=True):
            records = tuple(record_from_dict(d) for d in json.loads(payload))
            shard = Shard(int(index), records)
            done = embed_tolerant(self.embedder, records, prompt=self.prompt, batch_size=self.batch_size)
            write_shard(
                self.output,
                shard,
                [r.id for r in done.records],
                done.vectors,
                self.embedder.name,
                done.failed,
            )
            shards.append(shard.index)
            counts.append(len(done.records))
            failures.append(json.dumps(done.failed))
        return {
            "shard": np.array(shards),
            "embedded": np.array(counts),
            "failed": np.array(failures, dtype=object),
        }


def _model_id(model: ModelSpec) -> str:
    if callable(model):
        return f"{getattr(model, '__module__', '')}.{getattr(model, '__qualname__', repr(model))}"
    return str(model)


def ray_embed(
    records: Sequence[Record],
    output: str | Path,
    model: ModelSpec | None = None,
    *,
    prompt: Any = None,
    batch_size: int = 16,
    shard_size: int = 1024,
    num_actors: int | None = None,
    num_gpus_per_actor: float | None = None,
    num_cpus_per_actor: float = 1.0,
    address: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
    embedder_kwargs: dict[str, Any] | None = None,
    ray_init_kwargs: dict[str, Any] | None = None,
) -> RayEmbedReport:
    """Embed a collection on Ray Data into a folder of parquet shards (resumable).

    Args:
        records: the collection (texts and image paths; see :mod:`e5v.collection`).
        output: output folder (``x.parquet`` is fine: a folder of parquet parts is one dataset).
        model: a name / hub id / local dir for ``Embedder.from_pretrained``, or a zero-argument
            function returning an embedder (it runs inside each actor). ``None``: the default model.
        prompt: prompts for ``encode``.
        batch_size: model batch size inside an actor.
        shard_size: records per parquet shard (the unit of work and of resuming).
        num_actors: model replicas; default one per GPU, else one per ``num_cpus_per_actor`` CPUs.
        num_gpus_per_actor: GPUs per actor; default 1 when the cluster has GPUs, else 0.
        num_cpus_per_actor: CPU slots per actor.
        address: Ray cluster address (``"auto"``, ``"ray://host:10001"``); ``None`` starts or
            reuses a local instance.
        device, dtype: passed to ``Embedder.from_pretrained`` (named models only).
        embedder_kwargs: more ``from_pretrained`` options.
        ray_init_kwargs: more ``ray.init`` options (``num_cpus``, ``runtime_env``...).

    Returns:
        A :class:`RayEmbedReport`; read the vectors with :func:`e5v.scale.read_shards`.
    """
    import ray

    start = time.perf_counter()
    output = Path(output)
    if output.suffix == ".npy":
        raise ValueError("the Ray engine writes a folder of parquet shards: give a folder or a .parquet name")
    check_unique_ids(records)
    if model is None:
        from e5v.zoo import DEFAULT_MODEL

        model = DEFAULT_MODEL
    shards = plan_shards(records, shard_size)
    job = {
        "model": _model_id(model),
        "prompt": prompt if prompt is None or isinstance(prompt, str) else repr(prompt),
    }
    job["shard_size"] = shard_size
    prepare_output(output, job, len(shards))
    pending = [s for s in shards if not shard_is_done(output, s)]
    report = RayEmbedReport(
        output=output, shards_total=len(shards), shards_skipped=len(shards) - len(pending)
    )
    logger.info(
        "%d shards, %d already written, %d to embed", len(shards), report.shards_skipped, len(pending)
    )
    if pending:
        if not ray.is_initialized():
            ray.init(address=address, **(ray_init_kwargs or {}))
        report.actors = _run(
            pending,
            output,
            model,
            prompt,
            batch_size,
            num_actors,
            num_gpus_per_actor,
            num_cpus_per_actor,
            {**(embedder_kwargs or {}), **_device_kwargs(device, dtype)},
            report,
        )
    report.seconds = time.perf_counter() - start
    return report


def _device_kwargs(device: str | None, dtype: str | None) -> dict[str, Any]:
    return {k: v for k, v in (("device", device), ("dtype", dtype)) if v is not None}


def _run(
    pending: list[Shard],
    output: Path,
    model: ModelSpec,
    prompt: Any,
    batch_size: int,
    num_actors: int | None,
    num_gpus: float | None,
    num_cpus: float,
    embedder_kwargs: dict[str, Any],
    report: RayEmbedReport,
) -> int:
    import ray
    import ray.data

    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if num_gpus is None:
        num_gpus = 1.0 if gpus > 0 else 0.0
    if num_actors is None:
        by_gpu = int(gpus // num_gpus) if num_gpus > 0 else 0
        num_actors = by_gpu or max(1, int(resources.get("CPU", 1) // max(num_cpus, 1e-9)))
    num_actors = max(1, min(num_actors, len(pending)))
    rows = [
        {"shard": s.index, "records": json.dumps([record_to_dict(r) for r in s.records])} for s in pending
    ]
    dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
    results = dataset.map_batches(
        ShardWorker,
        batch_size=1,
        concurrency=num_actors,
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        fn_constructor_kwargs={
            "model": model,
            "output": str(output),
            "prompt": prompt,
            "batch_size": batch_size,
            "embedder_kwargs": embedder_kwargs,
        },
    ).take_all()
    for row in results:
        report.shards_written += 1
        report.items_embedded += int(row["embedded"])
        report.failed += [tuple(f) for f in json.loads(row["failed"])]
    return num_actors
