"""Composed image retrieval: CIRR and FashionIQ with E5-V's composed prompts."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from e5v.evaluation.data import CIRRData, FashionIQData
from e5v.evaluation.encoder import EncodeContext
from e5v.evaluation.metrics import recall_at_k, retrieval_ranks, subset_ranks, top_k
from e5v.evaluation.registry import EvalOptions
from e5v.inputs import Interleaved
from e5v.prompts import PROMPTS, resolve_prompts

logger = logging.getLogger(__name__)

CIRR_KS = (1, 5, 10, 50)
CIRR_SUBSET_KS = (1, 2, 3)
FASHIONIQ_KS = (10, 50)
#: Table order of the paper (Table 3).
FASHIONIQ_CATEGORIES = ("shirt", "dress", "toptee")
#: The reference code prompts toptee as a "shirt".
FASHIONIQ_PROMPT_CATEGORY = {"dress": "dress", "shirt": "shirt", "toptee": "shirt"}


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def evaluate_cirr(ctx: EncodeContext, data: CIRRData, options: EvalOptions) -> dict:
    """CIRR: query = (reference image, modification text) with ``cirr_query``; gallery with ``cirr_target``.

    The reference image is removed from each query's ranking (as the reference code and SEARLE
    do). Validation: Recall@1/5/10/50, Recall_subset@1/2/3 and CIRR's "Avg" = (R@5 + R_s@1) / 2.
    Test (labels hidden): writes the two prediction files of the official server format.
    """
    gallery_emb = ctx.encode(data.gallery, "cirr_target", part="gallery")
    queries = [
        Interleaved(image=data.gallery[r], text=c)
        for r, c in zip(data.references, data.captions, strict=True)
    ]
    query_emb = ctx.encode(queries, "cirr_query", part=f"queries_{data.split}")
    details: dict = {
        "split": data.split,
        "n_queries": len(queries),
        "n_gallery": len(data.gallery),
        "prompts": ["cirr_query", "cirr_target"],
    }
    if data.targets is None:
        details["files"] = _write_cirr_submission(data, query_emb, gallery_emb, options)
        return {"task": "cirr", "primary_metric": None, "metrics": {}, "details": details}
    ranks = retrieval_ranks(query_emb, gallery_emb, data.targets, exclude=data.references, ties=options.ties)  # type: ignore[arg-type]
    sub = subset_ranks(
        query_emb,
        gallery_emb,
        data.targets,
        data.subsets,
        exclude=data.references,
        ties=options.ties,  # type: ignore[arg-type]
    )
    metrics = {f"R@{k}": 100.0 * v for k, v in recall_at_k(ranks, CIRR_KS).items()}
    metrics.update({f"R_subset@{k}": 100.0 * v for k, v in recall_at_k(sub, CIRR_SUBSET_KS).items()})
    metrics["avg"] = (metrics["R@5"] + metrics["R_subset@1"]) / 2
    return {"task": "cirr", "primary_metric": "R@1", "metrics": metrics, "details": details}


def _write_cirr_submission(
    data: CIRRData, query_emb: np.ndarray, gallery_emb: np.ndarray, options: EvalOptions
) -> list[str]:
    if options.output_dir is None:
        logger.warning("CIRR test split: no output_dir given, prediction files not written")
        return []
    top = top_k(query_emb, gallery_emb, 50, exclude=data.references)
    recall = {"version": "rc2", "metric": "recall"}
    subset = {"version": "rc2", "metric": "recall_subset"}
    for i, pair_id in enumerate(data.pair_ids):
        recall[str(pair_id)] = [data.gallery_ids[j] for j in top[i]]  # type: ignore[assignment]
        members = [m for m in data.subsets[i] if m != data.references[i]]
        scores = gallery_emb[members] @ query_emb[i]
        order = np.argsort(-scores, kind="stable")[:3]
        subset[str(pair_id)] = [data.gallery_ids[members[j]] for j in order]  # type: ignore[assignment]
    Path(options.output_dir).mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in (("cirr_test_recall.json", recall), ("cirr_test_recall_subset.json", subset)):
        path = Path(options.output_dir) / name
        path.write_text(json.dumps(content))
        paths.append(str(path))
    return paths


def join_fashioniq_captions(first: str, second: str) -> str:
    """The reference's join: each caption stripped of surrounding '.', '?', ',' and spaces, then ', '."""
    return ", ".join(c.strip(".?, ") for c in (first, second))


def evaluate_fashioniq(ctx: EncodeContext, data: FashionIQData, options: EvalOptions) -> dict:
    """FashionIQ (val): Recall@10/50 per category and their averages.

    Query = (candidate image, the two relative captions joined) with ``fashioniq_query``; the
    category's image split is the gallery, embedded with ``fashioniq_target``; ``{cat}`` is the
    category, except toptee which is prompted as "shirt" as in the reference code. With
    ``options.fashioniq_both_orders`` (default, as the reference code) each query is embedded
    with the captions in both orders and the two raw embeddings are summed.
    """
    metrics: dict[str, float] = {}
    details: dict = {"both_orders": options.fashioniq_both_orders, "categories": {}}
    present = [c for c in FASHIONIQ_CATEGORIES if c in data.splits]
    for category in present:
        split = data.splits[category]
        sub = ctx.for_dataset(f"{ctx.dataset}/{category}")
        cat = FASHIONIQ_PROMPT_CATEGORY.get(category, category)
        default = PROMPTS["one_word"]
        target_prompt = resolve_prompts("fashioniq_target", default, cat=cat)
        query_prompt = resolve_prompts("fashioniq_query", default, cat=cat)
        gallery_emb = sub.encode(split.gallery, target_prompt, part="gallery")
        refs = split.references
        forward = [
            Interleaved(image=img, text=join_fashioniq_captions(a, b))
            for img, (a, b) in zip(refs, split.captions, strict=True)
        ]
        if options.fashioniq_both_orders:
            backward = [
                Interleaved(image=img, text=join_fashioniq_captions(b, a))
                for img, (a, b) in zip(refs, split.captions, strict=True)
            ]
            q1 = sub.encode(forward, query_prompt, part="queries_order1", normalize=False)
            q2 = sub.encode(backward, query_prompt, part="queries_order2", normalize=False)
            query_emb = _normalise(q1 + q2)
        else:
            query_emb = sub.encode(forward, query_prompt, part="queries")
        ranks = retrieval_ranks(query_emb, gallery_emb, split.targets, ties=options.ties)  # type: ignore[arg-type]
        for k, v in recall_at_k(ranks, FASHIONIQ_KS).items():
            metrics[f"{category}_R@{k}"] = 100.0 * v
        details["categories"][category] = {
            "n_queries": len(split.targets),
            "n_gallery": len(split.gallery),
            "prompt_category": cat,
        }
    for k in FASHIONIQ_KS:
        metrics[f"avg_R@{k}"] = float(np.mean([metrics[f"{c}_R@{k}"] for c in present]))
    if len(present) < len(FASHIONIQ_CATEGORIES):
        details["note"] = f"average over {', '.join(present)} only"
    return {"task": "fashioniq", "primary_metric": "avg_R@10", "metrics": metrics, "details": details}
