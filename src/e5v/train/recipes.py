"""The training recipes: which data, which streams of inputs per step, which loss.

A recipe is a small registered object. Each step it turns the step's records into *streams*
(lists of :class:`~e5v.inputs.Item`, one embedding per item) and gives the objective that takes
the streams' embeddings. The Embedder builds every prompt (``collate``), so training prompts are
the inference prompts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from e5v.inputs import Interleaved, Item, Kind, prepare_item
from e5v.train.config import Config, ConfigError
from e5v.train.data import (
    Dataset,
    ImageCaption,
    InstructionPair,
    Side,
    Triplet,
    read_image_captions,
    read_instruction_pairs,
    read_triplets,
)
from e5v.train.data.records import DataError, Report
from e5v.train.losses import DISTILL_TAU, E5V_TAU, UNIME_TAU
from e5v.train.objectives import DistillObjective, HardNegativeObjective, InfoNCEObjective

Objective = Callable[[list[torch.Tensor]], torch.Tensor]


def _text(text: str) -> Item:
    return Item(Kind.TEXT, text=text)


def _side(side: Side) -> Item:
    if side.image is not None and side.text is not None:
        return prepare_item(Interleaved(image=side.image, text=side.text))
    if side.image is not None:
        return prepare_item(side.image)
    return _text(side.text)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Recipe:
    """Base: subclasses define ``load``, ``streams`` and ``objective``."""

    name: str = ""
    default_prompts: str | None = None
    #: whether the recipe needs image inputs (so a text-only model cannot run it)
    needs_images: bool = False

    def load(self, cfg: Config) -> Dataset[Any]:
        raise NotImplementedError

    def streams(self, records: Sequence[Any]) -> list[list[Item]]:
        raise NotImplementedError

    def objective(self, cfg: Config) -> Objective:
        raise NotImplementedError

    def before_step(self, objective: Objective, data: Dataset[Any], indices: Sequence[int]) -> None:
        """Hook to attach per-step side data (stage 1: the teacher embeddings)."""


@dataclass(frozen=True)
class E5VText(Recipe):
    """E5-V single modality training on sentence triplets (paper eq. 1, tau 0.05)."""

    def load(self, cfg: Config) -> Dataset[Triplet]:
        return read_triplets(cfg.data.train_file, on_error=cfg.data.on_error)

    def streams(self, records: Sequence[Triplet]) -> list[list[Item]]:
        streams = [[_text(r.anchor) for r in records], [_text(r.positive) for r in records]]
        if records and records[0].negative is not None:
            streams.append([_text(r.negative) for r in records])  # type: ignore[arg-type]
        return streams

    def objective(self, cfg: Config) -> Objective:
        return InfoNCEObjective(tau=cfg.loss.tau or E5V_TAU)


@dataclass(frozen=True)
class MultimodalPairs(Recipe):
    """Paper Table 7 baseline: the same loss on image-caption pairs (caption -> image)."""

    needs_images: bool = True

    def load(self, cfg: Config) -> Dataset[ImageCaption]:
        return read_image_captions(
            cfg.data.train_file,
            cfg.data.image_root,
            on_error=cfg.data.on_error,
            verify_images=cfg.data.verify_images,
        )

    def streams(self, records: Sequence[ImageCaption]) -> list[list[Item]]:
        return [[_text(r.caption) for r in records], [prepare_item(r.image) for r in records]]

    def objective(self, cfg: Config) -> Objective:
        return InfoNCEObjective(tau=cfg.loss.tau or E5V_TAU)


@dataclass(frozen=True)
class UniMEDistill(Recipe):
    """UniME stage 1: KL between teacher and student in-batch similarity distributions."""

    default_prompts: str | None = "unime_text"

    def load(self, cfg: Config) -> Dataset[str]:
        if not cfg.data.teacher_dir:
            raise DataError(
                cfg.data.train_file or "<config>",
                0,
                "unime_distill needs data.teacher_dir (e5v distill-teacher)",
            )
        teacher = load_teacher(cfg.data.teacher_dir)
        report = Report(str(cfg.data.teacher_dir), kept=len(teacher.texts))
        return Dataset(teacher.texts, report, extras={"teacher": teacher})

    def streams(self, records: Sequence[str]) -> list[list[Item]]:
        return [[_text(text) for text in records]]

    def objective(self, cfg: Config) -> Objective:
        return DistillObjective(
            tau=cfg.loss.tau or DISTILL_TAU, teacher_tau=cfg.loss.teacher_tau, mask_self=cfg.loss.mask_self
        )

    def before_step(self, objective: Objective, data: Dataset[Any], indices: Sequence[int]) -> None:
        teacher: TeacherEmbeddings = data.extras["teacher"]
        objective.teacher = torch.from_numpy(teacher.embeddings[list(indices)])  # type: ignore[attr-defined]


@dataclass(frozen=True)
class UniMEHardNegative(Recipe):
    """UniME stage 2: instruction pairs, false-negative filter, top-k hard negatives, tau 0.02."""

    needs_images: bool = True

    def load(self, cfg: Config) -> Dataset[InstructionPair]:
        return read_instruction_pairs(
            cfg.data.train_file,
            cfg.data.image_root,
            on_error=cfg.data.on_error,
            verify_images=cfg.data.verify_images,
        )

    def streams(self, records: Sequence[InstructionPair]) -> list[list[Item]]:
        streams = [[_side(r.query) for r in records], [_side(r.positive) for r in records]]
        negatives = [r.negative for r in records if r.negative is not None]
        if negatives:
            streams.append([_side(n) for n in negatives])
        return streams

    def objective(self, cfg: Config) -> Objective:
        return HardNegativeObjective(k=cfg.loss.k, beta=cfg.loss.beta, tau=cfg.loss.tau or UNIME_TAU)


RECIPES: dict[str, Recipe] = {
    "e5v_text": E5VText("e5v_text"),
    "multimodal_pairs": MultimodalPairs("multimodal_pairs"),
    "unime_distill": UniMEDistill("unime_distill"),
    "unime_hardneg": UniMEHardNegative("unime_hardneg"),
}


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise ConfigError(f"unknown recipe {name!r}; known: {sorted(RECIPES)}") from None


# ---------------------------------------------------------------------- teacher embeddings
TEACHER_TEXTS = "texts.jsonl"
TEACHER_EMBEDDINGS = "embeddings.npy"
TEACHER_META = "teacher.json"


@dataclass
class TeacherEmbeddings:
    """Sentences and their teacher embeddings (row ``i`` embeds ``texts[i]``), L2-normalised."""

    texts: list[str]
    embeddings: np.ndarray
    meta: dict[str, Any]


def compute_teacher(
    sentences: Sequence[str],
    teacher: str,
    out_dir: str | Path,
    batch_size: int = 64,
    device: str | None = None,
) -> TeacherEmbeddings:
    """Embed ``sentences`` once with a sentence-transformers model and store them in ``out_dir``."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(teacher, device=device)
    embeddings = model.encode(
        list(sentences),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=True,
    ).astype(np.float32)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "teacher": str(teacher),
        "count": len(sentences),
        "dim": int(embeddings.shape[1]),
        "normalized": True,
    }
    with (out / TEACHER_TEXTS).open("w", encoding="utf-8") as handle:
        for text in sentences:
            handle.write(json.dumps(text, ensure_ascii=False) + "\n")
    np.save(out / TEACHER_EMBEDDINGS, embeddings)
    (out / TEACHER_META).write_text(json.dumps(meta, indent=2))
    return TeacherEmbeddings(list(sentences), embeddings, meta)


def load_teacher(directory: str | Path) -> TeacherEmbeddings:
    directory = Path(directory)
    for name in (TEACHER_TEXTS, TEACHER_EMBEDDINGS, TEACHER_META):
        if not (directory / name).is_file():
            raise FileNotFoundError(
                f"{directory / name} missing: compute teacher embeddings with `e5v distill-teacher`"
            )
    texts = [
        json.loads(line)
        for line in (directory / TEACHER_TEXTS).read_text(encoding="utf-8").splitlines()
        if line
    ]
    embeddings = np.load(directory / TEACHER_EMBEDDINGS)
    if embeddings.shape[0] != len(texts):
        raise DataError(
            directory / TEACHER_EMBEDDINGS, 0, f"{embeddings.shape[0]} embeddings for {len(texts)} texts"
        )
    return TeacherEmbeddings(texts, embeddings, json.loads((directory / TEACHER_META).read_text()))
