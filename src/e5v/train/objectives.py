"""Losses over one rank's stream embeddings, with the cross-rank gather applied.

Each objective takes the local embeddings of a step's streams (e.g. ``[queries, positives,
negatives]``), gathers the candidate side across ranks with gradient, and computes the loss of
the LOCAL queries against ALL candidates. In one process it is just the loss of the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from e5v.train.distributed import gather_offset, gather_with_grad
from e5v.train.losses import (
    DISTILL_TAU,
    E5V_TAU,
    UNIME_BETA,
    UNIME_K,
    UNIME_TAU,
    distill_kl,
    e5v_infonce,
    hard_negative_infonce,
)


def _labels(local_rows: int, device: torch.device) -> torch.Tensor:
    return gather_offset(local_rows, device) + torch.arange(local_rows, device=device)  # [n]


@dataclass(frozen=True)
class InfoNCEObjective:
    """E5-V eq. 1. Streams: ``[query, positive]`` or ``[query, positive, hard_negative]``."""

    tau: float = E5V_TAU

    def __call__(self, reps: list[torch.Tensor]) -> torch.Tensor:
        query, positive = reps[0], reps[1]  # [n, d], [n, d]
        all_positive = gather_with_grad(positive)  # [W*n, d]
        all_negative = gather_with_grad(reps[2]) if len(reps) > 2 else None  # [W*n, d]
        labels = _labels(query.shape[0], query.device)
        return e5v_infonce(query, all_positive, all_negative, tau=self.tau, labels=labels)


@dataclass(frozen=True)
class HardNegativeObjective:
    """UniME stage 2. Streams: ``[query, candidate]`` (+ optional extra negative candidates)."""

    k: int = UNIME_K
    beta: float = UNIME_BETA
    tau: float = UNIME_TAU

    def __call__(self, reps: list[torch.Tensor]) -> torch.Tensor:
        query = reps[0]  # [n, d]
        candidates = gather_with_grad(reps[1])  # [W*n, d]
        if len(reps) > 2:
            candidates = torch.cat([candidates, gather_with_grad(reps[2])], dim=0)  # [W*n + W*m, d]
        labels = _labels(query.shape[0], query.device)
        return hard_negative_infonce(query, candidates, labels, k=self.k, beta=self.beta, tau=self.tau)


@dataclass
class DistillObjective:
    """UniME stage 1. Streams: ``[sentences]``; ``teacher`` holds the local rows' teacher embeddings.

    Set :attr:`teacher` (``[n, d_t]``) before each step.
    """

    tau: float = DISTILL_TAU
    teacher_tau: float | None = None
    mask_self: bool = True
    teacher: torch.Tensor | None = None

    def __call__(self, reps: list[torch.Tensor]) -> torch.Tensor:
        if self.teacher is None:
            raise ValueError("DistillObjective.teacher must be set to the batch's teacher embeddings")
        student = reps[0]  # [n, d_s]
        teacher = self.teacher.to(student.device)  # [n, d_t]
        all_student = gather_with_grad(student)  # [W*n, d_s]
        with torch.no_grad():
            all_teacher = gather_with_grad(teacher)  # [W*n, d_t]
        return distill_kl(
            student,
            teacher,
            all_student,
            all_teacher,
            tau=self.tau,
            teacher_tau=self.teacher_tau,
            self_index=_labels(student.shape[0], student.device),
            mask_self=self.mask_self,
        )
