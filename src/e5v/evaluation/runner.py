"""Run benchmarks on an encoder: load each dataset, evaluate, collect and save the results."""

from __future__ import annotations

import dataclasses
import json
import logging
import platform
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from e5v.evaluation.cache import EmbeddingCache
from e5v.evaluation.data import DataError
from e5v.evaluation.encoder import EncodeContext, Encoder
from e5v.evaluation.registry import Benchmark, EvalOptions, expand, get

logger = logging.getLogger(__name__)

__all__ = ["evaluate", "load_benchmark", "save_results"]


def load_benchmark(
    benchmark: Benchmark,
    data_root: str | Path | None,
    options: EvalOptions,
    *,
    hub: bool = False,
    hub_id: str | None = None,
) -> Any:
    """Load a benchmark's data from ``data_root`` (its documented layout) or from the hub."""
    if hub or hub_id:
        if benchmark.load_hf is None:
            raise DataError(
                f"{benchmark.name}: no hub loader; put the files under a data root:\n{benchmark.layout}"
            )
        repo = hub_id or benchmark.hf_id
        logger.info("loading %s from the hub (%s)", benchmark.name, repo)
        return benchmark.load_hf(repo, options)
    if data_root is None:
        raise DataError(f"{benchmark.name}: no data root given; expected under it:\n{benchmark.layout}")
    root = Path(data_root).expanduser()
    if not root.is_dir():
        raise DataError(f"data root {root} is not a directory")
    logger.info("loading %s from %s", benchmark.name, root)
    return benchmark.load(root, options)


def evaluate(
    encoder: Encoder,
    benchmarks: Sequence[str],
    data_root: str | Path | None = None,
    *,
    options: EvalOptions | None = None,
    batch_size: int = 16,
    cache_dir: str | Path | None = None,
    hub: bool = False,
    hub_ids: Mapping[str, str] | None = None,
    output: str | Path | None = None,
    show_progress: bool = False,
) -> dict:
    """Evaluate ``encoder`` on benchmarks (names or groups such as ``"sts"``, ``"e5v"``, ``"unime"``).

    Args:
        encoder: anything with ``encode(items, prompt=..., batch_size=...)`` (e.g. ``e5v.Embedder``).
        benchmarks: registry names or group names.
        data_root: directory holding each dataset in its documented layout.
        options: evaluator settings (see :class:`EvalOptions`).
        batch_size: passed to ``encode``.
        cache_dir: embedding cache directory (``None``: no cache).
        hub: read the datasets from the Hugging Face hub instead (where a hub loader exists).
        hub_ids: per-benchmark hub repository ids overriding the defaults.
        output: where to write the results JSON.
        show_progress: let the encoder show its progress bars (when it has them).

    Returns:
        ``{"model", "created", "settings", "benchmarks": {name: result}}``; each result has
        ``primary_metric``, ``primary`` (its value), ``metrics`` and ``details``.
    """
    options = options or EvalOptions()
    names = expand(list(benchmarks))
    cache = EmbeddingCache(Path(cache_dir).expanduser()) if cache_dir is not None else None
    ctx = EncodeContext(encoder, batch_size=batch_size, cache=cache, show_progress=show_progress)
    results: dict[str, Any] = {
        "model": ctx.model,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "settings": {
            "batch_size": batch_size,
            "data_root": None if data_root is None else str(data_root),
            "hub": hub,
            "options": {k: _jsonable(v) for k, v in dataclasses.asdict(options).items()},
            "python": platform.python_version(),
        },
        "benchmarks": {},
    }
    for name in names:
        benchmark = get(name)
        data = load_benchmark(benchmark, data_root, options, hub=hub, hub_id=(hub_ids or {}).get(name))
        start = time.perf_counter()
        result = benchmark.evaluate(ctx.for_dataset(name), data, options)
        result["benchmark"] = name
        result["task"] = benchmark.task  # the registry's family (long_caption reuses image_text's evaluator)
        result["seconds"] = round(time.perf_counter() - start, 3)
        primary = result.get("primary_metric")
        result["primary"] = result["metrics"].get(primary) if primary else None
        results["benchmarks"][name] = result
        logger.info("%s: %s = %s", name, primary, result["primary"])
    if output is not None:
        save_results(results, output)
    return results


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)  # type: ignore[arg-type]
    return value


def save_results(results: dict, path: str | Path) -> Path:
    """Write ``results`` as indented JSON (parent directories created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=_jsonable))
    return path
