"""CIRR (composed image retrieval on real images), validation and test splits.

Local layout (under the data root), as the official CIRR repository ships it::

    cirr/captions/cap.rc2.<split>.json      [{"pairid", "reference", "target_hard", "caption",
                                              "img_set": {"members": [...]}}, ...]
    cirr/image_splits/split.rc2.<split>.json {"<image name>": "./dev/<image name>.png", ...}
    cirr/img_raw/<relative path>             the images (NLVR2 dev/test1 folders); the relative
                                             path is also tried directly under cirr/

``<split>`` is ``val`` for ``cirr`` and ``test1`` for ``cirr-test`` (no ``target_hard``: the
evaluation writes prediction files for the official server instead of metrics).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from e5v.evaluation.data import CIRRData, DataError, field_of, read_json
from e5v.evaluation.registry import Benchmark, EvalOptions, register
from e5v.evaluation.tasks.composed import evaluate_cirr

LAYOUT = (
    "  cirr/captions/cap.rc2.<split>.json\n"
    "  cirr/image_splits/split.rc2.<split>.json\n"
    "  cirr/img_raw/<path in the split file>  (or cirr/<path>)"
)


def _resolve(base: Path, relative: str) -> Path:
    for parent in (base / "img_raw", base):
        candidate = (parent / relative).resolve()
        if candidate.is_file():
            return candidate
    raise DataError(f"CIRR image not found: {relative!r} under {base / 'img_raw'} or {base}\n{LAYOUT}")


def load_cirr(root: Path, options: EvalOptions, split: str = "val") -> CIRRData:
    base = Path(root) / "cirr"
    cap_path = base / "captions" / f"cap.rc2.{split}.json"
    split_path = base / "image_splits" / f"split.rc2.{split}.json"
    captions = read_json(cap_path, "CIRR captions", LAYOUT)
    image_split = read_json(split_path, "CIRR image split", LAYOUT)
    if not isinstance(captions, list) or not isinstance(image_split, dict):
        raise DataError(f"CIRR: expected a list in {cap_path} and an object in {split_path}")
    gallery_ids = list(image_split)
    index = {name: i for i, name in enumerate(gallery_ids)}
    gallery = [_resolve(base, rel) for rel in image_split.values()]
    has_targets = split != "test1"

    def lookup(name: str, where: str) -> int:
        if name not in index:
            raise DataError(f"{where}: image {name!r} is not in {split_path}")
        return index[name]

    pair_ids, refs, texts, targets, subsets = [], [], [], [], []
    for n, record in enumerate(captions):
        where = f"{cap_path}[{n}]"
        pair_ids.append(int(field_of(record, "pairid", where)))
        refs.append(lookup(field_of(record, "reference", where), where))
        texts.append(str(field_of(record, "caption", where)))
        members = field_of(field_of(record, "img_set", where), "members", where)
        subsets.append([lookup(m, where) for m in members])
        if has_targets:
            targets.append(lookup(field_of(record, "target_hard", where), where))
    if not pair_ids:
        raise DataError(f"{cap_path}: no queries")
    return CIRRData(
        split=split,
        gallery_ids=gallery_ids,
        gallery=list(gallery),
        pair_ids=pair_ids,
        references=np.asarray(refs, dtype=np.int64),
        captions=texts,
        targets=np.asarray(targets, dtype=np.int64) if has_targets else None,
        subsets=subsets,
    )


def _load_test(root: Path, options: EvalOptions) -> CIRRData:
    return load_cirr(root, options, split="test1")


register(
    Benchmark(
        name="cirr",
        task="cirr",
        load=load_cirr,
        evaluate=evaluate_cirr,
        layout=LAYOUT.replace("<split>", "val"),
        reference="E5-V Table 2 (test server) and Table 6 (val R@5)",
        description="CIRR val: Recall@1/5/10/50, Recall_subset@1/2/3",
    )
)
register(
    Benchmark(
        name="cirr-test",
        task="cirr",
        load=_load_test,
        evaluate=evaluate_cirr,
        layout=LAYOUT.replace("<split>", "test1"),
        reference="E5-V Table 2",
        description="CIRR test1: writes the official server's prediction files (recall, recall_subset)",
    )
)
