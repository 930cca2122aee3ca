"""LLaVA assembly from a transformers vision model + causal LM, and the projector training."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from e5v.testing import chat_template, random_image, tiny_tokenizer
from e5v.zoo.llava_assembly import IMAGE_TOKEN, LlavaSpec, build_llava, build_processor, projector_state
from e5v.zoo.projector import (
    INSTRUCTIONS,
    ProjectorTrainingConfig,
    caption_loss,
    encode_examples,
    image_features,
    train_projector,
)

SPEC = LlavaSpec(image_size=32)


@pytest.fixture(scope="module")
def tiny_llava(tmp_path_factory):
    from transformers import Dinov2Config, Dinov2Model, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    vision = Dinov2Model(
        Dinov2Config(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            patch_size=8,
            image_size=64,
        )
    ).eval()
    tokenizer = tiny_tokenizer(special=("<|im_start|>", "<|im_end|>"), template=chat_template())
    lm_dir = tmp_path_factory.mktemp("lm")
    tokenizer.save_pretrained(lm_dir)
    lm = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=256,
            tie_word_embeddings=True,
            pad_token_id=tokenizer.eos_token_id,
        )
    ).eval()
    processor = build_processor(lm_dir, SPEC, patch_size=8)
    model = build_llava(vision, lm, processor, SPEC)
    return model, processor, vision, lm


def test_assembled_model_carries_the_parts(tiny_llava):
    model, processor, vision, lm = tiny_llava
    assert processor.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN) == model.config.image_token_id
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want = vision(pixels, output_hidden_states=True).hidden_states[-1][:, 1:]
        assert torch.allclose(image_features(model, pixels), want, atol=1e-6)
        ids = torch.tensor([[5, 6, 7, 8]])
        assert torch.allclose(model(input_ids=ids).logits, lm(input_ids=ids).logits, atol=1e-5)


def test_saved_directory_loads_with_auto_classes(tiny_llava, tmp_path):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model, processor, _, _ = tiny_llava
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    loaded = AutoModelForImageTextToText.from_pretrained(tmp_path).eval()
    loaded_processor = AutoProcessor.from_pretrained(tmp_path)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "\nSummary: "}]}]
    text = loaded_processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = loaded_processor(images=[random_image(40, 20)], text=[text], return_tensors="pt")
    # 32 px, patch 8, CLS dropped: 16 image tokens.
    assert int((inputs["input_ids"] == loaded.config.image_token_id).sum()) == 16
    with torch.no_grad():
        assert torch.allclose(loaded(**inputs).logits, model(**inputs).logits, atol=1e-5)


def test_caption_loss_matches_the_models_own_loss(tiny_llava):
    model, processor, _, _ = tiny_llava
    images = [random_image(40, 20, 1), random_image(30, 30, 2)]
    pixels = processor.image_processor(images, return_tensors="pt")["pixel_values"]
    examples = encode_examples(processor, ["A red box.", "A much longer caption here."], INSTRUCTIONS[:2], 24)
    with torch.no_grad():
        got = caption_loss(model, image_features(model, pixels), examples)
        total, count = 0.0, 0
        for row, (ids, start) in enumerate(examples):  # oracle: one at a time, token-weighted
            input_ids = torch.tensor([ids])
            labels = input_ids.clone()
            labels[:, :start] = -100
            out = model(input_ids=input_ids, pixel_values=pixels[row : row + 1], labels=labels)
            n = int((labels[:, 1:] != -100).sum())
            total, count = total + float(out.loss) * n, count + n
    assert got.item() == pytest.approx(total / count, rel=1e-5)


def test_training_changes_only_the_projector_and_lowers_the_loss(tiny_llava):
    model, processor, _, _ = tiny_llava
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images = [random_image(32, 32, seed) for seed in range(4)]
    pixels = processor.image_processor(images, return_tensors="pt")["pixel_values"]
    captions = ["A red box.", "A blue ball.", "A green tree.", "A cat."]
    config = ProjectorTrainingConfig(epochs=30, batch_size=4, lr=1e-2, warmup_steps=1, threads=1)
    log = train_projector(model, processor, pixels, captions, config)
    assert log.steps == 30 and log.pairs_seen == 120
    assert sum(log.losses[-3:]) < sum(log.losses[:3])
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("model.multi_modal_projector.") for k in changed)
    assert not any(p.requires_grad for p in model.parameters())
    assert set(projector_state(model)) == {
        "linear_1.weight",
        "linear_1.bias",
        "linear_2.weight",
        "linear_2.bias",
    }
    # restore for the other tests of the module
    model.load_state_dict(before)


def test_config_is_a_plain_dataclass():
    config = dataclasses.replace(ProjectorTrainingConfig(), max_steps=5)
    assert dataclasses.asdict(config)["max_steps"] == 5


def test_folded_standardization_equals_standardizing_the_input():
    from e5v.zoo.projector import feature_statistics, fold_standardization

    torch.manual_seed(0)
    linear = torch.nn.Linear(6, 4)
    features = torch.randn(3, 5, 6) * torch.tensor([1.0, 5.0, 0.1, 2.0, 1.0, 3.0]) + 7.0
    mean, std = feature_statistics(features)
    flat = features.reshape(-1, 6)
    assert torch.allclose(mean, flat.mean(0), atol=1e-5)
    assert torch.allclose(std, flat.std(0), atol=1e-4)
    want = linear((features - mean) / std)
    fold_standardization(linear, mean, std)
    assert torch.allclose(linear(features), want, atol=1e-4)


def test_one_word_embeddings_match_the_embedder(tiny_llava):
    from e5v import Embedder
    from e5v.zoo.projector import _alignment_setup, one_word_embeddings

    model, processor, _, _ = tiny_llava
    images = [random_image(40, 20, 1), random_image(30, 30, 2)]
    pixels = processor.image_processor(images, return_tensors="pt")["pixel_values"]
    targets, ids, index = _alignment_setup(model, processor, ["b cap.", "a cap.", "b cap."], bf16=False)
    assert index.tolist() == [1, 0, 1] and targets.shape[0] == 2
    want = Embedder(model, processor).encode(images, show_progress=False)
    with torch.no_grad():
        got = one_word_embeddings(model, image_features(model, pixels), ids)
    assert torch.allclose(got, torch.from_numpy(want), atol=1e-4)


def test_alignment_objective_lowers_its_loss(tiny_llava):
    model, processor, _, _ = tiny_llava
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images = [random_image(32, 32, seed) for seed in range(4)]
    pixels = processor.image_processor(images, return_tensors="pt")["pixel_values"]
    captions = ["A red box.", "A blue ball.", "A green tree.", "A cat."]
    config = ProjectorTrainingConfig(
        epochs=20, batch_size=4, lr=1e-2, warmup_steps=1, threads=1, caption_weight=0.0, align_weight=1.0
    )
    log = train_projector(model, processor, pixels, captions, config)
    assert sum(log.losses[-3:]) < sum(log.losses[:3])
    model.load_state_dict(before)
