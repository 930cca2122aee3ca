"""Fixtures of the index tests: a tiny random LLaVA embedder."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def embedder(tiny):
    from e5v import Embedder

    model, processor = tiny("llava")
    return Embedder(model, processor)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory, embedder):
    """The tiny LLaVA saved to disk, so the CLI can load it by path."""
    path = tmp_path_factory.mktemp("tiny-llava-index")
    embedder.save_pretrained(path)
    return path
