"""Tiny random models of every supported family, built in code with local tokenizers/processors.

No hub access: tokenizers are trained in a few milliseconds on a small built-in corpus, image
processors are constructed from their defaults. Used by the test-suite, the benchmarks and
anyone who wants to try the API without downloading weights. The weights are random, so the
embeddings are meaningless; the computation is the real one.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import torch

_CORPUS = [
    "a dog runs on the beach",
    "a cat sleeps on a red sofa",
    "two people ride bicycles in the park",
    "Summary above sentence in one word:",
    "Summary above image in one word:",
    "Summary above image and sentence in one word:",
    "Modify this image with, describe modified image in one word",
    "change the style of this dress shirt to",
    "the quick brown fox jumps over the lazy dog",
    "user assistant system",
    "0123456789 .,;:!?'\"()[]{}<>-_/\\|@#$%^&*+=~`",
]

_TEXT = dict(
    hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2
)

_GENERIC_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}IMAGE_MARKUP"
    "{% else %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def chat_template(image_markup: str = "<image>", bos: str = "") -> str:
    """A ChatML-style Jinja template; ``bos`` is written at the start (some real ones do)."""
    return bos + _GENERIC_TEMPLATE.replace("IMAGE_MARKUP", image_markup)


@functools.cache
def _tokenizer_object(special: tuple[str, ...], bos: str, add_bos: bool) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=list(special), initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(_CORPUS, trainer)
    if add_bos:
        bos_id = tok.token_to_id(bos)
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, bos_id)]
        )
    return tok.to_str()


def tiny_tokenizer(
    special: tuple[str, ...] = (),
    bos: str = "<s>",
    eos: str = "</s>",
    add_bos: bool = True,
    template: str | None = None,
) -> Any:
    """A byte-level BPE tokenizer with the given special tokens (each a single id)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    all_special = tuple(dict.fromkeys((bos, eos, *special)))
    tok = Tokenizer.from_str(_tokenizer_object(all_special, bos, add_bos))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        additional_special_tokens=[t for t in all_special if t not in (bos, eos)],
    )
    if template is not None:
        tokenizer.chat_template = template
    return tokenizer


def _seed(seed: int) -> None:
    torch.manual_seed(seed)


@contextlib.contextmanager
def _without_video_processor() -> Iterator[None]:
    """Let a processor be built with ``video_processor=None``.

    Video processors need torchvision, which is not installed beside the CPU torch wheel here;
    transformers' constructor type-checks even a ``None`` video processor and fails on the
    missing video registry. Images and text do not use it.
    """
    from transformers.processing_utils import ProcessorMixin

    original = ProcessorMixin.check_argument_for_proper_class

    def check(self: Any, argument_name: str, argument: Any) -> Any:
        if argument is None and "video" in argument_name:
            return None
        return original(self, argument_name, argument)

    ProcessorMixin.check_argument_for_proper_class = check  # type: ignore[method-assign]
    try:
        yield
    finally:
        ProcessorMixin.check_argument_for_proper_class = original  # type: ignore[method-assign]


_CHATML = ("<|im_start|>", "<|im_end|>")
_LLAMA3 = ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")


def _text_config(model_type: str, vocab: int, **extra: Any) -> Any:
    from transformers import AutoConfig

    return AutoConfig.for_model(model_type, vocab_size=vocab, max_position_embeddings=512, **_TEXT, **extra)


def _clip_vision() -> Any:
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=32,
        patch_size=8,
        projection_dim=32,
    )


def _causal(model_type: str, with_template: bool) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM

    tokenizer = tiny_tokenizer(
        special=_CHATML, bos="<s>", eos="</s>", template=chat_template() if with_template else None
    )
    extra = {"head_dim": 8} if model_type == "gemma" else {}
    config = _text_config(model_type, len(tokenizer), **extra)
    config.bos_token_id, config.eos_token_id = tokenizer.bos_token_id, tokenizer.eos_token_id
    return AutoModelForCausalLM.from_config(config), tokenizer


def _llava() -> tuple[Any, Any]:
    from transformers import CLIPImageProcessor, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    tokenizer = tiny_tokenizer(special=("<image>", *_CHATML), template=chat_template())
    config = LlavaConfig(
        vision_config=_clip_vision(),
        text_config=_text_config("llama", len(tokenizer)),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        image_seq_length=16,
        vision_feature_layer=-1,
    )
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=8,
        num_additional_image_tokens=1,
        vision_feature_select_strategy="default",
        chat_template=chat_template(),
    )
    return LlavaForConditionalGeneration(config), processor


def _llava_next(text_type: str) -> tuple[Any, Any]:
    from transformers import (
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextImageProcessor,
        LlavaNextProcessor,
    )

    if text_type == "llama":  # Llama-3 style vocabulary, as royokong/e5-v
        tokenizer = tiny_tokenizer(special=("<image>", *_LLAMA3), bos="<|begin_of_text|>", eos="<|eot_id|>")
    else:  # llava-v1.6-mistral
        tokenizer = tiny_tokenizer(special=("<image>", "[INST]", "[/INST]"))
    pinpoints = [[32, 32], [32, 64], [64, 32], [64, 64], [96, 32]]
    config = LlavaNextConfig(
        vision_config=_clip_vision(),
        text_config=_text_config(text_type, len(tokenizer)),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        image_grid_pinpoints=pinpoints,
        vision_feature_layer=-1,
    )
    image_processor = LlavaNextImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}, image_grid_pinpoints=pinpoints
    )
    processor = LlavaNextProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
    )
    return LlavaNextForConditionalGeneration(config), processor


