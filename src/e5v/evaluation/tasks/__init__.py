"""Evaluators: ``evaluate(ctx, data, options) -> dict`` per task family.

Every evaluator returns a dict with ``task``, ``primary_metric`` (a key of ``metrics``),
``metrics`` (flat ``name -> value``; percentages, x100 as in the papers' tables) and
``details`` (counts, per-subset values, the prompts used, files written).
"""

from __future__ import annotations
