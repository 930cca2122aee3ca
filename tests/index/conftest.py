"""Fixtures of the index tests: the tiny LLaVA embedder (tests/conftest.py) saved to disk."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory, embedder):
    """The tiny LLaVA saved to disk, so the CLI can load it by path."""
    path = tmp_path_factory.mktemp("tiny-llava-index")
    embedder.save_pretrained(path)
    return path
