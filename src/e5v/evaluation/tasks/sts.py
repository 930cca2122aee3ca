"""Sentence similarity (STS12-16, STS-B, SICK-R): Spearman of cosine, SentEval conventions."""

from __future__ import annotations

import numpy as np

from e5v.evaluation.data import STSData
from e5v.evaluation.encoder import EncodeContext
from e5v.evaluation.metrics import cosine_rows, spearman
from e5v.evaluation.registry import EvalOptions

#: STS12-16 report SentEval's "all" Spearman (all subsets pooled); STS-B and SICK-R the test set's.
POOLED = ("sts12", "sts13", "sts14", "sts15", "sts16")


def preprocess_sts(sentence: str) -> str:
    """The E5-V / PromptEOL STS preprocessing, step by step as the reference code does it.

    Whitespace is normalised (SentEval tokenises on spaces and joins with one space); a '.' is
    appended when the sentence does not end in '.', '?', '"' or "'"; '"' becomes "'"; a final
    '?' becomes '.'.
    """
    s = " ".join(sentence.split())
    if s and s[-1] not in ".?\"'":
        s += "."
    s = s.replace('"', "'")
    if s and s[-1] == "?":
        s = s[:-1] + "."
    return s


def evaluate_sts(ctx: EncodeContext, data: STSData, options: EvalOptions) -> dict:
    """Spearman correlation (x100) between cosine similarities and gold scores, prompt ``sts``."""
    sentences: list[str] = []
    index: dict[str, int] = {}
    pairs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for subset, (first, second, gold) in data.subsets.items():
        ids = []
        for side in (first, second):
            side_ids = []
            for s in side:
                p = preprocess_sts(s)
                if p not in index:
                    index[p] = len(sentences)
                    sentences.append(p)
                side_ids.append(index[p])
            ids.append(np.asarray(side_ids, dtype=np.int64))
        pairs[subset] = (ids[0], ids[1], np.asarray(gold, dtype=np.float64))
    emb = ctx.encode(sentences, "sts", part="sentences")
    metrics: dict[str, float] = {}
    all_sys, all_gold = [], []
    for subset, (a, b, gold) in pairs.items():
        sys_scores = cosine_rows(emb[a], emb[b])
        metrics[f"spearman_{subset}"] = 100.0 * spearman(sys_scores, gold)
        all_sys.append(sys_scores)
        all_gold.append(gold)
    if data.name in POOLED:
        metrics["spearman_all"] = 100.0 * spearman(np.concatenate(all_sys), np.concatenate(all_gold))
        metrics["spearman_mean"] = float(np.mean([metrics[f"spearman_{s}"] for s in pairs]))
        primary = "spearman_all"
    else:
        primary = f"spearman_{next(iter(pairs))}"
    details = {
        "n_pairs": {s: len(p[2]) for s, p in pairs.items()},
        "prompt": "sts",
        "preprocessing": "final '.' added, '\"'->\"'\", final '?'->'.'",
    }
    return {"task": "sts", "primary_metric": primary, "metrics": metrics, "details": details}
