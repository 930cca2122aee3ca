"""Built-in benchmarks: each module reads one published format and registers its benchmarks."""

from __future__ import annotations

from e5v.evaluation.benchmarks import cirr, fashioniq, karpathy, long_caption, mmeb, sts, sugarcrepe

__all__ = ["cirr", "fashioniq", "karpathy", "long_caption", "mmeb", "sts", "sugarcrepe"]
