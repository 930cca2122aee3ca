"""Config parsing, text-only loading (no vision tower), LoRA targets, gradient checkpointing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from e5v.train.config import ConfigError, LoraConfig, ModelConfig, load_config

from .conftest import CONFIGS


def test_config_file_overrides_and_errors(tmp_path):
    cfg = load_config(
        f"{CONFIGS}/e5v_text.yaml",
        [
            "train.lr=1e-3",
            "lora.target_modules=[q_proj, v_proj]",
            "train.mixed_precision=no",
            "data.image_root=null",
        ],
    )
    assert cfg.train.lr == 1e-3 and cfg.lora.target_modules == ["q_proj", "v_proj"]
    assert (
        cfg.train.mixed_precision == "no"
        and cfg.lora.r == 64
        and cfg.lora.alpha == 16
        and cfg.loss.tau == 0.05
    )
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(None, ["train.learning_rate=1"])
    with pytest.raises(ConfigError, match=r"train\.max_steps"):
        load_config(None, ["train.max_steps=many"])
    with pytest.raises(ConfigError, match=r"section\.key=value"):
        load_config(None, ["max_steps=3"])
    cfg.dump(tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg


@pytest.mark.parametrize(
    "name", ["e5v_text", "multimodal_pairs", "unime_distill", "unime_hardneg", "wordnet_smollm2"]
)
def test_shipped_configs_parse(name):
    assert load_config(f"{CONFIGS}/{name}.yaml").train.recipe


def test_text_only_never_loads_vision_and_matches_full_model(tiny_dirs):
    from e5v import Embedder
    from e5v.train.model import build_embedder

    path = tiny_dirs("llava_next")
    built = build_embedder(ModelConfig(name=path, text_only=True, dtype="float32"), LoraConfig(enabled=False))
    names = [n for n, _ in built.embedder.model.named_parameters()]
    assert not any("vision" in n or "projector" in n for n in names)
    full = Embedder.from_pretrained(path)
    texts = ["a dog runs on the beach", "the quick brown fox"]
    assert built.embedder.build_prompt("text", texts[0]) == full.build_prompt("text", texts[0])
    assert "<|start_header_id|>" in full.build_prompt("text", texts[0])  # not mangled by .replace('_', ' ')
    built.embedder.model.eval()
    np.testing.assert_allclose(
        built.embedder.encode(texts, show_progress=False), full.encode(texts, show_progress=False), atol=1e-6
    )


def test_lora_targets_language_model_only(tiny_dirs):
    from transformers import AutoModelForImageTextToText

    from e5v.train.model import lora_targets

    model = AutoModelForImageTextToText.from_pretrained(tiny_dirs("llava"))
    targets = lora_targets(model, LoraConfig())
    assert (
        targets and all("language_model" in t for t in targets) and not any("lm_head" in t for t in targets)
    )
    assert lora_targets(model, LoraConfig(language_model_only=False)) == "all-linear"
    suffixes = lora_targets(model, LoraConfig(layers_to_transform=[1]))
    assert "q_proj" in suffixes and "fc1" not in suffixes


def test_gradient_checkpointing_same_gradients(tiny_dirs):
    from e5v.inputs import Item, Kind
    from e5v.train.model import build_embedder
    from e5v.train.objectives import InfoNCEObjective

    grads, path = [], tiny_dirs("llama")
    for checkpointing in (False, True):
        torch.manual_seed(0)  # the same LoRA initialisation
        built = build_embedder(
            ModelConfig(name=path, dtype="float32", gradient_checkpointing=checkpointing),
            LoraConfig(r=4, dropout=0.0),
        )
        emb = built.embedder
        with torch.no_grad():  # LoRA B starts at zero: make the adapter matter
            for name, p in emb.model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.1, generator=torch.Generator().manual_seed(1))
        items = [
            [Item(Kind.TEXT, text=t) for t in col] for col in (["a dog", "a cat"], ["the dog", "the cat"])
        ]
        reps = [emb.forward(emb.collate(col)) for col in items]
        InfoNCEObjective()(reps).backward()
        grads.append([p.grad.clone() for p in emb.model.parameters() if p.requires_grad])
        assert emb.model.is_gradient_checkpointing == checkpointing
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b)


def _tiny_qwen2_5_vl():
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    text = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 200,
        "rope_parameters": {"rope_type": "default", "mrope_section": [1, 1, 2], "rope_theta": 1e6},
    }
    vision = {"depth": 1, "hidden_size": 16, "intermediate_size": 32, "num_heads": 2, "out_hidden_size": 32}
    config = Qwen2_5_VLConfig(text_config=text, vision_config={**vision, "fullatt_block_indexes": [0]})
    return Qwen2_5_VLForConditionalGeneration(config)


@pytest.mark.parametrize(
    "family", ["llava", "llava_next", "llava_onevision", "qwen2_vl", "qwen2_5_vl", "idefics3"]
)
def test_language_model_loads_alone_from_every_multimodal_layout(family, tmp_path):
    """The text-only loader finds the language model in each family's checkpoint layout (weights
    only: Qwen2-VL and OneVision processors cannot be saved without torchvision) and computes
    the full MLLM's hidden states on text."""
    import torch

    from e5v.testing import tiny_model
    from e5v.train.model import load_language_model

    torch.manual_seed(0)
    full = _tiny_qwen2_5_vl() if family == "qwen2_5_vl" else tiny_model(family, seed=0)[0]
    full.save_pretrained(tmp_path)
    lm = load_language_model(str(tmp_path), torch.float32)
    names = [n for n, _ in lm.named_parameters()]
    assert not any(part in n for n in names for part in ("vision", "visual", "projector", "connector"))
    ids = torch.randint(10, 100, (2, 7), generator=torch.Generator().manual_seed(0))
    full.eval(), lm.eval()
    with torch.no_grad():
        want = full(input_ids=ids, output_hidden_states=True).hidden_states[-1]
        got = lm(input_ids=ids, output_hidden_states=True).hidden_states[-1]
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
