"""Shared fixtures: tiny random models of every family (built once per session), images, options."""

from __future__ import annotations

import os

import pytest
from PIL import Image

from e5v.testing import random_image

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow", action="store_true", help="also run tests marked slow (real weights, training)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow (CI does)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _quiet_transformers() -> None:
    import transformers

    transformers.logging.set_verbosity_error()


_MODELS: dict[str, tuple[object, object]] = {}


@pytest.fixture(scope="session")
def tiny():
    """``tiny(family)`` -> ``(model, processor)``, built once per session and family."""
    from e5v.testing import tiny_model

    def get(family: str):
        if family not in _MODELS:
            _MODELS[family] = tiny_model(family)
        return _MODELS[family]

    return get


@pytest.fixture
def images() -> list[Image.Image]:
    """Random RGB images of different sizes and aspect ratios (anyres tilings differ)."""
    return [random_image(40, 70, 1), random_image(30, 30, 2), random_image(96, 40, 3)]


@pytest.fixture(scope="session")
def embedder(tiny):
    """An ``Embedder`` over the tiny random LLaVA (shared by the index and server tests)."""
    from e5v import Embedder

    model, processor = tiny("llava")
    return Embedder(model, processor)
