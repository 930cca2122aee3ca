"""Memory saved by E5-V text-only training: the vision tower and projector are never loaded.

1. Parameter bytes of LLaVA-NeXT-8B (E5-V's backbone: CLIP ViT-L/14-336 + Llama-3-8B), counted
   on the meta device (no weights needed): whole model vs the language model alone.
2. Measured: a LLaVA checkpoint with a ViT-L/14-336-sized vision tower and a SmolLM2-135M-sized
   language model (random weights, bf16) is written to disk, then loaded in fresh processes
   whole (``AutoModelForImageTextToText``) and text-only (``e5v.train.model.load_language_model``);
   peak resident memory of each process is reported.

    python bench/train_text_only_memory.py [--workdir /tmp/e5v_mem]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

GIB = 2**30


def _clip_l336() -> dict:
    return dict(
        hidden_size=1024,
        intermediate_size=4096,
        num_hidden_layers=24,
        num_attention_heads=16,
        image_size=336,
        patch_size=14,
        projection_dim=768,
    )


def counted() -> dict[str, float]:
    import torch
    from transformers import (
        AutoModelForCausalLM,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
    )

    text = LlamaConfig(
        vocab_size=128_320,
        hidden_size=4096,
        intermediate_size=14_336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        max_position_embeddings=8192,
    )
    config = LlavaNextConfig(
        vision_config=CLIPVisionConfig(**_clip_l336()), text_config=text, image_token_index=128_256
    )
    with torch.device("meta"):
        full = LlavaNextForConditionalGeneration(config)
        lm = AutoModelForCausalLM.from_config(text)
    n_full = sum(p.numel() for p in full.parameters())
    n_lm = sum(p.numel() for p in lm.parameters())
    return {
        "full_params": n_full,
        "lm_params": n_lm,
        "vision_and_projector_params": n_full - n_lm,
        "saved_gib_bf16": (n_full - n_lm) * 2 / GIB,
        "saved_gib_4bit": (n_full - n_lm) * 0.5 / GIB,
    }


def build_checkpoint(path: Path) -> None:
    import torch
    from transformers import (
        AutoTokenizer,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
    )

    text = LlamaConfig(
        vocab_size=49_152,
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        tie_word_embeddings=True,
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(**_clip_l336()), text_config=text, image_token_index=49_151
    )
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config).to(torch.bfloat16)
    model.save_pretrained(path)
    from e5v.zoo import resolve

    AutoTokenizer.from_pretrained(resolve("smollm2-135m-instruct")).save_pretrained(path)


def _hwm_kib() -> int:
    """Peak resident memory of this process (VmHWM, KiB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def load(path: str, mode: str) -> dict[str, float]:
    import torch

    before = _hwm_kib()
    if mode == "full":
        from transformers import AutoModelForImageTextToText

        model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.bfloat16)
    else:
        from e5v.train.model import load_language_model

        model = load_language_model(path, torch.bfloat16)
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    with torch.no_grad():  # touch every weight (lazily mmapped files become resident, as in training)
        for p in model.parameters():
            p.sum()
    peak = _hwm_kib()
    return {
        "mode": mode,
        "param_mib": params / 2**20,
        "peak_rss_mib": peak / 1024,
        "rss_growth_mib": (peak - before) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="/tmp/e5v_text_only_memory")
    parser.add_argument("--_child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        print(json.dumps(load(*args._child)))
        return
    print("LLaVA-NeXT-8B (meta-device count):", json.dumps(counted(), indent=2))
    path = Path(args.workdir)
    if not (path / "config.json").is_file():
        build_checkpoint(path)
    for mode in ("full", "text_only"):
        out = subprocess.run(
            [sys.executable, __file__, "--_child", str(path), mode],
            capture_output=True,
            text=True,
            check=True,
        )
        print(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
