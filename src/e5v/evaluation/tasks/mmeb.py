"""MMEB: 36 datasets, 4 meta-tasks, each query ranks its own 1000 candidates, Precision@1."""

from __future__ import annotations

import numpy as np

from e5v.evaluation.data import MMEBData
from e5v.evaluation.encoder import EncodeContext
from e5v.evaluation.metrics import precision_at_1
from e5v.evaluation.registry import EvalOptions

#: The 36 MMEB evaluation datasets by meta-task (VLM2Vec's order).
META_TASKS: dict[str, tuple[str, ...]] = {
    "classification": (
        "ImageNet-1K",
        "N24News",
        "HatefulMemes",
        "VOC2007",
        "SUN397",
        "Place365",
        "ImageNet-A",
        "ImageNet-R",
        "ObjectNet",
        "Country211",
    ),
    "vqa": (
        "OK-VQA",
        "A-OKVQA",
        "DocVQA",
        "InfographicsVQA",
        "ChartQA",
        "Visual7W",
        "ScienceQA",
        "VizWiz",
        "GQA",
        "TextVQA",
    ),
    "retrieval": (
        "VisDial",
        "CIRR",
        "VisualNews_t2i",
        "VisualNews_i2t",
        "MSCOCO_t2i",
        "MSCOCO_i2t",
        "NIGHTS",
        "WebQA",
        "FashionIQ",
        "Wiki-SS-NQ",
        "OVEN",
        "EDIS",
    ),
    "grounding": ("MSCOCO", "RefCOCO", "RefCOCO-Matching", "Visual7W-Pointing"),
}
DATASET_META_TASK = {name: task for task, names in META_TASKS.items() for name in names}
#: The 16 out-of-distribution datasets (not in MMEB-train); the other 20 are in-distribution.
OOD = frozenset(
    {
        "Place365",
        "ImageNet-A",
        "ImageNet-R",
        "ObjectNet",
        "Country211",
        "ScienceQA",
        "VizWiz",
        "GQA",
        "TextVQA",
        "OVEN",
        "FashionIQ",
        "EDIS",
        "Wiki-SS-NQ",
        "RefCOCO",
        "RefCOCO-Matching",
        "Visual7W-Pointing",
    }
)


def aggregate_mmeb(per_dataset: dict[str, float]) -> dict[str, float]:
    """Per-meta-task means, the standard overall (mean of the datasets) and UniME's overall
    (mean of the meta-task means), plus in-/out-of-distribution means."""
    out: dict[str, float] = {}
    task_means = []
    for task, names in META_TASKS.items():
        values = [per_dataset[n] for n in names if n in per_dataset]
        if values:
            out[f"{task}_mean"] = float(np.mean(values))
            task_means.append(out[f"{task}_mean"])
    out["overall_mean_of_datasets"] = float(np.mean(list(per_dataset.values())))
    out["overall_mean_of_meta_tasks"] = float(np.mean(task_means))
    ind = [v for n, v in per_dataset.items() if n not in OOD]
    ood = [v for n, v in per_dataset.items() if n in OOD]
    if ind:
        out["ind_mean"] = float(np.mean(ind))
    if ood:
        out["ood_mean"] = float(np.mean(ood))
    return out


def evaluate_mmeb(ctx: EncodeContext, data: MMEBData, options: EvalOptions) -> dict:
    """Precision@1 (x100) per dataset, then :func:`aggregate_mmeb`.

    Items: query/candidate text with MMEB's ``<|image_1|>`` marker removed, paired with its image
    (an ``Interleaved`` item), or text / image alone. Prompt: ``options.mmeb_prompt`` (default:
    the encoder's default prompts).
    """
    per_dataset: dict[str, float] = {}
    counts: dict[str, int] = {}
    for ds in data.datasets:
        sub = ctx.for_dataset(f"{ctx.dataset}/{ds.name}")
        q = sub.encode(ds.queries, options.mmeb_prompt, part="queries")
        c = sub.encode(ds.candidates, options.mmeb_prompt, part="candidates")
        per_dataset[ds.name] = 100.0 * precision_at_1(q, c, ds.candidate_ids, ties=options.ties)  # type: ignore[arg-type]
        counts[ds.name] = len(ds.queries)
    metrics = {f"{name}_P@1": v for name, v in per_dataset.items()}
    metrics.update(aggregate_mmeb(per_dataset))
    missing = [n for n in DATASET_META_TASK if n not in per_dataset]
    details = {
        "n_queries": counts,
        "meta_task": {n: DATASET_META_TASK.get(n, "other") for n in per_dataset},
        "complete": not missing,
        "missing": missing,
        "note": (
            "overall_mean_of_datasets is the standard MMEB score (mean over the datasets); "
            "overall_mean_of_meta_tasks is the mean of the 4 meta-task means, which is what UniME's "
            "table reports"
        ),
    }
    return {
        "task": "mmeb",
        "primary_metric": "overall_mean_of_datasets",
        "metrics": metrics,
        "details": details,
    }
