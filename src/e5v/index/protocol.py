"""The small contract the index, the server and the Ray engine need from an embedder.

:class:`e5v.Embedder` satisfies it; so does any object with the same three members, which keeps
this package usable (and testable) with other encoders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class EncoderLike(Protocol):
    """What :mod:`e5v.index`, :mod:`e5v.serve` and :mod:`e5v.scale` call on an embedder."""

    name: str
    dim: int

    def encode(self, items: Sequence[Any], *args: Any, **kwargs: Any) -> np.ndarray:
        """Embed ``items`` (str, image, :class:`~e5v.inputs.Interleaved`) into a ``[n, dim]`` float32 array."""
        ...


def prompts_of(encoder: object) -> dict[str, Any] | None:
    """The encoder's default prompt set as a dict (``None`` when it has none)."""
    prompts = getattr(encoder, "prompts", None)
    if prompts is None:
        return None
    to_dict = getattr(prompts, "to_dict", None)
    return to_dict() if callable(to_dict) else dict(prompts)
