"""Training configuration: one dataclass per concern, read by one mechanism.

A run is described by a YAML or JSON file with the sections ``model``, ``lora``, ``data``,
``loss`` and ``train`` (every key optional), and ``section.key=value`` overrides (values are
parsed as YAML: ``train.max_steps=50``, ``lora.target_modules=[q_proj,v_proj]``,
``data.image_root=null``). Unknown keys and wrongly-typed values are errors. The resolved
configuration is saved with every checkpoint and with the exported model.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from e5v.errors import E5VError

CONFIG_NAME = "e5v_train_config.yaml"


class ConfigError(E5VError, ValueError):
    """A configuration file or override is invalid."""


@dataclass
class ModelConfig:
    """What to train.

    Attributes:
        name: short name (``e5v.zoo``), hub id or local directory of an (M)LLM.
        text_only: load only the language model of a multimodal checkpoint (E5-V single
            modality training): its vision tower and projector are never loaded.
        dtype: weights dtype (``float32``, ``bfloat16``, ``float16``; ``auto``: fp32 on CPU,
            bf16 on GPU).
        prompts: prompt set (registry name, template, or mapping per kind); None: the model's.
        chat_template: as ``Embedder(chat_template=...)``; None: the backbone's default.
        gradient_checkpointing: recompute activations in backward (less memory, ~30% slower).
    """

    name: str = "smollm2-135m-instruct"
    text_only: bool = False
    dtype: str = "auto"
    prompts: str | dict | None = None
    chat_template: str | bool | None = None
    gradient_checkpointing: bool = False


@dataclass
class LoraConfig:
    """LoRA (peft). E5-V defaults: r 64, alpha 16, dropout 0.05, all linear layers.

    Attributes:
        enabled: False trains every weight of the language model instead.
        target_modules: ``all-linear`` or a list of module name suffixes (e.g. ``[q_proj, v_proj]``).
        language_model_only: on a multimodal model, adapt the language model's layers only.
        layers_to_transform: adapt only these layer indices (None: all). Adapting only the top
            layers also stops back-propagation below them (cheaper steps).
        qlora: load the base weights in 4-bit NF4 with double quantisation (bitsandbytes; CUDA, or the CPU with bitsandbytes >= 0.48).
    """

    enabled: bool = True
    r: int = 64
    alpha: int = 16
    dropout: float = 0.05
    target_modules: str | list = "all-linear"
    language_model_only: bool = True
    layers_to_transform: list | None = None
    qlora: bool = False


@dataclass
class DataConfig:
    """Training data.

    Attributes:
        train_file: the data file (layout depends on the recipe; see docs/training.md).
        teacher_dir: UniME stage 1: the folder written by ``e5v distill-teacher``.
        image_root: folder that relative image paths are resolved against (default: the
            data file's folder).
        on_error: ``raise`` on the first bad row, or ``skip`` bad rows and count them.
        verify_images: check every image reference (exists, readable header) before training.
        max_text_tokens: cut each text to this many tokens BEFORE templating (E5-V: 32).
    """

    train_file: str = ""
    teacher_dir: str | None = None
    image_root: str | None = None
    on_error: str = "raise"
    verify_images: bool = True
    max_text_tokens: int | None = 32


@dataclass
class LossConfig:
    """Loss hyper-parameters; None means the recipe's published default.

    Attributes:
        tau: temperature (E5-V 0.05, UniME stage 2 0.02, stage 1 0.05 (ours: unpublished)).
        teacher_tau: stage 1 teacher temperature (default: ``tau``).
        mask_self: stage 1: drop each row's self-similarity from both softmaxes.
        beta: stage 2 false-negative margin (0.1). k: stage 2 hard negatives per query (8).
    """

    tau: float | None = None
    teacher_tau: float | None = None
    mask_self: bool = True
    beta: float = 0.1
    k: int = 8


@dataclass
class TrainConfig:
    """The optimisation loop.

    Attributes:
        recipe: ``e5v_text``, ``multimodal_pairs``, ``unime_distill`` or ``unime_hardneg``.
        output_dir: checkpoints, logs and the exported model go here.
        batch_size: examples per process per step (the contrastive batch is this times the
            number of processes).
        chunk_size: GradCache chunk (examples per forward); None: no gradient caching.
        max_steps: optimisation steps; epochs: if set, overrides max_steps.
        lr, warmup_steps, scheduler (``linear``, ``cosine``, ``constant``), weight_decay,
        max_grad_norm (None: no clipping).
        mixed_precision: ``no``, ``fp16`` or ``bf16`` (accelerate).
        deepspeed: DeepSpeed ZeRO config: ``zero2`` (shipped) or a JSON file (stages 0-2; its
            ``"auto"`` values are filled from this section); None: plain data parallelism.
        save_every: checkpoint every N steps (0: only at the end); keep_checkpoints: how many.
        log_every: log every N steps. tensorboard: also write TensorBoard events.
        export: write the merged model (LoRA folded in) to ``output_dir/export`` at the end.
    """

    recipe: str = "e5v_text"
    output_dir: str = "runs/e5v"
    batch_size: int = 32
    chunk_size: int | None = None
    max_steps: int = 1000
    epochs: float | None = None
    lr: float = 4e-4
    warmup_steps: int = 100
    scheduler: str = "linear"
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0
    mixed_precision: str = "no"
    deepspeed: str | None = None
    seed: int = 42
    save_every: int = 100
    keep_checkpoints: int = 2
    log_every: int = 10
    tensorboard: bool = False
    export: bool = True


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def dump(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True))


def _check_type(value: Any, annotation: Any, where: str) -> Any:
    """Check (and lightly coerce: int -> float) a value against a field annotation."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        for option in typing.get_args(annotation):
            try:
                return _check_type(value, option, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} is not one of {annotation}")
    if annotation is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where}: expected null, got {value!r}")
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is float and isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
        try:
            return float(value)
        except ValueError:
            pass
    expected = origin or annotation
    if expected is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected int, got {value!r}")
    if not isinstance(value, expected):
        raise ConfigError(f"{where}: expected {getattr(expected, '__name__', expected)}, got {value!r}")
    return value


def _section(cls: type, values: dict[str, Any], name: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)} in section {name!r}; known: {sorted(known)}")
    return cls(**{k: _check_type(v, hints[k], f"{name}.{k}") for k, v in values.items()})


SECTIONS = {f.name: f.type for f in dataclasses.fields(Config)}


def config_from_dict(data: dict[str, Any]) -> Config:
    hints = typing.get_type_hints(Config)
    unknown = set(data) - set(hints)
    if unknown:
        raise ConfigError(f"unknown section(s) {sorted(unknown)}; known: {sorted(hints)}")
    return Config(**{name: _section(hints[name], data.get(name) or {}, name) for name in hints})


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings (values parsed as YAML) to a raw config dict."""
    data = {k: dict(v or {}) for k, v in data.items()}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or "." not in key:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        section, name = key.strip().split(".", 1)
        cls = typing.get_type_hints(Config).get(section)
        annotation = typing.get_type_hints(cls).get(name) if cls else None
        # A plain-text field keeps the text as typed (YAML would read "no" as false).
        value = raw if annotation is str else (yaml.safe_load(raw) if raw.strip() else None)
        data.setdefault(section, {})[name] = value
    return data


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a YAML/JSON config file (or start from the defaults) and apply overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else (yaml.safe_load(text) or {})
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: a config is a mapping of sections")
    return config_from_dict(apply_overrides(data, overrides or []))
