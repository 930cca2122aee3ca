"""Building the model to train: the full (M)LLM, or only its language model; LoRA / QLoRA.

Text-only loading (E5-V single modality training) reads ``config.text_config`` and only the
language-model tensors of the checkpoint (key prefixes remapped); the vision tower and the
projector are never materialised. The prompts stay those of the full model: the chat wrapping
is taken from an :class:`~e5v.Embedder` of the full architecture built on the ``meta`` device
(no memory), so a trained text-only model and the full MLLM see byte-identical text prompts.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from e5v.backbones import backbone_for_config
from e5v.embedder import Embedder
from e5v.errors import E5VError, ModelBuildError
from e5v.loading import resolve_device, resolve_dtype, resolve_source
from e5v.train.config import LoraConfig, ModelConfig

logger = logging.getLogger(__name__)

#: Checkpoint key prefixes of the language model inside multimodal models -> causal LM keys.
#: (legacy LLaVA layout, transformers 5 layout, Idefics3/SmolVLM.)
LM_KEY_MAPPING = {
    r"^language_model\.model\.": "model.",
    r"^language_model\.lm_head\.": "lm_head.",
    r"^model\.language_model\.": "model.",
    r"^model\.text_model\.": "model.",
}


#: Text configs of MLLM families that no causal-LM class accepts, and the causal LM that computes
#: the same function on text: Qwen2-VL's M-RoPE gives text tokens equal temporal/height/width
#: positions, which is plain 1-D RoPE (a test checks the hidden states are equal).
TEXT_AS_CAUSAL_LM = {"qwen2_vl_text": "qwen2", "qwen2_5_vl_text": "qwen2"}


def causal_lm_config(text_cfg: Any) -> Any:
    """``text_cfg`` itself, or the equivalent causal-LM config (:data:`TEXT_AS_CAUSAL_LM`)."""
    target = TEXT_AS_CAUSAL_LM.get(text_cfg.model_type)
    if target is None:
        return text_cfg
    from transformers import AutoConfig

    values = {k: v for k, v in text_cfg.to_dict().items() if k not in ("model_type", "architectures")}
    rope = dict(values.get("rope_parameters") or {})
    for key in ("mrope_section", "type"):  # M-RoPE only: 1-D RoPE with the same theta
        rope.pop(key, None)
    values["rope_parameters"] = rope
    return AutoConfig.for_model(target, **values)


@dataclass
class Built:
    """What :func:`build_embedder` returns.

    Attributes:
        embedder: the Embedder whose ``collate``/``forward`` training uses (model in train mode).
        source: local directory or hub id of the checkpoint.
        full_embedder: for text-only runs, an Embedder of the full MLLM on the meta device
            (prompts and settings only; it cannot run).
    """

    embedder: Embedder
    source: str
    full_embedder: Embedder | None = None


@contextlib.contextmanager
def _quiet_transformers():
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


#: First bitsandbytes release whose 4-bit NF4 layers run on the CPU (its multi-backend CPU ops).
BNB_CPU_VERSION = "0.48"


def _quantization(lora: LoraConfig, dtype: torch.dtype, device: torch.device) -> Any:
    if not lora.qlora:
        return None
    try:
        import bitsandbytes
    except ImportError:
        raise E5VError("QLoRA (lora.qlora=true) needs bitsandbytes: pip install 'e5v[qlora]'") from None
    from packaging.version import Version

    if device.type == "cpu" and Version(bitsandbytes.__version__) < Version(BNB_CPU_VERSION):
        raise E5VError(
            f"QLoRA on the CPU needs bitsandbytes >= {BNB_CPU_VERSION} (installed: {bitsandbytes.__version__}); "
            "upgrade it, train on a CUDA GPU, or set lora.qlora=false"
        )
    from transformers import BitsAndBytesConfig

    # Compute dtype: the weights' dtype, except that 4-bit matmuls in fp32 buy nothing: bf16.
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=dtype if dtype != torch.float32 else torch.bfloat16,
    )


def load_language_model(
    source: str, dtype: torch.dtype, quantization: Any = None, device_map: Any = None
) -> nn.Module:
    """Load only the language model of a multimodal checkpoint as a causal LM.

    Raises:
        ModelBuildError: when the checkpoint's language-model weights cannot be found (an
            unknown key layout), rather than training randomly initialised weights.
    """
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(source)
    text_cfg = causal_lm_config(config.get_text_config())
    with _quiet_transformers():
        model, info = AutoModelForCausalLM.from_pretrained(
            source,
            config=text_cfg,
            key_mapping=LM_KEY_MAPPING,
            dtype=dtype,
            quantization_config=quantization,
            device_map=device_map,
            output_loading_info=True,
        )
    tied = getattr(text_cfg, "tie_word_embeddings", False)
    missing = [k for k in info["missing_keys"] if not (tied and k.startswith("lm_head."))]
    if missing:
        raise ModelBuildError(
            f"{source}: language-model weights not found in the checkpoint ({len(missing)} missing, e.g. "
            f"{missing[0]!r}); unknown key layout"
        )
    return model


def full_meta_embedder(source: str, embedder_options: dict[str, Any]) -> Embedder:
    """An Embedder of the full MLLM on the meta device: prompts and settings, no weights."""
    from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

    config = AutoConfig.from_pretrained(source)
    with torch.device("meta"), _quiet_transformers():
        model = AutoModelForImageTextToText.from_config(config)
    processor = AutoProcessor.from_pretrained(source)
    return Embedder(model, processor, **embedder_options)


def lora_targets(model: nn.Module, lora: LoraConfig) -> Any:
    """Module names LoRA adapts: on an MLLM with ``language_model_only``, its LM's linears only.

    ``all-linear`` stays peft's own rule on a text model; it becomes the list of linear layer
    suffixes when ``layers_to_transform`` is set (peft needs names then).
    """
    if lora.target_modules != "all-linear":
        return list(lora.target_modules)
    multimodal = backbone_for_config(model.config).multimodal
    if not (lora.language_model_only and multimodal) and lora.layers_to_transform is None:
        return "all-linear"
    in_lm = (
        (lambda name: any(p in ("language_model", "text_model") for p in name.split(".")))
        if multimodal
        else (lambda name: True)
    )
    names = [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and in_lm(name) and not name.endswith("lm_head")
    ]
    if not names:
        raise ModelBuildError("found no language-model linear layers to adapt; set lora.target_modules")
    if lora.layers_to_transform is not None:
        return sorted({name.rsplit(".", 1)[-1] for name in names})
    return names


def apply_lora(model: nn.Module, lora: LoraConfig, gradient_checkpointing: bool) -> nn.Module:
    """Wrap ``model`` with LoRA (or make it fully trainable when LoRA is off)."""
    if gradient_checkpointing:
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        model.config.use_cache = False
    if lora.qlora:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
    if not lora.enabled:
        for param in model.parameters():
            param.requires_grad_(True)
        return model
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    peft_config = PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora_targets(model, lora),
        layers_to_transform=lora.layers_to_transform,
        bias="none",
    )
    model = get_peft_model(model, peft_config)
    if gradient_checkpointing:
        model.enable_input_require_grads()
    return model


def build_embedder(
    model_cfg: ModelConfig, lora: LoraConfig, device: str | torch.device | None = None
) -> Built:
    """Load the checkpoint (whole, or its language model only), add LoRA, wrap in an Embedder."""
    from transformers import (
        AutoConfig,
        AutoModelForCausalLM,
        AutoModelForImageTextToText,
        AutoProcessor,
        AutoTokenizer,
    )

    source, display = resolve_source(model_cfg.name)
    device = resolve_device(device)
    dtype = resolve_dtype(model_cfg.dtype, device)
    quantization = _quantization(lora, dtype, torch.device(device))
    device_map = {"": device} if quantization is not None else None
    options = {"prompts": model_cfg.prompts, "chat_template": model_cfg.chat_template}
    config = AutoConfig.from_pretrained(source)
    multimodal = backbone_for_config(config).multimodal
    full = None
    with _quiet_transformers():
        if multimodal and model_cfg.text_only:
            full = full_meta_embedder(source, options)
            model = load_language_model(source, dtype, quantization, device_map)
            processor = AutoTokenizer.from_pretrained(source)
        else:
            auto = AutoModelForImageTextToText if multimodal else AutoModelForCausalLM
            model = auto.from_pretrained(
                source, dtype=dtype, quantization_config=quantization, device_map=device_map
            )
            processor = (AutoProcessor if multimodal else AutoTokenizer).from_pretrained(source)
    if quantization is None:
        model = model.to(device)
    model = apply_lora(model, lora, model_cfg.gradient_checkpointing)
    embedder = Embedder(model, processor, name=display, **options)
    if full is not None:
        # The full model's exact chat wrapping and prompts: training prompts == inference prompts.
        embedder.chat = full.chat
        embedder.prompts = full.prompts
    embedder.model.train()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    logger.info("%s: %s trainable of %s parameters", display, f"{trainable:,}", f"{total:,}")
    return Built(embedder, source, full)


def parameter_bytes(model: nn.Module) -> int:
    """Bytes held by a model's parameters and buffers (works on the meta device too)."""
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def local_dir(source: str) -> Path:
    """A local directory for a hub id or path (downloads config/tokenizer/weights if needed)."""
    path = Path(source)
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(source))
