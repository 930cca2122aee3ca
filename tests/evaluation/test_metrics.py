"""Every metric against a naive, loop-based oracle (or scipy), on random and hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from e5v.evaluation import metrics as M


def naive_rank(scores_row, positives, exclude=None, ties="pessimistic"):
    """Rank of the best positive: negatives at least as good (pessimistic) or strictly better."""
    best = max(scores_row[p] for p in positives)
    rank = 0
    for j, s in enumerate(scores_row):
        if j in positives or j == exclude:
            continue
        if s > best or (ties == "pessimistic" and s == best):
            rank += 1
    return rank


def naive_recall(scores, positives, k, exclude=None, ties="pessimistic"):
    hits = 0
    for i in range(len(scores)):
        ex = None if exclude is None else exclude[i]
        hits += naive_rank(scores[i], positives[i], ex, ties) < k
    return hits / len(scores)


def naive_image_text_recall(img, txt, text_to_image, k):
    """Full score matrix; t2i via sorting; i2t: an image is a hit if any caption is in the top k."""
    scores = txt @ img.T
    t2i = np.mean([text_to_image[t] in np.argsort(-scores[t], kind="stable")[:k] for t in range(len(txt))])
    i2t = []
    for i in range(len(img)):
        top = np.argsort(-scores[:, i], kind="stable")[:k]
        i2t.append(any(text_to_image[t] == i for t in top))
    return t2i, float(np.mean(i2t))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_image_text_recall_five_captions_random(rng):
    img = rng.normal(size=(40, 16)).astype(np.float32)
    text_to_image = np.repeat(np.arange(40), 5)
    txt = (img[text_to_image] + 1.5 * rng.normal(size=(200, 16))).astype(np.float32)
    perm = rng.permutation(200)  # captions need not be grouped by image
    txt, text_to_image = txt[perm], text_to_image[perm]
    got = M.image_text_recall(img, txt, text_to_image, (1, 5, 10), chunk_size=7)
    for k in (1, 5, 10):
        t2i, i2t = naive_image_text_recall(img, txt, text_to_image, k)
        assert got["t2i"][k] == pytest.approx(t2i)
        assert got["i2t"][k] == pytest.approx(i2t)
    assert 0 < got["t2i"][1] < got["t2i"][10] <= 1  # the case is not degenerate


def test_i2t_hand_made_any_caption_counts():
    # 2 images, 3 captions each; image 0's captions are ranked 2nd, 4th, 6th: a hit at k=2.
    img = np.eye(2, dtype=np.float32)
    text_to_image = np.array([0, 0, 0, 1, 1, 1])
    # scores with image 0 (first column): captions of image 1 get 0.9, 0.7, 0.5; own: 0.8, 0.6, 0.4
    txt = np.array([[0.8, 0], [0.6, 0], [0.4, 0], [0.9, 1], [0.7, 1], [0.5, 1]], dtype=np.float32)
    got = M.image_text_recall(img, txt, text_to_image, (1, 2))
    assert got["i2t"][1] == 0.5  # image 1's best caption (score 1) is first; image 0's is second
    assert got["i2t"][2] == 1.0


def test_ties_pessimistic_and_optimistic():
    queries = np.array([[1.0, 0.0]])
    candidates = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # three identical scores
    assert M.retrieval_ranks(queries, candidates, np.array([1]))[0] == 2
    assert M.retrieval_ranks(queries, candidates, np.array([1]), ties="optimistic")[0] == 0
    # a tie between two positives does not count against either
    assert M.retrieval_ranks(queries, candidates, [[0, 1]])[0] == 1
    assert M.retrieval_ranks(queries, candidates, [[0, 1, 2]])[0] == 0


def test_retrieval_ranks_with_integer_ties_and_exclusion_vs_oracle(rng):
    # small integers: every dot product is exact, so ties are real ties
    q = rng.integers(-2, 3, size=(30, 4)).astype(np.float32)
    c = rng.integers(-2, 3, size=(25, 4)).astype(np.float32)
    positives = [list(rng.choice(25, size=rng.integers(1, 4), replace=False)) for _ in range(30)]
    exclude = np.array([rng.choice([j for j in range(25) if j not in p]) for p in positives])
    exclude[::3] = -1
    scores = q @ c.T
    for ties in ("pessimistic", "optimistic"):
        got = M.retrieval_ranks(q, c, positives, exclude=exclude, ties=ties, chunk_size=4)
        want = [
            naive_rank(scores[i], positives[i], None if exclude[i] < 0 else exclude[i], ties)
            for i in range(30)
        ]
        np.testing.assert_array_equal(got, want)
    for k in (1, 3, 10):
        ex = [None if e < 0 else e for e in exclude]
        assert M.recall_at_k(M.retrieval_ranks(q, c, positives, exclude=exclude), [k])[k] == pytest.approx(
            naive_recall(scores, positives, k, ex)
        )


def test_exclusion_removes_a_better_candidate():
    q = np.array([[1.0, 0.0]])
    c = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    assert M.retrieval_ranks(q, c, np.array([1]))[0] == 1
    assert M.retrieval_ranks(q, c, np.array([1]), exclude=np.array([0]))[0] == 0


def test_subset_ranks_vs_oracle(rng):
    q = rng.integers(-2, 3, size=(20, 3)).astype(np.float32)
    c = rng.integers(-2, 3, size=(30, 3)).astype(np.float32)
    subsets, targets, refs = [], [], []
    for _ in range(20):
        members = list(rng.choice(30, size=6, replace=False))
        subsets.append(members)
        targets.append(members[1])
        refs.append(members[0])
    got = M.subset_ranks(q, c, targets, subsets, exclude=refs)
    scores = q @ c.T
    for i in range(20):
        allowed = [m for m in subsets[i] if m != refs[i]]
        best = scores[i, targets[i]]
        want = sum(1 for m in allowed if m != targets[i] and scores[i, m] >= best)
        assert got[i] == want


def test_cirr_style_recall_subset_values():
    # one query; subset = [ref, target, a, b]; a scores above target, b below
    q = np.array([[1.0, 0.0]])
    c = np.array([[1.0, 0.0], [0.6, 0.8], [0.8, 0.6], [0.0, 1.0], [0.9, 0.1]])
    ranks = M.subset_ranks(q, c, [1], [[0, 1, 2, 3]], exclude=[0])
    assert M.recall_at_k(ranks, (1, 2, 3)) == {1: 0.0, 2: 1.0, 3: 1.0}
    # over the whole gallery (reference excluded): 2 and 4 are ahead
    assert M.retrieval_ranks(q, c, np.array([1]), exclude=np.array([0]))[0] == 2


def test_subset_ranks_rejects_target_outside_subset():
    with pytest.raises(ValueError, match="member"):
        M.subset_ranks(np.ones((1, 2)), np.ones((3, 2)), [2], [[0, 1]])


def test_top_k_matches_argsort(rng):
    q = rng.normal(size=(9, 5))
    c = rng.normal(size=(40, 5))
    exclude = rng.integers(0, 40, size=9)
    got = M.top_k(q, c, 10, exclude=exclude, chunk_size=4)
    for i in range(9):
        scores = c @ q[i]
        scores[exclude[i]] = -np.inf
        np.testing.assert_array_equal(got[i], np.argsort(-scores, kind="stable")[:10])
        assert exclude[i] not in got[i]


def test_precision_at_1_vs_oracle(rng):
    cands = rng.integers(-1, 2, size=(12, 3)).astype(np.float32)
    q = rng.integers(-1, 2, size=(15, 3)).astype(np.float32)
    ids = np.stack([rng.choice(12, size=5, replace=False) for _ in range(15)])
    want = np.mean([all(q[i] @ cands[ids[i, 0]] > q[i] @ cands[j] for j in ids[i, 1:]) for i in range(15)])
    assert M.precision_at_1(q, cands, ids, chunk_size=4) == pytest.approx(want)
    want_opt = np.mean(
        [all(q[i] @ cands[ids[i, 0]] >= q[i] @ cands[j] for j in ids[i, 1:]) for i in range(15)]
    )
    assert M.precision_at_1(q, cands, ids, ties="optimistic") == pytest.approx(want_opt)


def test_pairwise_accuracy_strict():
    a = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    pos = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    neg = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
    assert M.pairwise_accuracy(a, pos, neg) == pytest.approx(1 / 3)  # a tie is not a win


@pytest.mark.parametrize("case", ["random", "ties", "gold_ties"])
def test_spearman_vs_scipy(rng, case):
    x = rng.normal(size=50)
    y = x + rng.normal(size=50)
    if case == "ties":
        x = np.round(x)
    if case == "gold_ties":
        y = np.round(y * 2) / 2
    assert M.spearman(x, y) == pytest.approx(spearmanr(x, y).correlation, abs=1e-12)


def test_spearman_of_cosine_vs_scipy(rng):
    a, b = rng.normal(size=(30, 8)), rng.normal(size=(30, 8))
    gold = rng.uniform(0, 5, size=30)
    cos = [float(a[i] @ b[i] / np.linalg.norm(a[i]) / np.linalg.norm(b[i])) for i in range(30)]
    np.testing.assert_allclose(M.cosine_rows(a, b), cos)
    assert M.spearman(M.cosine_rows(a, b), gold) == pytest.approx(spearmanr(cos, gold).correlation)


def test_input_validation():
    with pytest.raises(ValueError, match="positive"):
        M.retrieval_ranks(np.ones((2, 2)), np.ones((3, 2)), [[0], []])
    with pytest.raises(ValueError, match="out of range"):
        M.retrieval_ranks(np.ones((1, 2)), np.ones((3, 2)), np.array([3]))
    with pytest.raises(ValueError, match="no caption"):
        M.image_text_recall(np.ones((3, 2)), np.ones((2, 2)), [0, 0])
    assert np.isnan(M.spearman([1, 1, 1], [1, 2, 3]))


def test_subset_ranks_chunked_equals_one_block(monkeypatch, rng):
    q = rng.normal(size=(11, 3))
    c = rng.normal(size=(20, 3))
    subsets = [list(rng.choice(20, size=5, replace=False)) for _ in range(11)]
    targets = [s[1] for s in subsets]
    whole = M.subset_ranks(q, c, targets, subsets, exclude=[s[0] for s in subsets])
    monkeypatch.setattr(M, "_rows_per_chunk", lambda *a, **k: 3)
    chunked = M.subset_ranks(q, c, targets, subsets, exclude=[s[0] for s in subsets])
    np.testing.assert_array_equal(whole, chunked)
