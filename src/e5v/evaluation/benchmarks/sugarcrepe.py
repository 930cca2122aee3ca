"""SugarCrepe compositionality (replace / swap / add), the official JSON files.

Local layout (under the data root)::

    sugarcrepe/data/<subset>.json   {"0": {"filename": "...jpg", "caption": ..., "negative_caption": ...}, ...}
    sugarcrepe/images/<filename>    the COCO val2017 images

for ``<subset>`` in replace_obj, replace_att, replace_rel, swap_obj, swap_att, add_obj, add_att.

Hub (``--hub``): ``HuggingFaceM4/SugarCrepe_<subset>``, one repository per subset, split
``test``, columns ``image`` (Image: the COCO val2017 image), ``tested_labels`` (list of str:
``[caption, negative_caption]``) and ``true_label`` (ClassLabel whose name is the caption). The
positive is ``true_label`` decoded, the negative the other tested label. The hub id is a
template with ``{subset}`` (``--hub-id "sugarcrepe=<org>/<name>_{subset}"``); an id without it is
read as one repository with one config per subset. Source: HuggingFaceM4's conversion script
(``push_to_hub(f"HuggingFaceM4/SugarCrepe_{config}", split="test")`` with those features), found
through code that calls ``load_dataset("HuggingFaceM4/SugarCrepe_<subset>")["test"]``.
(MTEB's ``mteb/SUGARCREPE_fmt`` pools the subsets in one split without a subset column, so it
cannot give the per-subset table.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from e5v.evaluation.benchmarks._hub import as_image, load_hub, require_columns
from e5v.evaluation.data import DataError, SugarCrepeData, field_of, read_json, require_dir
from e5v.evaluation.registry import Benchmark, EvalOptions, register
from e5v.evaluation.tasks.sugarcrepe import SUBSETS, evaluate_sugarcrepe

HUB_ID = "HuggingFaceM4/SugarCrepe_{subset}"
LAYOUT = "  sugarcrepe/data/<subset>.json  (replace_obj, ..., add_att)\n  sugarcrepe/images/<filename>  (COCO val2017)"


def load_sugarcrepe(root: Path, options: EvalOptions) -> SugarCrepeData:
    base = Path(root) / "sugarcrepe"
    image_dir = require_dir(base / "images", "SugarCrepe images", LAYOUT)
    subsets = {}
    for subset in SUBSETS:
        path = base / "data" / f"{subset}.json"
        doc = read_json(path, f"SugarCrepe {subset}", LAYOUT)
        if not isinstance(doc, dict) or not doc:
            raise DataError(f"{path}: expected a non-empty JSON object of records")
        images, pos, neg = [], [], []
        for key, record in doc.items():
            where = f"{path}[{key!r}]"
            image = image_dir / field_of(record, "filename", where)
            if not image.is_file():
                raise DataError(f"{where}: image not found: {image}\n{LAYOUT}")
            images.append(image)
            pos.append(str(field_of(record, "caption", where)))
            neg.append(str(field_of(record, "negative_caption", where)))
        subsets[subset] = (images, pos, neg)
    return SugarCrepeData(subsets)


def _hub_subset(ds: Any, where: str) -> tuple[list[Any], list[str], list[str]]:
    label = ds.features["true_label"] if hasattr(ds, "features") else None
    decode = getattr(label, "int2str", None)
    images, pos, neg = [], [], []
    for n, row in enumerate(ds):
        tested = [str(t) for t in row["tested_labels"] or []]
        true = row["true_label"]
        positive = decode(true) if decode is not None and not isinstance(true, str) else str(true)
        if len(tested) != 2 or positive not in tested:
            raise DataError(
                f"{where}[{n}]: expected tested_labels = [caption, negative] holding the true label"
            )
        images.append(as_image(row["image"], f"{where}[{n}]"))
        pos.append(positive)
        neg.append(tested[1] if tested[0] == positive else tested[0])
    if not images:
        raise DataError(f"{where}: no rows")
    return images, pos, neg


def load_sugarcrepe_hub(repo_id: str, options: EvalOptions) -> SugarCrepeData:
    """The seven subsets from the hub: ``repo_id`` with ``{subset}`` filled in, or one config each."""
    subsets = {}
    for subset in SUBSETS:
        if "{subset}" in repo_id:
            repo, name = repo_id.format(subset=subset), None
        else:
            repo, name = repo_id, subset
        ds = load_hub(repo, "test", name=name)
        where = repo if name is None else f"{repo} ({name})"
        require_columns(ds, ("image", "tested_labels", "true_label"), where)
        subsets[subset] = _hub_subset(ds, where)
    return SugarCrepeData(subsets)


register(
    Benchmark(
        name="sugarcrepe",
        task="sugarcrepe",
        load=load_sugarcrepe,
        load_hf=load_sugarcrepe_hub,
        hf_id=HUB_ID,
        evaluate=evaluate_sugarcrepe,
        layout=LAYOUT,
        reference="UniME Table 3 (compositional)",
        description="SugarCrepe: accuracy of image vs (caption, hard negative), replace/swap/add",
    )
)
