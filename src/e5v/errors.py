"""Exceptions raised by e5v. Every error that concerns one input names its index."""

from __future__ import annotations


class E5VError(Exception):
    """Base class of every error e5v raises on purpose."""


class InvalidInputError(E5VError, ValueError):
    """An input item cannot be embedded.

    Attributes:
        index: position of the offending item in the list given to ``encode``.
        reason: human-readable reason.
    """

    def __init__(self, index: int, reason: str) -> None:
        self.index = index
        self.reason = reason
        super().__init__(f"input {index}: {reason}")


class UnsupportedModelError(E5VError):
    """The model's architecture has no registered backbone adapter."""


class PromptError(E5VError, ValueError):
    """A prompt template is malformed or does not fit the input kind."""


class ModelBuildError(E5VError):
    """A model could not be built or converted (missing part, bad file)."""
