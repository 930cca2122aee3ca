"""Contrastive and distillation losses. They take embeddings (never models).

Shapes: ``N`` local queries, ``M`` candidates (all ranks' candidates after an all-gather),
``d`` the embedding size. Embeddings may be un-normalised: every loss works on cosine
similarities. ``labels[i]`` is the row of ``candidates`` holding query ``i``'s positive; in one
process with ``M == N`` it is ``arange(N)``, after a gather it is ``rank * N + arange(N)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Paper defaults.
E5V_TAU = 0.05
UNIME_TAU = 0.02
UNIME_BETA = 0.1
UNIME_K = 8
#: UniME does not publish stage 1's temperature; this is ours (same as E5-V's contrastive tau).
DISTILL_TAU = 0.05


def cosine_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``[N, d] x [M, d] -> [N, M]`` cosine similarities."""
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T


def _default_labels(query: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    if labels is None:
        return torch.arange(query.shape[0], device=query.device)
    return labels.to(query.device)


def e5v_infonce(
    query: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor | None = None,
    tau: float = E5V_TAU,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """E5-V paper eq. 1: InfoNCE over cos/tau with in-batch positives and hard negatives.

    ``-log exp(cos(h_i, h_i+)/tau) / sum_j [exp(cos(h_i, h_j+)/tau) + exp(cos(h_i, h_j-)/tau)]``,
    averaged over the queries.

    Args:
        query: ``[N, d]`` sentence embeddings ``h_i``.
        positive: ``[M, d]`` positives ``h_j+`` of every query in the (gathered) batch.
        negative: ``[M', d]`` hard negatives ``h_j-`` (all are negatives for every query), or None.
        tau: temperature.
        labels: ``[N]`` row of ``positive`` holding each query's positive (default ``arange(N)``).

    Returns:
        Scalar mean loss.
    """
    logits = cosine_matrix(query, positive)  # [N, M]
    if negative is not None:
        logits = torch.cat([logits, cosine_matrix(query, negative)], dim=1)  # [N, M + M']
    return F.cross_entropy(logits / tau, _default_labels(query, labels))


def distill_kl(
    student: torch.Tensor,
    teacher: torch.Tensor,
    student_keys: torch.Tensor | None = None,
    teacher_keys: torch.Tensor | None = None,
    tau: float = DISTILL_TAU,
    teacher_tau: float | None = None,
    self_index: torch.Tensor | None = None,
    mask_self: bool = True,
) -> torch.Tensor:
    """UniME stage 1: KL(teacher || student) of row-wise softmaxes of in-batch similarities.

    ``P_t = softmax(cos(t_i, t_j) / teacher_tau)``, ``P_s = softmax(cos(s_i, s_j) / tau)`` over
    ``j``; the loss is ``sum_j P_t (log P_t - log P_s)`` averaged over rows ``i``. The teacher's
    embedding size may differ from the student's.

    Args:
        student: ``[N, d_s]`` student embeddings of the local rows.
        teacher: ``[N, d_t]`` teacher embeddings of the same rows (no gradient needed).
        student_keys: ``[M, d_s]`` columns (e.g. gathered over ranks); default ``student``.
        teacher_keys: ``[M, d_t]`` teacher embeddings of the same columns; default ``teacher``.
        tau: student temperature. teacher_tau: teacher temperature (default ``tau``).
        self_index: ``[N]`` column holding each row itself (default ``arange(N)``).
        mask_self: drop the self-similarity column of each row. With normalised embeddings it
            is the constant ``1/tau`` for teacher and student alike and would swamp the softmax.

    Returns:
        Scalar mean KL divergence.
    """
    student_keys = student if student_keys is None else student_keys
    teacher_keys = teacher if teacher_keys is None else teacher_keys
    teacher_tau = tau if teacher_tau is None else teacher_tau
    s_logits = cosine_matrix(student, student_keys) / tau  # [N, M]
    t_logits = (
        cosine_matrix(teacher.to(student.dtype), teacher_keys.to(student.dtype)) / teacher_tau
    )  # [N, M]
    if mask_self:
        index = _default_labels(student, self_index)  # [N]
        mask = torch.zeros_like(s_logits, dtype=torch.bool)
        mask[torch.arange(s_logits.shape[0], device=s_logits.device), index] = True  # [N, M]
        # A large finite negative (not -inf) keeps 0 * log 0 terms finite.
        s_logits = s_logits.masked_fill(mask, -1e4)
        t_logits = t_logits.masked_fill(mask, -1e4)
    log_p_s = F.log_softmax(s_logits, dim=1)  # [N, M]
    log_p_t = F.log_softmax(t_logits.detach(), dim=1)  # [N, M]
    return F.kl_div(log_p_s, log_p_t, log_target=True, reduction="batchmean")


@torch.no_grad()
def select_hard_negatives(
    sim: torch.Tensor, labels: torch.Tensor, k: int = UNIME_K, beta: float = UNIME_BETA
) -> tuple[torch.Tensor, torch.Tensor]:
    """UniME's false-negative filter and top-k hard negative sampling (indices only).

    A candidate ``j`` is excluded for query ``i`` when it is the positive or when
    ``sim[i, j] > sim[i, labels[i]] + beta`` (a likely false negative). The ``k`` most similar
    remaining candidates are kept, hardest first; when only ``r < k`` remain, slot ``s`` takes the
    ``(s mod r)``-th of them (existing hard negatives are duplicated), so no slot is ever empty,
    ``-inf`` or the positive.

    Args:
        sim: ``[N, M]`` query-candidate similarities.
        labels: ``[N]`` positive column of each query.

    Returns:
        ``index [N, k]`` candidate columns, and ``valid [N]`` (False for a row with no negative
        left at all; its index row is meaningless and its loss must be dropped).
    """
    n, _m = sim.shape
    rows = torch.arange(n, device=sim.device)
    positive_sim = sim[rows, labels]  # [N]
    excluded = sim > (positive_sim + beta)[:, None]  # [N, M] false-negative filter
    excluded[rows, labels] = True  # never the positive
    remaining = (~excluded).sum(dim=1)  # [N]
    masked = sim.masked_fill(excluded, float("-inf"))  # [N, M]
    order = masked.argsort(dim=1, descending=True, stable=True)  # [N, M] remaining ones first
    slots = torch.arange(k, device=sim.device)[None, :] % remaining.clamp(min=1)[:, None]  # [N, k]
    index = order.gather(1, slots)  # [N, k]
    return index, remaining > 0


def hard_negative_infonce(
    query: torch.Tensor,
    candidates: torch.Tensor,
    labels: torch.Tensor | None = None,
    k: int = UNIME_K,
    beta: float = UNIME_BETA,
    tau: float = UNIME_TAU,
) -> torch.Tensor:
    """UniME stage 2: InfoNCE over the positive and ``k`` filtered hard negatives.

    ``-log exp(cos(q, c+)/tau) / (exp(cos(q, c+)/tau) + sum_{s<k} exp(cos(q, c_s)/tau))`` with
    ``c_s`` chosen by :func:`select_hard_negatives`, averaged over the queries. A query whose every
    candidate was filtered out has only its positive left: its loss is ``-log 1 = 0`` (it still
    counts in the mean, so the loss of a batch split over ranks equals the whole batch's).

    Args:
        query: ``[N, d]`` query embeddings.
        candidates: ``[M, d]`` all (gathered) candidate embeddings; the positives among them.
        labels: ``[N]`` positive column of each query (default ``arange(N)``).
    """
    labels = _default_labels(query, labels)
    sim = cosine_matrix(query, candidates)  # [N, M]
    index, valid = select_hard_negatives(sim.detach(), labels, k=k, beta=beta)  # [N, k], [N]
    rows = torch.arange(query.shape[0], device=query.device)
    logits = torch.cat([sim[rows, labels][:, None], sim.gather(1, index)], dim=1) / tau  # [N, 1 + k]
    per_row = -F.log_softmax(logits, dim=1)[:, 0]  # [N]
    return torch.where(valid, per_row, torch.zeros_like(per_row)).mean()
