"""Evaluator wiring (prompts, preprocessing, caption orders, aggregates, cache) with a recording
encoder: a test double of the Encoder protocol that returns a fixed random vector per (item, prompt)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from e5v.evaluation import EmbeddingCache, EvalOptions, evaluate, format_results
from e5v.evaluation.tasks.composed import join_fashioniq_captions
from e5v.evaluation.tasks.mmeb import META_TASKS, aggregate_mmeb
from e5v.evaluation.tasks.sts import preprocess_sts
from e5v.inputs import Interleaved
from e5v.prompts import PromptSet


def _key(item) -> str:
    if isinstance(item, Interleaved):
        return f"I({item.image}|{item.text})"
    return str(item)


class RecordingEncoder:
    name = "recording"

    def __init__(self, dim: int = 8) -> None:
        self.dim = dim
        self.calls: list[tuple[list[str], object, dict]] = []

    def vector(self, item, prompt) -> np.ndarray:
        text = _key(item) + "|" + (prompt.text if isinstance(prompt, PromptSet) else str(prompt))
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        return np.random.default_rng(seed).normal(size=self.dim)

    def encode(self, items, prompt=None, batch_size=16, normalize=True):
        self.calls.append(
            ([_key(i) for i in items], prompt, {"batch_size": batch_size, "normalize": normalize})
        )
        out = np.stack([self.vector(i, prompt) for i in items])
        if normalize:
            out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out.astype(np.float32)


def test_preprocess_sts_reference_steps():
    assert preprocess_sts("A  man plays") == "A man plays."
    assert preprocess_sts('He said "hi"') == "He said 'hi'"  # ends in a quote: no '.'
    assert preprocess_sts("Is it?") == "Is it."
    assert preprocess_sts("ok.") == "ok."


def test_sts_uses_prompt_and_preprocessing(data_root):
    enc = RecordingEncoder()
    results = evaluate(enc, ["sts12", "stsb"], data_root)
    sentences, prompt, _ = enc.calls[0]
    assert prompt == "sts"
    assert all('"' not in s and s[-1] in ".'" for s in sentences)
    assert len(sentences) == len(set(sentences))  # each distinct sentence embedded once
    r = results["benchmarks"]["sts12"]
    assert r["primary_metric"] == "spearman_all"
    assert -100 <= r["primary"] <= 100
    assert results["benchmarks"]["stsb"]["primary_metric"] == "spearman_test"


def test_sts_all_is_pooled_spearman(data_root):
    """Recompute STS13's pooled Spearman from the recording encoder's vectors and scipy."""
    from scipy.stats import spearmanr

    from e5v.evaluation import get, load_benchmark

    enc = RecordingEncoder()
    got = evaluate(enc, ["sts13"], data_root)["benchmarks"]["sts13"]["metrics"]
    data = load_benchmark(get("sts13"), data_root, EvalOptions())
    sys_all, gold_all = [], []
    for first, second, gold in data.subsets.values():
        for a, b in zip(first, second, strict=True):
            va, vb = enc.vector(preprocess_sts(a), "sts"), enc.vector(preprocess_sts(b), "sts")
            sys_all.append(va @ vb / np.linalg.norm(va) / np.linalg.norm(vb))
        gold_all.extend(gold)
    assert got["spearman_all"] == pytest.approx(100 * spearmanr(sys_all, gold_all).correlation)


def test_fashioniq_both_orders_and_prompt_category(data_root):
    enc = RecordingEncoder()
    results = evaluate(enc, ["fashioniq"], data_root)
    prompts = [call[1] for call in enc.calls]
    # toptee is prompted as a shirt, as the reference does
    texts = [p.text for p in prompts]
    assert any("this dress" in t for t in texts) and not any("toptee" in t for t in texts)
    query_calls = [c for c in enc.calls if "modified" in c[1].text]
    assert len(query_calls) == 6  # 3 categories x 2 orders
    assert all(c[2]["normalize"] is False for c in query_calls)
    first, second = query_calls[0][0][0], query_calls[1][0][0]
    a, b = first.split("|")[1][:-1].split(", ")
    assert second.endswith(f"|{b}, {a})")
    m = results["benchmarks"]["fashioniq"]["metrics"]
    assert m["avg_R@10"] == pytest.approx(np.mean([m["shirt_R@10"], m["dress_R@10"], m["toptee_R@10"]]))
    single = evaluate(
        RecordingEncoder(), ["fashioniq"], data_root, options=EvalOptions(fashioniq_both_orders=False)
    )
    assert single["benchmarks"]["fashioniq"]["details"]["both_orders"] is False


def test_join_fashioniq_captions():
    assert join_fashioniq_captions("is red.", " has long sleeves?") == "is red, has long sleeves"


def test_cirr_prompts_and_test_submission(data_root, tmp_path):
    enc = RecordingEncoder()
    results = evaluate(enc, ["cirr", "cirr-test"], data_root, options=EvalOptions(output_dir=tmp_path))
    assert [c[1] for c in enc.calls[:2]] == ["cirr_target", "cirr_query"]
    val = results["benchmarks"]["cirr"]["metrics"]
    assert val["R@50"] == 100.0  # a gallery of 8 images
    assert val["avg"] == pytest.approx((val["R@5"] + val["R_subset@1"]) / 2)
    recall = json.loads((tmp_path / "cirr_test_recall.json").read_text())
    subset = json.loads((tmp_path / "cirr_test_recall_subset.json").read_text())
    assert recall["version"] == "rc2" and recall["metric"] == "recall"
    assert subset["metric"] == "recall_subset"
    assert len(recall["1000"]) == 7  # the 8 gallery images less the reference
    assert "test1-0-0-img0" not in recall["1000"]  # the reference of pair 1000
    assert len(subset["1000"]) == 3 and "test1-0-0-img0" not in subset["1000"]
    assert "CIRR test1" in format_results(results)


def test_mmeb_aggregates_hand_made():
    per = {name: 10.0 for name in META_TASKS["classification"]}
    per.update({name: 20.0 for name in META_TASKS["vqa"]})
    per.update({name: 30.0 for name in META_TASKS["retrieval"]})
    per.update({name: 90.0 for name in META_TASKS["grounding"]})
    agg = aggregate_mmeb(per)
    assert agg["overall_mean_of_datasets"] == pytest.approx((100 + 200 + 360 + 360) / 36)
    assert agg["overall_mean_of_meta_tasks"] == pytest.approx((10 + 20 + 30 + 90) / 4)
    assert agg["grounding_mean"] == 90.0


def test_mmeb_table_states_both_overalls(data_root):
    enc = RecordingEncoder()
    opts = EvalOptions(mmeb_datasets=("ImageNet-1K", "OK-VQA", "MSCOCO_t2i", "MSCOCO"))
    results = evaluate(enc, ["mmeb"], data_root, options=opts)
    table = format_results(results)
    assert "Overall: mean of 4 datasets (standard)" in table
    assert "Overall: mean of meta-task means (UniME)" in table
    assert "INCOMPLETE: 32 of 36" in table
    r = results["benchmarks"]["mmeb"]
    assert r["details"]["complete"] is False


def test_cache_makes_reruns_free(data_root, tmp_path):
    enc = RecordingEncoder()
    first = evaluate(enc, ["flickr30k", "sts16"], data_root, cache_dir=tmp_path / "cache")
    n_calls = len(enc.calls)
    assert n_calls > 0 and list((tmp_path / "cache").glob("*.npy"))
    second = evaluate(enc, ["flickr30k", "sts16"], data_root, cache_dir=tmp_path / "cache")
    assert len(enc.calls) == n_calls  # everything came from the cache
    for name in ("flickr30k", "sts16"):
        assert first["benchmarks"][name]["metrics"] == second["benchmarks"][name]["metrics"]
    # another prompt, dataset or model name is another entry
    cache = EmbeddingCache(tmp_path / "cache")
    assert cache.key(model="a", prompt="x") != cache.key(model="b", prompt="x")


def test_cache_ignores_wrong_shape(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.save("k", np.ones((3, 2), np.float32))
    assert cache.load("k", 3).shape == (3, 2)
    assert cache.load("k", 4) is None
