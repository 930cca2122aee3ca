"""Short model names that resolve to local model directories, built from what installs offline.

``Embedder.from_pretrained(name)`` looks a name up here first; anything else is treated as a
Hugging Face hub id or a local path. A resolver returns a directory that transformers loads with
``from_pretrained`` (weights as safetensors, tokenizer/processor files beside them).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

#: short name -> "module:function" of a resolver ``f(cache_dir: Path) -> Path``.
SHORT_NAMES: dict[str, str] = {
    "smollm2-135m-instruct": "e5v.zoo.smollm2:resolve",
    "e5v-tiny": "e5v.zoo.e5v_tiny:resolve",
}

#: What ``Embedder.from_pretrained()`` loads when given no name.
DEFAULT_MODEL = "e5v-tiny"


def cache_root() -> Path:
    """Where converted and built models are cached (``$E5V_CACHE`` or ``~/.cache/e5v``)."""
    return Path(os.environ.get("E5V_CACHE", Path.home() / ".cache" / "e5v"))


def package_file(package: str, relative: str, install_hint: str) -> Path:
    """A file shipped inside an installed PyPI package, found without importing the package.

    Raises:
        ModelBuildError: ``install_hint`` when the package is not installed; a reinstall hint
            when the file is missing from it.
    """
    from e5v.errors import ModelBuildError

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelBuildError(install_hint)
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise ModelBuildError(f"{package} is installed but {path} is missing; reinstall it")
    return path


def is_short_name(name: str) -> bool:
    return name in SHORT_NAMES


def resolve(name: str, cache_dir: Path | None = None) -> Path:
    """Return the local model directory for a short name, building/converting it if needed."""
    try:
        target = SHORT_NAMES[name]
    except KeyError:
        raise KeyError(f"unknown short model name {name!r}; known: {sorted(SHORT_NAMES)}") from None
    module_name, func_name = target.split(":")
    resolver: Callable[[Path], Path] = getattr(importlib.import_module(module_name), func_name)
    return resolver(cache_dir or cache_root())
