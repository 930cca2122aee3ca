"""Each loss against a naive per-row loop written here from the papers' formulas."""

from __future__ import annotations

import math

import pytest
import torch

from e5v.train.losses import distill_kl, e5v_infonce, hard_negative_infonce, select_hard_negatives


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a @ b) / (a.norm() * b.norm()))


def naive_e5v(q, pos, neg, tau, labels=None):
    n = q.shape[0]
    labels = list(range(n)) if labels is None else labels
    total = 0.0
    for i in range(n):
        numerator = math.exp(_cos(q[i], pos[labels[i]]) / tau)
        denominator = sum(math.exp(_cos(q[i], pos[j]) / tau) for j in range(pos.shape[0]))
        if neg is not None:
            denominator += sum(math.exp(_cos(q[i], neg[j]) / tau) for j in range(neg.shape[0]))
        total += -math.log(numerator / denominator)
    return total / n


@pytest.mark.parametrize("with_neg", [True, False])
def test_e5v_infonce_matches_loop(with_neg):
    g = torch.Generator().manual_seed(0)
    q, p, n = (torch.randn(5, 7, generator=g, dtype=torch.float64) for _ in range(3))
    got = e5v_infonce(q, p, n if with_neg else None, tau=0.05)
    assert got.item() == pytest.approx(naive_e5v(q, p, n if with_neg else None, 0.05), rel=1e-9)


def test_e5v_infonce_labels_offset_after_gather():
    g = torch.Generator().manual_seed(1)
    q = torch.randn(3, 4, generator=g, dtype=torch.float64)
    p = torch.randn(9, 4, generator=g, dtype=torch.float64)
    labels = torch.tensor([3, 4, 5])
    got = e5v_infonce(q, p, None, tau=0.1, labels=labels)
    assert got.item() == pytest.approx(naive_e5v(q, p, None, 0.1, labels=[3, 4, 5]), rel=1e-9)


def naive_kl(s, t, tau, t_tau, mask_self):
    n = s.shape[0]
    total = 0.0
    for i in range(n):
        cols = [j for j in range(n) if not (mask_self and j == i)]
        s_exp = [math.exp(_cos(s[i], s[j]) / tau) for j in cols]
        t_exp = [math.exp(_cos(t[i], t[j]) / t_tau) for j in cols]
        zs, zt = sum(s_exp), sum(t_exp)
        for a, b in zip(s_exp, t_exp, strict=True):
            ps, pt = a / zs, b / zt
            total += pt * math.log(pt / ps)
    return total / n


@pytest.mark.parametrize("mask_self", [True, False])
def test_distill_kl_matches_loop(mask_self):
    g = torch.Generator().manual_seed(2)
    s = torch.randn(6, 8, generator=g, dtype=torch.float64)
    t = torch.randn(6, 5, generator=g, dtype=torch.float64)  # teacher size differs
    got = distill_kl(s, t, tau=0.3, teacher_tau=0.2, mask_self=mask_self)
    assert got.item() == pytest.approx(naive_kl(s, t, 0.3, 0.2, mask_self), rel=1e-7)


def test_distill_kl_zero_when_student_equals_teacher_and_has_grad():
    s = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert distill_kl(s, s.detach()).item() == pytest.approx(0.0, abs=1e-10)
    distill_kl(s, torch.randn(4, 3, dtype=torch.float64)).backward()
    assert s.grad is not None and torch.isfinite(s.grad).all()


def naive_hardneg(q, c, labels, k, beta, tau):
    """Per-query loop: filter, sort remaining by similarity, duplicate cyclically when short."""
    losses = []
    for i in range(q.shape[0]):
        sims = [_cos(q[i], c[j]) for j in range(c.shape[0])]
        pos = sims[labels[i]]
        remaining = [j for j in range(c.shape[0]) if j != labels[i] and sims[j] <= pos + beta]
        remaining.sort(key=lambda j: (-sims[j], j))
        if not remaining:  # only the positive is left: -log(1) = 0
            losses.append(0.0)
            continue
        chosen = [remaining[s % len(remaining)] for s in range(k)]
        denom = math.exp(pos / tau) + sum(math.exp(sims[j] / tau) for j in chosen)
        losses.append(-math.log(math.exp(pos / tau) / denom))
    return sum(losses) / len(losses), losses


def test_hard_negative_infonce_matches_loop_with_filter_and_duplicates():
    g = torch.Generator().manual_seed(3)
    q = torch.randn(6, 4, generator=g, dtype=torch.float64)
    c = torch.randn(6, 4, generator=g, dtype=torch.float64)
    # Make candidate 1 a near-copy of query 0 (a false negative for query 0: filtered out).
    c[1] = q[0] + 0.01 * torch.randn(4, generator=g, dtype=torch.float64)
    labels = list(range(6))
    # k larger than the number of candidates forces the duplicate-when-short rule on every row.
    for k in (2, 8):
        got = hard_negative_infonce(q, c, k=k, beta=0.1, tau=0.02)
        want, _ = naive_hardneg(q, c, labels, k, 0.1, 0.02)
        assert got.item() == pytest.approx(want, rel=1e-9)


def test_select_hard_negatives_never_positive_never_filtered():
    sim = torch.tensor(
        [
            [0.5, 0.9, 0.55, 0.1],  # col 1 > 0.5 + 0.1 -> filtered; remaining 2 (0.55), 3 (0.1)
            [0.2, 0.3, 0.0, -0.5],  # positive col 1; everything else remains: 0, 2, 3
        ],
        dtype=torch.float64,
    )
    labels = torch.tensor([0, 1])
    index, valid = select_hard_negatives(sim, labels, k=5, beta=0.1)
    assert index[0].tolist() == [2, 3, 2, 3, 2]
    assert index[1].tolist() == [0, 2, 3, 0, 2]
    assert valid.tolist() == [True, True]


def test_hard_negative_row_without_negatives_is_dropped():
    # Query 0's only other candidate is a false negative: the row has nothing left.
    sim_q = torch.tensor([[1.0, 0.0], [0.6, -0.8]], dtype=torch.float64)  # unit rows
    c = torch.tensor([[0.6, 0.8], [1.0, 0.0]], dtype=torch.float64)  # cos(q0, c0)=0.6, cos(q0,c1)=1.0
    _index, valid = select_hard_negatives(sim_q @ c.T / c.norm(dim=1), torch.tensor([0, 1]), k=3)
    assert valid.tolist() == [False, True]
    q = sim_q.clone().requires_grad_(True)
    loss = hard_negative_infonce(q, c, k=3)
    _, rows = naive_hardneg(q.detach(), c, [0, 1], 3, 0.1, 0.02)
    assert rows[0] == 0.0 and loss.item() == pytest.approx((rows[0] + rows[1]) / 2, rel=1e-9)
    loss.backward()
    assert torch.isfinite(q.grad).all()
