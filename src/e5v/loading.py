"""Loading an :class:`~e5v.embedder.Embedder` from a short name, hub id, directory or GGUF file."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from e5v import zoo
from e5v.backbones import backbone_for_config

if TYPE_CHECKING:
    from e5v.embedder import Embedder

logger = logging.getLogger(__name__)

#: Options forwarded to transformers' ``from_pretrained``.
_HUB_OPTIONS = (
    "revision",
    "cache_dir",
    "trust_remote_code",
    "token",
    "local_files_only",
    "attn_implementation",
)


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """Default: float32 on CPU, bfloat16 on GPUs that support it (else float16)."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None or dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    try:
        return getattr(torch, str(dtype).removeprefix("torch."))
    except AttributeError:
        raise ValueError(f"unknown dtype {dtype!r}") from None


def resolve_source(name_or_path: str | Path | None, gguf_file: str | None = None) -> tuple[str, str]:
    """Return ``(loadable path or hub id, display name)``; converts GGUF files once."""
    if name_or_path is None:
        name_or_path = zoo.DEFAULT_MODEL
    name = str(name_or_path)
    if zoo.is_short_name(name):
        return str(zoo.resolve(name)), name
    path = Path(name)
    if gguf_file is not None:
        path = path / gguf_file
    if path.suffix == ".gguf":
        from e5v.zoo.gguf import convert_gguf

        if not path.is_file():
            raise FileNotFoundError(f"GGUF file not found: {path}")
        return str(convert_gguf(path, zoo.cache_root() / "gguf" / path.stem)), name
    return name, name


def load_embedder(cls: type[Embedder], name_or_path: str | Path | None = None, **kwargs: Any) -> Embedder:
    """Implementation of :meth:`Embedder.from_pretrained`."""
    from transformers import (
        AutoConfig,
        AutoModelForCausalLM,
        AutoModelForImageTextToText,
        AutoProcessor,
        AutoTokenizer,
    )

    from e5v.embedder import E5V_CONFIG_NAME

    hub = {k: kwargs.pop(k) for k in _HUB_OPTIONS if k in kwargs}
    device = resolve_device(kwargs.pop("device", None))
    dtype = resolve_dtype(kwargs.pop("dtype", None), device)
    source, display = resolve_source(name_or_path, kwargs.pop("gguf_file", None))

    config = AutoConfig.from_pretrained(
        source, **{k: v for k, v in hub.items() if k != "attn_implementation"}
    )
    backbone = backbone_for_config(config)
    auto_model = AutoModelForImageTextToText if backbone.multimodal else AutoModelForCausalLM
    model = auto_model.from_pretrained(source, dtype=dtype, **hub).to(device).eval()
    processor_hub = {k: v for k, v in hub.items() if k != "attn_implementation"}
    processor = (AutoProcessor if backbone.multimodal else AutoTokenizer).from_pretrained(
        source, **processor_hub
    )

    settings = _read_settings(source, E5V_CONFIG_NAME, processor_hub)
    options = {
        k: v
        for k, v in settings.items()
        if k in ("prompts", "representation", "chat_template", "padding_side", "max_image_tiles")
    }
    options.update(kwargs)
    logger.info("loaded %s (%s, %s on %s)", display, backbone.name, dtype, device)
    return cls(model, processor, name=display, **options)


def _read_settings(source: str, filename: str, hub: dict[str, Any]) -> dict[str, Any]:
    """Read ``e5v_config.json`` from a directory or the hub, if the model has one."""
    local = Path(source) / filename
    if local.is_file():
        return json.loads(local.read_text())
    if Path(source).exists():
        return {}
    try:
        from huggingface_hub import hf_hub_download

        hub_args = {k: v for k, v in hub.items() if k in ("revision", "cache_dir", "token")}
        return json.loads(Path(hf_hub_download(source, filename, **hub_args)).read_text())
    except Exception:  # the file is optional: most hub models have none
        return {}
