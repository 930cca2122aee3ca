"""Evaluation harness: the E5-V and UniME benchmarks for any encoder.

>>> from e5v import Embedder
>>> from e5v.evaluation import evaluate, format_results
>>> results = evaluate(Embedder.from_pretrained("..."), ["flickr30k", "sts"], data_root="data")
>>> print(format_results(results))

Layers: :mod:`~e5v.evaluation.metrics` and :mod:`~e5v.evaluation.gap` are pure NumPy;
:mod:`~e5v.evaluation.benchmarks` reads each dataset's published files and registers it in
:mod:`~e5v.evaluation.registry`; :mod:`~e5v.evaluation.tasks` holds the evaluators;
:mod:`~e5v.evaluation.runner` ties them together with an embedding cache.
"""

from __future__ import annotations

from e5v.evaluation.cache import EmbeddingCache, default_cache_dir
from e5v.evaluation.data import DataError
from e5v.evaluation.encoder import EncodeContext, Encoder
from e5v.evaluation.registry import BENCHMARKS, GROUPS, Benchmark, EvalOptions, expand, get, register
from e5v.evaluation.render import find_font, render_text_image
from e5v.evaluation.runner import evaluate, load_benchmark, save_results
from e5v.evaluation.tables import format_results, tables_for

__all__ = [
    "BENCHMARKS",
    "GROUPS",
    "Benchmark",
    "DataError",
    "EmbeddingCache",
    "EncodeContext",
    "Encoder",
    "EvalOptions",
    "default_cache_dir",
    "evaluate",
    "expand",
    "find_font",
    "format_results",
    "get",
    "load_benchmark",
    "register",
    "render_text_image",
    "save_results",
    "tables_for",
]