def _llava_onevision() -> tuple[Any, Any]:
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        SiglipVisionConfig,
    )

    tokenizer = tiny_tokenizer(
        special=("<image>", "<video>", *_CHATML), add_bos=False, template=chat_template()
    )
    pinpoints = [[32, 32], [32, 64], [64, 32], [64, 64]]
    vision = SiglipVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=32,
        patch_size=8,
    )
    config = LlavaOnevisionConfig(
        vision_config=vision,
        text_config=_text_config("qwen2", len(tokenizer)),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=pinpoints,
        vision_feature_layer=-1,
    )
    image_processor = LlavaOnevisionImageProcessor(
        size={"height": 32, "width": 32}, image_grid_pinpoints=pinpoints
    )
    with _without_video_processor():
        processor = LlavaOnevisionProcessor(
            image_processor=image_processor,
            tokenizer=tokenizer,
            num_image_tokens=16,
            vision_feature_select_strategy="full",
            chat_template=chat_template(),
            vision_aspect_ratio="anyres_max_9",
        )
    return LlavaOnevisionForConditionalGeneration(config), processor


def _qwen2_vl() -> tuple[Any, Any]:
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
    )

    markup = "<|vision_start|><|image_pad|><|vision_end|>"
    special = (*_CHATML, "<|vision_start|>", "<|image_pad|>", "<|vision_end|>", "<|video_pad|>")
    tokenizer = tiny_tokenizer(
        special=special, bos="<|endoftext|>", eos="<|im_end|>", add_bos=False, template=chat_template(markup)
    )
    ids = tokenizer.convert_tokens_to_ids
    bos_eos = dict(bos_token_id=ids("<|endoftext|>"), eos_token_id=ids("<|im_end|>"))
    text = _text_config(
        "qwen2_vl_text", len(tokenizer), rope_scaling={"type": "mrope", "mrope_section": [1, 1, 2]}, **bos_eos
    )
    config = Qwen2VLConfig(
        text_config=text.to_dict(),
        vision_config=dict(
            depth=2,
            embed_dim=32,
            hidden_size=32,
            num_heads=4,
            mlp_ratio=2,
            in_channels=3,
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
        ),
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
        **bos_eos,
    )
    image_processor = Qwen2VLImageProcessor(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 16)
    with _without_video_processor():
        processor = Qwen2VLProcessor(
            image_processor=image_processor, tokenizer=tokenizer, chat_template=chat_template(markup)
        )
    return Qwen2VLForConditionalGeneration(config), processor


def _idefics3() -> tuple[Any, Any]:
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
    )

    special = ("<image>", "<fake_token_around_image>", "<global-img>", "<end_of_utterance>", *_CHATML)
    tokenizer = tiny_tokenizer(special=special, template=chat_template())
    config = Idefics3Config(
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=32,
            patch_size=8,
        ),
        text_config=_text_config("llama", len(tokenizer)).to_dict(),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        scale_factor=2,
    )
    image_processor = Idefics3ImageProcessor(size={"longest_edge": 64}, max_image_size={"longest_edge": 32})
    processor = Idefics3Processor(
        image_processor=image_processor, tokenizer=tokenizer, image_seq_len=4, chat_template=chat_template()
    )
    return Idefics3ForConditionalGeneration(config), processor


_BUILDERS = {
    "llava": _llava,
    "llava_next": lambda: _llava_next("llama"),
    "llava_next_mistral": lambda: _llava_next("mistral"),
    "llava_onevision": _llava_onevision,
    "qwen2_vl": _qwen2_vl,
    "idefics3": _idefics3,
    "llama": lambda: _causal("llama", with_template=False),
    "qwen2": lambda: _causal("qwen2", with_template=True),
    "mistral": lambda: _causal("mistral", with_template=False),
    "gemma": lambda: _causal("gemma", with_template=True),
}

FAMILIES: tuple[str, ...] = tuple(_BUILDERS)
MULTIMODAL_FAMILIES: tuple[str, ...] = (
    "llava",
    "llava_next",
    "llava_next_mistral",
    "llava_onevision",
    "qwen2_vl",
    "idefics3",
)


def tiny_model(family: str, seed: int = 0) -> tuple[Any, Any]:
    """Build ``(model, processor_or_tokenizer)`` of a tiny random model of ``family``."""
    if family not in _BUILDERS:
        raise KeyError(f"unknown family {family!r}; choose from {FAMILIES}")
    _seed(seed)
    model, processor = _BUILDERS[family]()
    return model.eval(), processor


def random_image(width: int, height: int, seed: int = 0) -> Any:
    """A random RGB ``PIL.Image`` (noise), e.g. to exercise anyres tilings of different shapes."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def skip_unless_ci(reason: str) -> None:
    """Skip a test whose real data or weights are missing, but FAIL under CI (``CI=true``),
    where ``.ci/run`` installs them: a missing resource must not pass as a skipped test there."""
    import os

    import pytest

    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)
