"""Text, image and composed (image + modification text) queries against an index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from e5v.index.protocol import EncoderLike
from e5v.index.store import Hit, SearchMode, VectorStore
from e5v.inputs import Interleaved


def make_query(text: str | None = None, image: Any = None) -> Any:
    """The item to embed: a text, an image (path, bytes or PIL image), or both (a composed query).

    Raises:
        ValueError: neither a text nor an image was given.
    """
    if isinstance(image, str):
        image = Path(image)
    if text is not None and image is not None:
        return Interleaved(image=image, text=text)
    if image is not None:
        return image
    if text is not None:
        return text
    raise ValueError("a query needs a text, an image, or both (composed query)")


def query_prompts(store: VectorStore, prompt: Any = None) -> Any:
    """Prompts for queries: ``prompt`` when given, else the prompt set the index was built with."""
    if prompt is not None or store.info.prompts is None:
        return prompt
    from e5v.prompts import PromptSet

    return PromptSet.from_dict(store.info.prompts)


def embed_query(store: VectorStore, encoder: EncoderLike, query: Any, prompt: Any = None) -> np.ndarray:
    """Embed one query item with ``encoder``, refusing an encoder that is not the index's model."""
    store.info.check_model(encoder.name, int(encoder.dim))
    vectors = encoder.encode([query], prompt=query_prompts(store, prompt), show_progress=False)
    return np.asarray(vectors, dtype=np.float32)[0]


def search(
    store: VectorStore,
    encoder: EncoderLike,
    text: str | None = None,
    image: Any = None,
    k: int = 10,
    *,
    prompt: Any = None,
    mode: SearchMode = "auto",
    **options: Any,
) -> list[Hit]:
    """Top-``k`` items for a text, image or composed query.

    Args:
        store: the index.
        encoder: the model the index was built with (checked by name and size).
        text: query text (with ``image``: the modification text of a composed query).
        image: query image (path, bytes or PIL image).
        k: number of results.
        prompt: query prompts; default: the prompts recorded in the index.
        mode: ``auto``, ``exact`` or ``approx`` (see :meth:`VectorStore.search`).
        options: ``nprobes``, ``refine_factor``, ``where``.
    """
    vector = embed_query(store, encoder, make_query(text, image), prompt)
    return store.search(vector, k, model=encoder.name, mode=mode, **options)[0]
