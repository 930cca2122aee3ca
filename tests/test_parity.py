"""Parity oracle: ``encode`` equals the reference E5-V computation, family by family.

The reference is what the E5-V code does, one input at a time: the reference prompt string
(written out here by hand, not built by e5v), ``processor(...)``, the FULL model with
``output_hidden_states=True``, ``hidden_states[-1][:, -1, :]``, then L2-normalisation.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from e5v import Embedder, Interleaved
from e5v.testing import FAMILIES, MULTIMODAL_FAMILIES

LLAMA3 = (
    "<|start_header_id|>user<|end_header_id|>\n\n{}<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n \n"
)
CHATML = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"
QWEN_IMAGE = "<|vision_start|><|image_pad|><|vision_end|>"

TEXT_BODY = "{}\nSummary above sentence in one word: "
IMAGE_BODY = "<image>\nSummary above image in one word: "
INTERLEAVED_BODY = "<image>\n{}\nSummary above image and sentence in one word: "


def reference_prompt(family: str, body: str) -> str:
    if family == "llava_next":
        return LLAMA3.format(body)
    if family == "llava_next_mistral":
        return "[INST] " + body.rstrip() + " [/INST]"
    if family in ("llama", "mistral"):  # no chat template
        return body
    if family == "qwen2_vl":
        body = body.replace("<image>", QWEN_IMAGE)
    return CHATML.format(body)


def reference_embedding(model, processor, family: str, prompt: str, image=None) -> np.ndarray:
    if image is None:
        inputs = (
            processor(text=prompt, return_tensors="pt")
            if family in MULTIMODAL_FAMILIES
            else processor(prompt, return_tensors="pt")
        )
    else:
        images = [[image]] if family == "idefics3" else image
        inputs = processor(text=prompt, images=images, return_tensors="pt")
    inputs.pop("token_type_ids", None)
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True)
    return F.normalize(out.hidden_states[-1][:, -1, :], dim=-1)[0].numpy()


TEXTS = ["a dog runs on the beach", "two people ride bicycles in the park at noon, under a blue sky"]


@pytest.mark.parametrize("family", FAMILIES)
def test_encode_matches_reference(family, tiny, images):
    model, processor = tiny(family)
    embedder = Embedder(model, processor)
    items: list[object] = list(TEXTS)
    expected = [
        reference_embedding(model, processor, family, reference_prompt(family, TEXT_BODY.format(t)))
        for t in TEXTS
    ]
    if family in MULTIMODAL_FAMILIES:
        items += images[:2]
        expected += [
            reference_embedding(model, processor, family, reference_prompt(family, IMAGE_BODY), im)
            for im in images[:2]
        ]
        items.append(Interleaved(image=images[2], text="make it red"))
        expected.append(
            reference_embedding(
                model,
                processor,
                family,
                reference_prompt(family, INTERLEAVED_BODY.format("make it red")),
                images[2],
            )
        )
    got = embedder.encode(items, batch_size=4, show_progress=False)
    cosines = np.sum(got * np.stack(expected), axis=1)
    assert got.dtype == np.float32 and got.shape == (len(items), embedder.dim)
    assert np.all(cosines >= 0.99999), (family, cosines)


@pytest.mark.parametrize("family", ["llava_next", "llava_next_mistral", "qwen2_vl", "qwen2", "llama"])
def test_build_prompt_is_reference_string(family, tiny):
    model, processor = tiny(family)
    embedder = Embedder(model, processor)
    assert embedder.build_prompt("text", "hello") == reference_prompt(family, TEXT_BODY.format("hello"))
    if family in MULTIMODAL_FAMILIES:
        expected_image = reference_prompt(family, IMAGE_BODY)
        if family == "qwen2_vl":
            expected_image = expected_image.replace("<image>", QWEN_IMAGE)
        assert embedder.build_prompt("image") == expected_image


def test_e5v_reference_strings_character_for_character(tiny):
    """The royokong/e5-v strings, copied from the reference code (mind the trailing spaces)."""
    model, processor = tiny("llava_next")
    embedder = Embedder(model, processor)
    llama3_template = "<|start_header_id|>user<|end_header_id|>\n\n{}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n \n"
    assert embedder.build_prompt("image") == llama3_template.format(
        "<image>\nSummary above image in one word: "
    )
    assert embedder.build_prompt("text", "A dog.") == llama3_template.format(
        "A dog.\nSummary above sentence in one word: "
    )
