"""Training: E5-V text-only contrastive training and UniME's two stages.

Needs the ``train`` extra (``pip install 'e5v[train]'``: peft, accelerate, datasets,
sentence-transformers). The losses, the differentiable gather and GradCache need torch only.
"""

from __future__ import annotations

import importlib.util
import logging

_EXTRA = ("peft", "accelerate")
_missing = [name for name in _EXTRA if importlib.util.find_spec(name) is None]
if _missing:
    raise ImportError(
        f"e5v.train needs the 'train' extra (missing: {', '.join(_missing)}): pip install 'e5v[train]'"
    )

# peft imports bitsandbytes when it is installed; on a CPU its import warns that an optional faster
# kernel could not be fetched from the hub (the CPU fallback works, and QLoRA runs): keep it quiet.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)

from e5v.train.config import Config, load_config  # noqa: E402
from e5v.train.losses import distill_kl, e5v_infonce, hard_negative_infonce, select_hard_negatives  # noqa: E402
from e5v.train.trainer import TrainResult, train  # noqa: E402

__all__ = [
    "Config",
    "TrainResult",
    "distill_kl",
    "e5v_infonce",
    "hard_negative_infonce",
    "load_config",
    "select_hard_negatives",
    "train",
]
