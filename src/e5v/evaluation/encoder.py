"""What the evaluators need from a model, and the cached way they call it.

Any object with ``encode(items, prompt=..., batch_size=...) -> np.ndarray [n, d]`` works
(:class:`e5v.Embedder` is one). ``prompt`` is a registry name of :mod:`e5v.prompts`, a
:class:`~e5v.prompts.PromptSet` or ``None`` (the encoder's default).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from e5v.evaluation.cache import EmbeddingCache, fingerprint_items, prompt_key

logger = logging.getLogger(__name__)

__all__ = ["EncodeContext", "Encoder", "model_name"]


@runtime_checkable
class Encoder(Protocol):
    """The one method the evaluation harness calls."""

    def encode(self, items: Sequence[Any], prompt: Any = None, batch_size: int = 16) -> np.ndarray: ...


def model_name(encoder: Encoder) -> str:
    """A name for the encoder's model (``encoder.name`` when it has one)."""
    name = getattr(encoder, "name", None)
    return str(name) if name else type(encoder).__name__


def _accepts(func: Any, name: str) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


@dataclass
class EncodeContext:
    """An encoder plus the settings every evaluator shares (batch size, cache, dataset tag)."""

    encoder: Encoder
    batch_size: int = 16
    cache: EmbeddingCache | None = None
    dataset: str = ""
    show_progress: bool = False

    @property
    def model(self) -> str:
        return model_name(self.encoder)

    def for_dataset(self, dataset: str) -> EncodeContext:
        return EncodeContext(self.encoder, self.batch_size, self.cache, dataset, self.show_progress)

    def encode(
        self, items: Sequence[Any], prompt: Any = None, *, part: str, normalize: bool = True
    ) -> np.ndarray:
        """Embed ``items`` (``part`` names them inside the dataset, e.g. ``"images"``), via the cache.

        ``normalize=False`` asks for raw embeddings when the encoder supports it (E5-V sums the two
        FashionIQ caption orders before normalising); otherwise normalised ones are returned.
        """
        if len(items) == 0:
            raise ValueError(f"{self.dataset}/{part}: nothing to encode")
        fields = self._key_fields(prompt, part, fingerprint_items(items), normalize)
        hit = self._cached(fields, len(items))
        if hit is not None:
            return hit
        logger.info("encoding %s/%s: %d items", self.dataset, part, len(items))
        emb = self._encode(list(items), prompt, normalize)
        self._store(fields, emb)
        return emb

    def encode_rendered(
        self,
        texts: Sequence[str],
        render: Callable[[str], Any],
        prompt: Any = None,
        *,
        part: str,
        render_key: str,
        chunk: int = 256,
    ) -> np.ndarray:
        """Embed ``render(text)`` for each text, rendering ``chunk`` texts at a time (images of
        25k COCO captions would not fit in memory). Cached by the texts and ``render_key``."""
        if len(texts) == 0:
            raise ValueError(f"{self.dataset}/{part}: nothing to encode")
        fields = self._key_fields(prompt, part, fingerprint_items(texts), True, render=render_key)
        hit = self._cached(fields, len(texts))
        if hit is not None:
            return hit
        logger.info("rendering and encoding %s/%s: %d items", self.dataset, part, len(texts))
        parts = [
            self._encode([render(t) for t in texts[i : i + chunk]], prompt, True)
            for i in range(0, len(texts), chunk)
        ]
        emb = np.concatenate(parts)
        self._store(fields, emb)
        return emb

    def _key_fields(
        self, prompt: Any, part: str, items: str, normalize: bool, **extra: str
    ) -> dict[str, Any]:
        return {
            "model": self.model,
            "prompt": prompt_key(prompt),
            "dataset": self.dataset,
            "part": part,
            "items": items,
            "normalize": normalize,
            **extra,
        }

    def _cached(self, fields: dict[str, Any], n_items: int) -> np.ndarray | None:
        if self.cache is None:
            return None
        hit = self.cache.load(self.cache.key(**fields), n_items)
        if hit is not None:
            logger.info("cache hit: %s/%s (%d items)", self.dataset, fields["part"], n_items)
        return hit

    def _store(self, fields: dict[str, Any], emb: np.ndarray) -> None:
        if self.cache is not None:
            self.cache.save(self.cache.key(**fields), emb, note={**fields, "shape": list(emb.shape)})

    def _encode(self, items: list[Any], prompt: Any, normalize: bool) -> np.ndarray:
        kwargs: dict[str, Any] = {"prompt": prompt, "batch_size": self.batch_size}
        if not normalize and _accepts(self.encoder.encode, "normalize"):
            kwargs["normalize"] = False
        if _accepts(self.encoder.encode, "show_progress"):
            kwargs["show_progress"] = self.show_progress
        emb = np.asarray(self.encoder.encode(items, **kwargs), dtype=np.float32)
        if emb.ndim != 2 or len(emb) != len(items):
            raise ValueError(f"encoder returned shape {emb.shape} for {len(items)} items")
        if not np.all(np.isfinite(emb)):
            raise ValueError(f"encoder returned non-finite embeddings for {self.dataset}")
        return emb
