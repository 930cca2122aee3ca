"""Prompt templates, representation methods, chat wrapping options and backbone selection."""

from __future__ import annotations

import numpy as np
import pytest

from e5v import Embedder, Interleaved, PromptError, PromptSet
from e5v.backbones import backbone_for_config
from e5v.errors import UnsupportedModelError
from e5v.prompts import PROMPTS, fill_template, resolve_prompts
from e5v.testing import random_image

LLAMA3_HEAD = "<|start_header_id|>user<|end_header_id|>\n\n"
LLAMA3_TAIL = "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n \n"


def test_user_template_zero_shot(tiny):
    model, processor = tiny("llava_next")
    embedder = Embedder(model, processor)
    cirr = '<image>Modify this image with "<text>", desribe modified image in one word:'
    assert embedder.build_prompt("interleaved", "make it red", prompts=cirr) == (
        LLAMA3_HEAD
        + '<image>Modify this image with "make it red", desribe modified image in one word:'
        + LLAMA3_TAIL
    )
    # the registry holds the same template; <sent> is accepted as the reference's alias of <text>
    assert PROMPTS["cirr_query"].interleaved == cirr
    assert fill_template("<sent>!", "hi", "<image>") == "hi!"
    vectors = embedder.encode(
        [Interleaved(random_image(20, 20), "make it red")], prompt="cirr_query", show_progress=False
    )
    assert vectors.shape == (1, embedder.dim)


def test_fashioniq_fields():
    prompts = resolve_prompts("fashioniq_target", PROMPTS["one_word"], cat="dress")
    assert prompts.image == "<image>\n Describe this dress in one word based on its style:"


def test_template_must_fit_the_item(tiny):
    model, processor = tiny("llava")
    embedder = Embedder(model, processor)
    with pytest.raises(PromptError, match="input 1"):
        embedder.encode(["a", random_image(8, 8)], prompt="<text> in one word:", show_progress=False)
    with pytest.raises(PromptError, match="no <text>"):
        embedder.build_prompt("text", "a", prompts="Summary in one word:")


def test_text_containing_placeholder_cannot_add_an_image_slot():
    assert fill_template("<text>!", "<text> and <image>", "IMG") == "<text> and <image>!"


@pytest.mark.parametrize(
    ("representation", "text_prompt"),
    [
        ("one_word", LLAMA3_HEAD + "hi\nSummary above sentence in one word: " + LLAMA3_TAIL),
        ("prompt", LLAMA3_HEAD + "hi\nSummary above sentence: " + LLAMA3_TAIL),
        ("last", "hi"),
    ],
)
def test_representation_methods(tiny, representation, text_prompt):
    model, processor = tiny("llava_next")
    embedder = Embedder(model, processor, representation=representation)
    assert embedder.build_prompt("text", "hi") == text_prompt


def test_representation_per_call_gives_different_vectors(tiny):
    model, processor = tiny("llava_next")
    embedder = Embedder(model, processor)
    a = embedder.encode(["a dog"], show_progress=False)
    b = embedder.encode(["a dog"], representation="last", show_progress=False)
    c = Embedder(model, processor, representation="last").encode(["a dog"], show_progress=False)
    assert not np.allclose(a, b)
    np.testing.assert_allclose(b, c, atol=1e-6)


def test_chat_template_overrides(tiny):
    model, processor = tiny("llava_next")
    off = Embedder(model, processor, chat_template=False)
    assert off.build_prompt("text", "hi") == "hi\nSummary above sentence in one word: "
    custom = Embedder(model, processor, chat_template="USER: {} ASSISTANT:")
    assert custom.build_prompt("image") == "USER: <image>\nSummary above image in one word:  ASSISTANT:"
    mistral = Embedder(model, processor, chat_template="mistral_inst")
    assert mistral.build_prompt("image") == "[INST] <image>\nSummary above image in one word: [/INST]"
    with pytest.raises(ValueError, match="unknown chat_template"):
        Embedder(model, processor, chat_template="nonsense")


def test_processor_chat_template_no_double_bos(tiny):
    model, processor = tiny("llama")
    processor.chat_template = "<s>{% for m in messages %}[{{ m['content'] }}]{% endfor %}"
    try:
        embedder = Embedder(model, processor, chat_template="processor")
        prompt = embedder.build_prompt("text", "hi")
        assert prompt.startswith("<s>[hi")
        batch = embedder.collate(embedder_items(["hi"]))
        ids = batch["input_ids"][0].tolist()
        assert ids.count(processor.bos_token_id) == 1
    finally:
        processor.chat_template = None


def embedder_items(texts):
    from e5v.inputs import prepare_items

    return prepare_items(texts)


def test_unsupported_model_names_families():
    from transformers import BertConfig

    with pytest.raises(UnsupportedModelError) as info:
        backbone_for_config(BertConfig())
    message = str(info.value)
    for family in ("llava_next", "qwen2_vl", "idefics3", "llava_onevision", "causal_lm"):
        assert family in message


def test_prompt_set_roundtrip():
    prompts = PromptSet(text="<text>:", image="<image>:", interleaved="<image><text>:", wrap=False)
    assert PromptSet.from_dict(prompts.to_dict()) == prompts
    merged = resolve_prompts({"text": "T <text>"}, PROMPTS["one_word"])
    assert merged.text == "T <text>" and merged.image == PROMPTS["one_word"].image
    with pytest.raises(PromptError):
        resolve_prompts({"txt": "x"}, PROMPTS["one_word"])


def test_max_image_tiles_reduces_tokens(tiny):
    model, processor = tiny("llava_next")
    image = random_image(96, 40)
    from e5v.inputs import prepare_items

    full = Embedder(model, processor).collate(prepare_items([image]))
    original = [list(p) for p in model.config.image_grid_pinpoints]
    try:
        limited_embedder = Embedder(model, processor, max_image_tiles=1)
        limited = limited_embedder.collate(prepare_items([image]))
        assert limited["input_ids"].shape[1] < full["input_ids"].shape[1]
        assert limited_embedder.encode([image], show_progress=False).shape == (1, limited_embedder.dim)
    finally:
        model.config.image_grid_pinpoints = original
        processor.image_processor.image_grid_pinpoints = original
    with pytest.raises(ValueError, match="anyres"):
        Embedder(*tiny("llava"), max_image_tiles=2)
