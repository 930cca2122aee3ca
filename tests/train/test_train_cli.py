"""Every recipe through the CLI on tiny random models: loss falls, export loads, resume is exact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from e5v.cli import app
from e5v.train.config import load_config
from e5v.train.trainer import read_metrics, train

from .conftest import COLOURS, CONFIGS

runner = CliRunner()

FAST = [
    "lora.qlora=false",
    "train.mixed_precision=no",
    "train.epochs=null",
    "train.warmup_steps=0",
    "train.scheduler=constant",
    "train.tensorboard=false",
    "train.log_every=1",
    "model.gradient_checkpointing=false",
    "model.dtype=float32",
    "lora.r=8",
    "lora.alpha=16",
]


def cli(*args: str) -> None:
    result = runner.invoke(app, ["train", *args, "--no-progress"])
    assert result.exit_code == 0, result.output + repr(result.exception)


def losses(out) -> list[float]:
    metrics = read_metrics(out)
    return [metrics[s]["loss"] for s in sorted(metrics)]


def assert_falls(values: list[float]) -> None:
    first, last = np.mean(values[:2]), np.mean(values[-2:])
    assert last < 0.8 * first, values


def test_e5v_text_only_overfits_exports_and_embeds_images(tiny_dirs, triplet_file, tmp_path):
    from PIL import Image

    from e5v import Embedder, Interleaved

    out = tmp_path / "run"
    cli(
        f"{CONFIGS}/e5v_text.yaml",
        *FAST,
        f"model.name={tiny_dirs('llava_next')}",
        f"data.train_file={triplet_file}",
        "train.batch_size=8",
        "train.max_steps=16",
        "train.lr=3e-3",
        "train.chunk_size=4",
        f"train.output_dir={out}",
    )
    assert_falls(losses(out))
    metrics = read_metrics(out)
    assert metrics[1]["tokens_per_second"] > 0 and metrics[16]["lr"] == pytest.approx(3e-3)
    exported = Embedder.from_pretrained(out / "export")
    # The export is the full MLLM: it embeds images and interleaved inputs...
    image = Image.new("RGB", (40, 40), "red")
    vectors = exported.encode([image, Interleaved(image, "a dog"), "a dog"], show_progress=False)
    assert vectors.shape == (3, exported.dim) and np.isfinite(vectors).all()
    # ...and its text embeddings are those of the trained text-only model (LoRA folded in).
    cfg = load_config(out / "export" / "e5v_train_config.yaml")
    assert cfg.model.text_only and cfg.train.recipe == "e5v_text"
    original = Embedder.from_pretrained(tiny_dirs("llava_next"))
    texts = ["a dog near the river", "the cat with a book"]
    assert not np.allclose(
        exported.encode(texts, show_progress=False), original.encode(texts, show_progress=False)
    )


def test_text_only_export_equals_trained_model(tiny_dirs, triplet_file, tmp_path):
    from e5v import Embedder

    cfg = load_config(
        f"{CONFIGS}/e5v_text.yaml",
        [
            *FAST,
            f"model.name={tiny_dirs('llava')}",
            f"data.train_file={triplet_file}",
            "train.batch_size=4",
            "train.max_steps=3",
            "train.lr=1e-2",
            f"train.output_dir={tmp_path / 'r'}",
        ],
    )
    result = train(cfg, show_progress=False)
    texts = ["a dog near the river", "the cat with a book"]
    trained = result.embedder.encode(texts, show_progress=False)
    exported = Embedder.from_pretrained(result.export_dir).encode(texts, show_progress=False)
    np.testing.assert_allclose(exported, trained, atol=1e-5)


def test_multimodal_pairs_overfits(tiny_dirs, image_dir, tmp_path):
    data = tmp_path / "pairs.jsonl"
    data.write_text(
        "".join(json.dumps({"image": f"images/{c}.png", "caption": f"a {c} square"}) + "\n" for c in COLOURS)
    )
    out = tmp_path / "run"
    cli(
        f"{CONFIGS}/multimodal_pairs.yaml",
        *FAST,
        f"model.name={tiny_dirs('llava')}",
        f"data.train_file={data}",
        "train.batch_size=8",
        "train.max_steps=12",
        "train.lr=1e-2",
        "lora.enabled=false",
        "train.save_every=0",
        f"train.output_dir={out}",
    )
    assert_falls(losses(out))


def test_unime_distill_teacher_command_and_overfit(tiny_dirs, triplet_file, tmp_path):
    teacher = tmp_path / "teacher"
    result = runner.invoke(app, ["distill-teacher", str(triplet_file), "-o", str(teacher)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    meta = json.loads((teacher / "teacher.json").read_text())
    assert meta["dim"] == 384 and meta["count"] == len((teacher / "texts.jsonl").read_text().splitlines())
    out = tmp_path / "run"
    cli(
        f"{CONFIGS}/unime_distill.yaml",
        *FAST,
        f"model.name={tiny_dirs('llama')}",
        f"data.teacher_dir={teacher}",
        "train.batch_size=32",
        "train.chunk_size=16",
        "train.max_steps=12",
        "train.lr=3e-3",
        "loss.tau=0.1",
        "lora.enabled=false",
        "train.save_every=0",
        "train.export=false",
        f"train.output_dir={out}",
    )
    assert_falls(losses(out))


def test_unime_hardneg_overfits(tiny_dirs, image_dir, tmp_path):
    rows = [
        {
            "qry": f"<|image_1|> Represent the given image with the following question: what colour is it? {c}",
            "qry_image_path": f"images/{c}.png",
            "pos_text": f"{c}",
            "pos_image_path": "",
        }
        for c in COLOURS
    ]
    data = tmp_path / "mmeb.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    cli(
        f"{CONFIGS}/unime_hardneg.yaml",
        *FAST,
        f"model.name={tiny_dirs('llava')}",
        f"data.train_file={data}",
        "train.batch_size=8",
        "train.chunk_size=4",
        "train.max_steps=12",
        "train.lr=1e-3",
        "loss.k=3",
        "loss.beta=0.5",
        "loss.tau=0.1",
        "lora.enabled=false",
        "train.save_every=0",
        "train.export=false",
        f"train.output_dir={out}",
    )
    assert_falls(losses(out))


class Killed(Exception):
    pass


def test_resume_after_kill_reproduces_losses(tiny_dirs, triplet_file, tmp_path):
    """A run killed after step 5 (last checkpoint: step 4), resumed with --resume, logs the same
    losses at steps 5-6 as an uninterrupted run (LoRA dropout on: the RNG must be restored)."""
    common = [
        *FAST,
        f"model.name={tiny_dirs('llama')}",
        f"data.train_file={triplet_file}",
        "train.batch_size=4",
        "train.max_steps=6",
        "train.lr=5e-3",
        "train.scheduler=linear",
        "train.warmup_steps=2",
        "lora.dropout=0.3",
        "train.chunk_size=2",
        "train.save_every=2",
        "train.export=false",
    ]
    full = tmp_path / "full"
    cli(f"{CONFIGS}/e5v_text.yaml", *common, f"train.output_dir={full}")

    killed = tmp_path / "killed"

    def kill_at_5(info):
        if info.step == 5:
            raise Killed

    with pytest.raises(Killed):
        train(
            load_config(f"{CONFIGS}/e5v_text.yaml", [*common, f"train.output_dir={killed}"]),
            callbacks=[kill_at_5],
            show_progress=False,
        )
    assert (killed / "checkpoints" / "step-000004").is_dir()
    cli(f"{CONFIGS}/e5v_text.yaml", *common, f"train.output_dir={killed}", "--resume")
    want, got = read_metrics(full), read_metrics(killed)
    assert sorted(got) == [1, 2, 3, 4, 5, 6]
    for step in (5, 6):
        assert got[step]["loss"] == pytest.approx(want[step]["loss"], rel=1e-6), step
        assert got[step]["lr"] == pytest.approx(want[step]["lr"])
    # Without restoring, a fresh run's step-5 loss (different LoRA init / data order) differs.
    assert want[5]["loss"] != want[1]["loss"]


def test_bad_data_fails_before_training(tiny_dirs, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("sent0,sent1,hard_neg\na,b,c\nd,,f\n")
    result = runner.invoke(
        app,
        [
            "train",
            f"{CONFIGS}/e5v_text.yaml",
            *FAST,
            f"model.name={tiny_dirs('llama')}",
            f"data.train_file={bad}",
            f"train.output_dir={tmp_path / 'o'}",
        ],
    )
    assert result.exit_code == 2 and "bad.csv, row 2: empty 'sent1'" in result.output
    assert not (tmp_path / "o").exists()


def test_qlora_trains_on_4bit_weights_and_exports_the_merged_model(tiny_dirs, triplet_file, tmp_path):
    """QLoRA on the CPU (bitsandbytes' CPU backend): NF4 base layers, loss falls, and the export
    holds base + (alpha / r) B A computed by hand from the saved adapter and the original weights."""
    pytest.importorskip("bitsandbytes")
    import bitsandbytes as bnb
    from safetensors.torch import load_file

    from e5v import Embedder
    from e5v.train.config import LoraConfig, ModelConfig
    from e5v.train.model import build_embedder

    base_dir = tiny_dirs("llama")
    built = build_embedder(ModelConfig(name=base_dir, dtype="float32"), LoraConfig(qlora=True, r=4))
    assert sum(isinstance(m, bnb.nn.Linear4bit) for m in built.embedder.model.modules()) >= 7

    out = tmp_path / "q"
    args = [x for x in FAST if not x.startswith("lora.qlora")]
    cli(
        f"{CONFIGS}/e5v_text.yaml",
        *args,
        "lora.qlora=true",
        f"model.name={base_dir}",
        f"data.train_file={triplet_file}",
        "train.batch_size=8",
        "train.max_steps=16",
        "train.lr=3e-3",
        f"train.output_dir={out}",
    )
    assert_falls(losses(out))
    export = out / "export"
    adapter = load_file(str(export / "adapter" / "adapter_model.safetensors"))
    base = load_file(str(_weights(base_dir)))
    merged = load_file(str(_weights(export)))
    name = "model.layers.0.self_attn.q_proj"
    a = adapter[f"base_model.model.{name}.lora_A.weight"]
    b = adapter[f"base_model.model.{name}.lora_B.weight"]
    assert b.abs().max() > 0  # the adapter was trained
    expected = base[f"{name}.weight"] + (16 / 8) * (b @ a)
    np.testing.assert_allclose(merged[f"{name}.weight"].numpy(), expected.numpy(), atol=1e-6)
    vectors = Embedder.from_pretrained(export).encode(["a dog near the river"], show_progress=False)
    assert np.isfinite(vectors).all()


def _weights(folder) -> Path:
    """The (single) safetensors file of a tiny model directory."""
    return next(Path(folder).glob("*.safetensors"))


def test_text_only_adapter_plugs_into_full_mllm(tiny_dirs, triplet_file, tmp_path):
    """The LoRA adapter trained on the language model alone applies to the full MLLM with peft."""
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from e5v import Embedder

    source = tiny_dirs("llava_next")
    cfg = load_config(
        f"{CONFIGS}/e5v_text.yaml",
        [
            *FAST,
            f"model.name={source}",
            f"data.train_file={triplet_file}",
            "train.batch_size=4",
            "train.max_steps=2",
            "train.lr=1e-2",
            f"train.output_dir={tmp_path / 'r'}",
        ],
    )
    result = train(cfg, show_progress=False)
    full = AutoModelForImageTextToText.from_pretrained(source)
    with_adapter = PeftModel.from_pretrained(full, result.export_dir / "adapter")
    adapted = [n for n, _ in with_adapter.named_modules() if n.endswith("lora_A")]
    assert adapted and all("language_model" in n for n in adapted)
    plugged = Embedder(with_adapter, AutoProcessor.from_pretrained(source))
    merged = Embedder.from_pretrained(result.export_dir)
    texts = ["a dog near the river", "the cat with a book"]
    np.testing.assert_allclose(
        plugged.encode(texts, show_progress=False), merged.encode(texts, show_progress=False), atol=1e-5
    )


def test_bf16_mixed_precision_follows_fp32(tiny_dirs, triplet_file, tmp_path):
    """accelerate's bf16 autocast (on the CPU here): the first step's loss is the fp32 loss up to
    bf16 rounding, and the loss still falls. fp16 without CUDA is refused (accelerate would
    silently run fp32)."""
    import torch

    common = [
        f"{CONFIGS}/e5v_text.yaml",
        *[x for x in FAST if not x.startswith("train.mixed_precision")],
        f"model.name={tiny_dirs('llama')}",
        f"data.train_file={triplet_file}",
        "train.batch_size=8",
        "train.max_steps=12",
        "train.lr=3e-3",
        "train.export=false",
    ]
    runs = {}
    for precision in ("no", "bf16"):
        out = tmp_path / precision
        cli(*common, f"train.mixed_precision={precision}", f"train.output_dir={out}")
        runs[precision] = losses(out)
    assert runs["bf16"][0] == pytest.approx(runs["no"][0], rel=3e-2)
    assert runs["bf16"][0] != runs["no"][0]  # autocast really ran in bf16
    assert_falls(runs["bf16"])
    if not torch.cuda.is_available():
        result = runner.invoke(
            app, ["train", *common, "train.mixed_precision=fp16", f"train.output_dir={tmp_path / 'h'}"]
        )
        assert result.exit_code == 2 and "fp16 needs a CUDA GPU" in result.output
