"""The benchmark registry: data, not code paths. Adding a benchmark is one small file in
:mod:`e5v.evaluation.benchmarks` that builds a :class:`Benchmark` and calls :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e5v.evaluation.encoder import EncodeContext

__all__ = ["BENCHMARKS", "GROUPS", "Benchmark", "EvalOptions", "expand", "get", "register"]


@dataclass(frozen=True)
class EvalOptions:
    """Settings evaluators may read; each one ignores what does not concern it.

    Attributes:
        fashioniq_both_orders: embed each FashionIQ query with its two captions joined in both
            orders and sum the two (raw) embeddings, as the E5-V reference code does (the paper
            does not mention it). ``False``: one order, caption 1 then caption 2.
        font: .ttf used to render captions for I2I (``None``: :func:`e5v.evaluation.render.find_font`).
        output_dir: where figures (modality-gap PNG) and CIRR test predictions are written.
        mmeb_prompt: prompt for MMEB items (``None``: the encoder's default prompts).
        mmeb_datasets: restrict MMEB to these dataset names (``None``: all 36).
        max_captions: captions kept per image in Flickr30K/COCO (5, as the references do).
        ties: tie convention of the ranking metrics.
    """

    fashioniq_both_orders: bool = True
    font: str | None = None
    output_dir: Path | str | None = None
    mmeb_prompt: Any = None
    mmeb_datasets: tuple[str, ...] | None = None
    max_captions: int | None = 5
    ties: str = "pessimistic"

    def __post_init__(self) -> None:
        if self.output_dir is not None and not isinstance(self.output_dir, Path):
            object.__setattr__(self, "output_dir", Path(self.output_dir).expanduser())
        if self.ties not in ("pessimistic", "optimistic"):
            raise ValueError(f"ties must be 'pessimistic' or 'optimistic', got {self.ties!r}")


Loader = Callable[..., Any]
Evaluator = Callable[[EncodeContext, Any, EvalOptions], dict]


@dataclass(frozen=True)
class Benchmark:
    """A named benchmark: how to load it and how to evaluate it.

    Attributes:
        name: registry key (lower case, e.g. ``"flickr30k"``).
        task: the evaluator family (``"image_text"``, ``"i2i"``, ``"cirr"``, ...), used to group tables.
        load: ``load(root: Path, **opts)`` reading the published format under ``root`` (the data root).
        evaluate: ``evaluate(ctx, data, options) -> dict`` with ``primary_metric`` and ``metrics``.
        layout: the expected files, relative to the data root (shown in errors and docs).
        load_hf: optional ``load_hf(repo_id, **opts)`` reading the dataset through ``datasets``.
        hf_id: default hub id for ``load_hf``.
        reference: where the published numbers are (paper and table).
    """

    name: str
    task: str
    load: Loader
    evaluate: Evaluator
    layout: str
    load_hf: Loader | None = None
    hf_id: str | None = None
    reference: str = ""
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)


BENCHMARKS: dict[str, Benchmark] = {}

#: Named groups of benchmarks (the papers' evaluation suites).
GROUPS: dict[str, tuple[str, ...]] = {
    "sts": ("sts12", "sts13", "sts14", "sts15", "sts16", "stsb", "sick-r"),
    "e5v": (
        "flickr30k",
        "coco",
        "cirr",
        "fashioniq",
        "i2i-flickr30k",
        "i2i-coco",
        "sts12",
        "sts13",
        "sts14",
        "sts15",
        "sts16",
        "stsb",
        "sick-r",
    ),
    "unime": ("mmeb", "flickr30k", "coco", "sharegpt4v-1k", "urban1k", "sugarcrepe"),
}


def register(benchmark: Benchmark) -> Benchmark:
    """Add (or replace) a benchmark in the registry."""
    BENCHMARKS[benchmark.name] = benchmark
    return benchmark


def get(name: str) -> Benchmark:
    _ensure_loaded()
    key = name.lower()
    if key not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}")
    return BENCHMARKS[key]


def expand(names: list[str] | tuple[str, ...]) -> list[str]:
    """Benchmark names with groups expanded, in order, without duplicates."""
    _ensure_loaded()
    out: list[str] = []
    for name in names:
        for item in GROUPS.get(name.lower(), (name.lower(),)):
            get(item)
            if item not in out:
                out.append(item)
    return out


def _ensure_loaded() -> None:
    import e5v.evaluation.benchmarks  # noqa: F401  (registers the built-in benchmarks)
