"""Training data: readers with row-level validation, and the WordNet text-pair builder."""

from __future__ import annotations

from e5v.train.data.readers import (
    ImageCaption,
    InstructionPair,
    Side,
    Triplet,
    read_image_captions,
    read_instruction_pairs,
    read_sentences,
    read_triplets,
)
from e5v.train.data.records import DataError, Dataset, Report

__all__ = [
    "DataError",
    "Dataset",
    "ImageCaption",
    "InstructionPair",
    "Report",
    "Side",
    "Triplet",
    "read_image_captions",
    "read_instruction_pairs",
    "read_sentences",
    "read_triplets",
]
