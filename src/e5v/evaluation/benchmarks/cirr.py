"""CIRR (composed image retrieval on real images), validation and test splits.

Local layout (under the data root), as the official CIRR repository ships it::

    cirr/captions/cap.rc2.<split>.json      [{"pairid", "reference", "target_hard", "caption",
                                              "img_set": {"members": [...]}}, ...]
    cirr/image_splits/split.rc2.<split>.json {"<image name>": "./dev/<image name>.png", ...}
    cirr/img_raw/<relative path>             the images (NLVR2 dev/test1 folders); the relative
                                             path is also tried directly under cirr/

``<split>`` is ``val`` for ``cirr`` and ``test1`` for ``cirr-test`` (no ``target_hard``: the
evaluation writes prediction files for the official server instead of metrics).

Hub (``--hub``): the copies the E5-V reference code reads (royokong = the E5-V author):
``royokong/cirr_val`` (split ``val``) / ``royokong/cirr_test`` (split ``test``), one row per
query with ``candidate_id`` (reference image name), ``caption``, ``target_id`` (val only) and
``group``, plus ``candidate`` / ``target`` images (not needed here); the gallery is
``royokong/cirr_imgs`` (splits ``val`` / ``test``; columns ``id``, ``img``). ``--hub-id
"cirr=<queries repo>+<images repo>"`` names both; without ``+`` the images repo is
``royokong/cirr_imgs``. Sources: the reference evaluation script (``load_dataset('royokong/cirr_val')``
/ ``'royokong/cirr_test'`` / ``'royokong/cirr_imgs'``; columns ``candidate``, ``candidate_id``,
``caption``, ``target_id``, ``pairid`` (test), ``id``, ``img``) and a derivative that drops
``["candidate_id", "group", "split", "target"]`` from ``cirr_val``. NOT verified: what ``group``
holds. It is read as CIRR's ``img_set`` (a list of member names, or ``{"members": [...]}``) and
a DataError says so otherwise; ``pairid`` is used when present (test), else the row number.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from e5v.evaluation.benchmarks._hub import as_image, load_hub, require_columns, split_repo
from e5v.evaluation.data import CIRRData, DataError, field_of, read_json
from e5v.evaluation.registry import Benchmark, EvalOptions, register
from e5v.evaluation.tasks.composed import evaluate_cirr

HUB_IDS = {"val": "royokong/cirr_val", "test1": "royokong/cirr_test"}
HUB_IMAGES = "royokong/cirr_imgs"
HUB_SPLITS = {"val": "val", "test1": "test"}

logger = logging.getLogger(__name__)

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


Query = tuple[int, str, str, list[str], str | None]
"""One CIRR query: pair id, reference image, caption, img_set members, target image (None: test)."""


def load_cirr(root: Path, options: EvalOptions, split: str = "val") -> CIRRData:
    base = Path(root) / "cirr"
    cap_path = base / "captions" / f"cap.rc2.{split}.json"
    split_path = base / "image_splits" / f"split.rc2.{split}.json"
    captions = read_json(cap_path, "CIRR captions", LAYOUT)
    image_split = read_json(split_path, "CIRR image split", LAYOUT)
    if not isinstance(captions, list) or not isinstance(image_split, dict):
        raise DataError(f"CIRR: expected a list in {cap_path} and an object in {split_path}")
    gallery = [_resolve(base, rel) for rel in image_split.values()]
    has_targets = split != "test1"

    def queries() -> Iterator[Query]:
        for n, record in enumerate(captions):
            where = f"{cap_path}[{n}]"
            yield (
                int(field_of(record, "pairid", where)),
                field_of(record, "reference", where),
                str(field_of(record, "caption", where)),
                field_of(field_of(record, "img_set", where), "members", where),
                field_of(record, "target_hard", where) if has_targets else None,
            )

    return _cirr_data(split, list(image_split), gallery, queries(), str(split_path), str(cap_path))


def _cirr_data(
    split: str,
    gallery_ids: list[str],
    gallery: list[Any],
    queries: Iterable[Query],
    gallery_source: str,
    query_source: str,
) -> CIRRData:
    """The CIRR data object, every image name looked up in the gallery (errors say where)."""
    index = {name: i for i, name in enumerate(gallery_ids)}
    has_targets = split != "test1"

    def lookup(name: str, where: str) -> int:
        if name not in index:
            raise DataError(f"{where}: image {name!r} is not in {gallery_source}")
        return index[name]

    pair_ids, refs, texts, targets, subsets = [], [], [], [], []
    for n, (pair_id, reference, caption, members, target) in enumerate(queries):
        where = f"{query_source}[{n}]"
        pair_ids.append(pair_id)
        refs.append(lookup(reference, where))
        texts.append(caption)
        subsets.append([lookup(m, where) for m in members])
        if has_targets:
            targets.append(lookup(target, where))
    if not pair_ids:
        raise DataError(f"{query_source}: no queries")
    return CIRRData(
        split=split,
        gallery_ids=gallery_ids,
        gallery=gallery,
        pair_ids=pair_ids,
        references=np.asarray(refs, dtype=np.int64),
        captions=texts,
        targets=np.asarray(targets, dtype=np.int64) if has_targets else None,
        subsets=subsets,
    )


def _load_test(root: Path, options: EvalOptions) -> CIRRData:
    return load_cirr(root, options, split="test1")


def _members(group: Any, where: str) -> list[str]:
    if isinstance(group, dict) and "members" in group:
        group = group["members"]
    if isinstance(group, (list, tuple)) and all(isinstance(m, str) for m in group):
        return list(group)
    raise DataError(
        f"{where}: column 'group' is {type(group).__name__} {group!r:.80}; expected the img_set "
        "member names (a list of str, or {'members': [...]})"
    )


def load_cirr_hub(repo_id: str, options: EvalOptions, split: str = "val") -> CIRRData:
    """CIRR from the hub: query rows (``candidate_id``, ``caption``, ``target_id``, ``group``) and
    the gallery repository (``id``, ``img``)."""
    queries_repo, images_repo = split_repo(repo_id, HUB_IMAGES)
    hub_split = HUB_SPLITS[split]
    has_targets = split != "test1"
    ds = load_hub(queries_repo, hub_split)
    needed = ("candidate_id", "caption") + (("target_id", "group") if has_targets else ())
    require_columns(ds, needed, queries_repo)
    imgs = load_hub(images_repo, hub_split)
    require_columns(imgs, ("id", "img"), images_repo)
    gallery = [as_image(row["img"], f"{images_repo}[{n}]") for n, row in enumerate(imgs)]
    columns = [c for c in ("candidate_id", "caption", "target_id", "group", "pairid") if c in ds.column_names]
    rows = ds.select_columns(columns).to_list()
    if "group" not in columns:
        logger.warning(
            "%s: no 'group' column, so no img_set subsets (recall_subset files empty)", queries_repo
        )

    def queries() -> Iterator[Query]:
        for n, row in enumerate(rows):
            where = f"{queries_repo}[{n}]"
            yield (
                int(row["pairid"]) if "pairid" in row else n,
                str(row["candidate_id"]),
                str(row["caption"]),
                _members(row["group"], where) if "group" in row else [],
                str(row["target_id"]) if has_targets else None,
            )

    gallery_ids = [str(i) for i in imgs["id"]]
    return _cirr_data(
        split, gallery_ids, gallery, queries(), f"{images_repo} (split {hub_split!r})", queries_repo
    )


def _load_test_hub(repo_id: str, options: EvalOptions) -> CIRRData:
    return load_cirr_hub(repo_id, options, split="test1")


register(
    Benchmark(
        name="cirr",
        task="cirr",
        load=load_cirr,
        load_hf=load_cirr_hub,
        hf_id=HUB_IDS["val"],
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
        load_hf=_load_test_hub,
        hf_id=HUB_IDS["test1"],
        evaluate=evaluate_cirr,
        layout=LAYOUT.replace("<split>", "test1"),
        reference="E5-V Table 2",
        description="CIRR test1: writes the official server's prediction files (recall, recall_subset)",
    )
)
