"""Backbone adapters: what differs between model families, each a small registered object.

An adapter knows which ``config.model_type`` values it serves, how the family writes an image
slot in a prompt, how it wraps prompts in a chat format by default, how its processor wants the
images, and which sub-module computes the final hidden states without the vocabulary projection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from e5v.chat import LLAMA3_E5V, MISTRAL_INST, NO_WRAP, ChatWrapper, ProcessorChatWrapper, has_chat_template
from e5v.errors import UnsupportedModelError


def text_config(config: Any) -> Any:
    """The language model's config inside a multimodal config (or the config itself)."""
    getter = getattr(config, "get_text_config", None)
    return getter() if callable(getter) else getattr(config, "text_config", config)


def tokenizer_of(processor: Any) -> Any:
    return getattr(processor, "tokenizer", processor)


def _has_token(processor: Any, token: str) -> bool:
    return token in tokenizer_of(processor).get_vocab()


@dataclass(frozen=True)
class Backbone:
    """A model family.

    Attributes:
        name: family name shown to users.
        model_types: ``config.model_type`` values served.
        multimodal: whether the family takes images.
        image_token: the text that stands for one image in a prompt before the processor
            expands it into image tokens.
        nested_images: the processor wants one list of images per sample.
        anyres: the family splits images into tiles (``max_image_tiles`` applies).
    """

    name: str
    model_types: tuple[str, ...]
    multimodal: bool = True
    image_token: str = "<image>"
    nested_images: bool = False
    anyres: bool = False
    examples: tuple[str, ...] = field(default=())

    def default_wrapper(self, model: Any, processor: Any) -> ChatWrapper:
        """The chat wrapping the reference implementations use for this family."""
        owner = processor if self.multimodal else tokenizer_of(processor)
        if has_chat_template(owner):
            return ProcessorChatWrapper(owner, structured=self.multimodal)
        return NO_WRAP

    def base_model(self, model: nn.Module) -> nn.Module:
        """The module that returns ``last_hidden_state`` (final norm applied, no LM head)."""
        unwrap = getattr(model, "get_base_model", None)  # peft
        if callable(unwrap):
            model = unwrap()
        return getattr(model, model.base_model_prefix)

    def processor_images(self, images: list[Any], per_sample: list[int]) -> Any:
        """Arrange the batch's images the way the processor expects them."""
        if not self.nested_images:
            return images
        nested, it = [], iter(images)
        for count in per_sample:
            nested.append([next(it) for _ in range(count)])
        return nested

    def limit_image_tiles(self, model: nn.Module, processor: Any, max_tiles: int) -> None:
        raise ValueError(f"max_image_tiles applies to anyres families only; {self.name} does not tile images")


@dataclass(frozen=True)
class LlavaNextBackbone(Backbone):
    """LLaVA-NeXT / LLaVA-1.6 (E5-V's backbone) and LLaVA-OneVision: anyres image tiling."""

    anyres: bool = True

    def default_wrapper(self, model: Any, processor: Any) -> ChatWrapper:
        if self.name == "llava_next":
            if _has_token(processor, "<|start_header_id|>"):
                return LLAMA3_E5V  # royokong/e5-v, verbatim
            if getattr(text_config(model.config), "model_type", None) == "mistral":
                return MISTRAL_INST  # llava-v1.6-mistral
        return super().default_wrapper(model, processor)

    def limit_image_tiles(self, model: nn.Module, processor: Any, max_tiles: int) -> None:
        """Keep only the anyres grids with at most ``max_tiles`` tiles (plus the base image)."""
        if max_tiles < 1:
            raise ValueError("max_image_tiles must be >= 1")
        image_processor = processor.image_processor
        base = model.config.vision_config.image_size  # one tile = one vision-encoder input
        pinpoints = [
            [h, w]
            for h, w in model.config.image_grid_pinpoints
            if math.ceil(h / base) * math.ceil(w / base) <= max_tiles
        ] or [[base, base]]
        model.config.image_grid_pinpoints = pinpoints
        image_processor.image_grid_pinpoints = pinpoints


@dataclass(frozen=True)
class Idefics3Backbone(Backbone):
    """Idefics3 / SmolVLM: images split into sub-images plus a global view."""

    nested_images: bool = True
    anyres: bool = True

    def limit_image_tiles(self, model: nn.Module, processor: Any, max_tiles: int) -> None:
        if max_tiles < 1:
            raise ValueError("max_image_tiles must be >= 1")
        image_processor = processor.image_processor
        if max_tiles == 1:
            image_processor.do_image_splitting = False
            return
        tile = image_processor.max_image_size["longest_edge"]
        image_processor.size = {"longest_edge": tile * max(1, math.isqrt(max_tiles))}


BACKBONES: list[Backbone] = [
    LlavaNextBackbone(
        "llava_next", ("llava_next",), examples=("royokong/e5-v", "llava-hf/llava-v1.6-mistral-7b-hf")
    ),
    LlavaNextBackbone(
        "llava_onevision", ("llava_onevision",), examples=("llava-hf/llava-onevision-qwen2-0.5b-ov-hf",)
    ),
    Backbone("llava", ("llava",), examples=("llava-hf/llava-1.5-7b-hf",)),
    Backbone(
        "qwen2_vl",
        ("qwen2_vl", "qwen2_5_vl"),
        image_token="<|vision_start|><|image_pad|><|vision_end|>",
        examples=("Qwen/Qwen2-VL-2B-Instruct", "Qwen/Qwen2.5-VL-3B-Instruct"),
    ),
    Idefics3Backbone("idefics3", ("idefics3", "smolvlm"), examples=("HuggingFaceTB/SmolVLM-256M-Instruct",)),
    Backbone(
        "causal_lm",
        ("llama", "qwen2", "qwen3", "mistral", "gemma", "gemma2", "gemma3_text", "phi3"),
        multimodal=False,
        examples=("HuggingFaceTB/SmolLM2-135M-Instruct", "Qwen/Qwen2.5-0.5B-Instruct"),
    ),
]


def register_backbone(backbone: Backbone) -> None:
    """Add a family (it takes precedence over the built-in ones for its model types)."""
    BACKBONES.insert(0, backbone)


def supported_model_types() -> list[str]:
    return sorted({t for b in BACKBONES for t in b.model_types})


def backbone_for_config(config: Any) -> Backbone:
    """Pick the adapter for a transformers config, or explain which families are supported."""
    model_type = getattr(config, "model_type", None)
    for backbone in BACKBONES:
        if model_type in backbone.model_types:
            return backbone
    families = "; ".join(f"{b.name} ({', '.join(b.model_types)})" for b in BACKBONES)
    raise UnsupportedModelError(f"model type {model_type!r} is not supported. Supported families: {families}")
