"""SugarCrepe: does the image prefer its caption to a hard negative (replace / swap / add)?"""

from __future__ import annotations

import numpy as np

from e5v.evaluation.data import SugarCrepeData
from e5v.evaluation.encoder import EncodeContext
from e5v.evaluation.metrics import pairwise_accuracy
from e5v.evaluation.registry import EvalOptions

SUBSETS = ("replace_obj", "replace_att", "replace_rel", "swap_obj", "swap_att", "add_obj", "add_att")
GROUPS = {"replace": SUBSETS[:3], "swap": SUBSETS[3:5], "add": SUBSETS[5:]}


def evaluate_sugarcrepe(ctx: EncodeContext, data: SugarCrepeData, options: EvalOptions) -> dict:
    """Accuracy (x100) per subset (image closer to the true caption than to the negative, strictly),
    per group (mean of its subsets) and overall (mean of the groups)."""
    metrics: dict[str, float] = {}
    for name, (images, pos, neg) in data.subsets.items():
        sub = ctx.for_dataset(f"{ctx.dataset}/{name}")
        img = sub.encode(images, None, part="images")
        p = sub.encode(pos, None, part="positives")
        n = sub.encode(neg, None, part="negatives")
        metrics[name] = 100.0 * pairwise_accuracy(img, p, n)
    groups = {}
    for group, names in GROUPS.items():
        values = [metrics[n] for n in names if n in metrics]
        if values:
            groups[group] = float(np.mean(values))
    metrics.update(groups)
    metrics["mean"] = float(np.mean(list(groups.values())))
    details = {"n_pairs": {n: len(v[0]) for n, v in data.subsets.items()}, "prompt": "encoder default"}
    return {"task": "sugarcrepe", "primary_metric": "mean", "metrics": metrics, "details": details}
