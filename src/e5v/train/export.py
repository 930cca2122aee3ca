"""Merged export: the trained model with LoRA folded in, loadable by ``Embedder.from_pretrained``.

For a text-only run on a multimodal checkpoint, the trained language-model weights are written
back into a copy of the FULL multimodal checkpoint (same key names, same files), so the
exported model embeds images and interleaved inputs with the weights trained on text only.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import torch
from torch import nn

from e5v.embedder import E5V_CONFIG_NAME
from e5v.train.config import CONFIG_NAME, Config
from e5v.train.model import LM_KEY_MAPPING, Built, local_dir

logger = logging.getLogger(__name__)


def merged_model(model: nn.Module) -> nn.Module:
    """Fold LoRA into the base weights (a no-op for a model without adapters)."""
    merge = getattr(model, "merge_and_unload", None)
    return merge() if callable(merge) else model


def _lm_key(key: str) -> str | None:
    for pattern, replacement in LM_KEY_MAPPING.items():
        if re.match(pattern, key):
            return re.sub(pattern, replacement, key, count=1)
    return None


def write_into_full_checkpoint(lm_state: dict[str, torch.Tensor], source: Path, out: Path) -> int:
    """Copy ``source`` (an MLLM directory) to ``out`` with its language-model tensors replaced.

    Returns the number of tensors replaced. Raises ValueError when a trained tensor has no place.
    """
    from safetensors import safe_open
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.is_file() and item.suffix != ".safetensors":
            shutil.copy2(item, out / item.name)
    shards = sorted(source.glob("*.safetensors"))
    if not shards:
        raise ValueError(f"{source}: no .safetensors weights to write the trained language model into")
    used: set[str] = set()
    for shard in shards:
        tensors, metadata = {}, None
        with safe_open(str(shard), framework="pt") as handle:
            metadata = handle.metadata()
            keys = list(handle.keys())  # a safetensors handle is not iterable
            for key in keys:
                target = _lm_key(key)
                if target is None and key in lm_state:  # qwen2-vl legacy layout: LM keys unprefixed
                    target = key
                if target is not None and target in lm_state:
                    dtype = _ST_DTYPES.get(handle.get_slice(key).get_dtype(), lm_state[target].dtype)
                    tensors[key] = lm_state[target].to(dtype)
                    used.add(target)
                else:
                    tensors[key] = handle.get_tensor(key)
        save_file(
            {k: v.contiguous() for k, v in tensors.items()},
            str(out / shard.name),
            metadata=metadata or {"format": "pt"},
        )
    unused = [k for k in lm_state if k not in used and not k.startswith("lm_head.")]
    if unused:
        raise ValueError(f"{len(unused)} trained tensors have no place in {source}, e.g. {unused[0]!r}")
    return len(used)


_ST_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


ADAPTER = "adapter"


def export_adapter(built: Built, out: str | Path) -> Path | None:
    """Save the LoRA adapter so that peft applies it to the model inference loads.

    For a text-only run on a multimodal checkpoint the adapter's module names are moved under
    the full model's language model (e.g. ``model.language_model.layers.0...``) and its targets
    restricted to that language model, so ``PeftModel.from_pretrained(full_mllm, dir)`` works.
    Returns None when the model has no adapter.
    """
    model = built.embedder.model
    if not hasattr(model, "peft_config"):
        return None
    out = Path(out)
    model.save_pretrained(out)
    full = built.full_embedder
    if full is None:
        return out
    from safetensors.torch import load_file, save_file

    base = model.get_base_model()  # XForCausalLM: its decoder is base.<prefix>
    decoder = getattr(base, base.base_model_prefix)
    lm_name = next(
        name for name, module in full.model.named_modules() if type(module) is type(decoder) and name
    )
    old, new = f"base_model.model.{base.base_model_prefix}.", f"base_model.model.{lm_name}."
    weights_file = out / "adapter_model.safetensors"
    state = load_file(str(weights_file))
    save_file(
        {(new + k[len(old) :] if k.startswith(old) else k): v for k, v in state.items()}, str(weights_file)
    )
    config_file = out / "adapter_config.json"
    adapter_config = json.loads(config_file.read_text())
    suffixes = sorted(
        {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n, _ in decoder.named_modules() if ".lora_A" in n}
    )
    adapter_config["target_modules"] = rf"{re.escape(lm_name)}\..*\.({'|'.join(map(re.escape, suffixes))})"
    adapter_config["base_model_name_or_path"] = built.source
    config_file.write_text(json.dumps(adapter_config, indent=2))
    return out


def _merge_into_unquantised(built: Built, config: Config) -> nn.Module:
    """QLoRA: folding LoRA into 4-bit weights would re-quantise them; reload the base weights
    unquantised on the CPU (in the run's ``model.dtype``), apply the trained adapter there and merge."""
    import tempfile

    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    from e5v.backbones import backbone_for_config
    from e5v.loading import resolve_dtype
    from e5v.train.model import load_language_model

    dtype = resolve_dtype(config.model.dtype, built.embedder.device)
    with tempfile.TemporaryDirectory() as tmp:
        built.embedder.model.save_pretrained(tmp)  # adapter with the trained model's own names
        if built.full_embedder is not None:
            base = load_language_model(built.source, dtype)
        else:
            multimodal = backbone_for_config(built.embedder.model.config).multimodal
            auto = AutoModelForImageTextToText if multimodal else AutoModelForCausalLM
            base = auto.from_pretrained(built.source, dtype=dtype)
        return PeftModel.from_pretrained(base, tmp).merge_and_unload()


def export_merged(built: Built, config: Config, out: str | Path) -> Path:
    """Write the merged model, its processor and its e5v settings (and the training config)."""
    out = Path(out)
    embedder = built.embedder
    export_adapter(built, out / ADAPTER)
    if config.lora.qlora and config.lora.enabled:
        model = _merge_into_unquantised(built, config)
    else:
        model = merged_model(embedder.model)
    model.eval()
    embedder.model = model  # the embedder now runs the merged weights
    if built.full_embedder is not None:
        lm_state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        count = write_into_full_checkpoint(lm_state, local_dir(built.source), out)
        (out / E5V_CONFIG_NAME).write_text(
            json.dumps(built.full_embedder.settings(), indent=2, ensure_ascii=False)
        )
        logger.info("wrote %d trained language-model tensors into a copy of %s", count, built.source)
    else:
        embedder.save_pretrained(out)
    config.dump(out / CONFIG_NAME)
    return out
