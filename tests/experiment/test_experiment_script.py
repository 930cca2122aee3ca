"""Fast tests of scripts/e5v_experiment.py's pure helpers (no model, no data)."""

from __future__ import annotations

import importlib.util
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "e5v_experiment.py"


@pytest.fixture(scope="module")
def exp():
    spec = importlib.util.spec_from_file_location("e5v_experiment", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("n", "p", "k"), [(6, 1, 1), (6, 1, 5), (7, 2, 3), (5, 5, 1), (8, 3, 8)])
def test_chance_recall_matches_enumeration(exp, n, p, k):
    # Oracle: every ordering of n candidates (positives are 0..p-1), hit when one is in the top k.
    hits = total = 0
    for order in itertools.permutations(range(n)):
        total += 1
        hits += any(c < p for c in order[:k])
    assert exp.chance_recall(n, p, k) == pytest.approx(hits / total)


def test_normalise_text_drops_case_punctuation_and_article(exp):
    assert exp.normalise_text("A Grinning  face.") == "grinning face"
    assert exp.normalise_text("grinning face") == "grinning face"
    assert exp.normalise_text("The end!") == "end"
    assert exp.normalise_text("Another thing.") == "another thing"


@dataclass
class _Item:
    id: str
    group: str


def test_one_per_caption_keeps_first_id_per_group(exp):
    items = [_Item("b", "x"), _Item("a", "x"), _Item("c", "y")]
    assert [it.id for it in exp.one_per_caption(items)] == ["a", "c"]


def test_retrieval_metrics_identity_and_chance(exp):
    rng = np.random.default_rng(0)
    images = rng.normal(size=(10, 8))
    images /= np.linalg.norm(images, axis=1, keepdims=True)
    m = exp.retrieval_metrics(images, images.copy())
    assert m["t2i"] == {"R@1": 100.0, "R@5": 100.0}
    assert m["i2t"]["R@1"] == 100.0
    assert m["chance"] == {"R@1": 10.0, "R@5": 50.0}
    assert m["gap"]["centroid_distance"] == pytest.approx(0.0, abs=1e-9)


def test_category_1nn_and_its_chance(exp):
    emb = np.array([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0], [0.1, 0.99], [0.7, 0.7]])
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    labels = ["a", "a", "b", "b", "b"]
    # neighbours: 0<->1 (a,a), 2<->3 (b,b), 4 -> nearest of the others; by hand: 4/5 or 5/5
    nearest_of_4 = int(np.argmax([emb[4] @ emb[j] for j in range(4)]))
    expected = (4 + (labels[nearest_of_4] == "b")) / 5
    assert exp.category_1nn(emb, labels) == pytest.approx(expected)
    # chance: ordered pairs of distinct items with the same label / all ordered pairs
    same = sum(labels[i] == labels[j] for i in range(5) for j in range(5) if i != j)
    assert exp.random_neighbour_accuracy(labels) == pytest.approx(same / 20)
