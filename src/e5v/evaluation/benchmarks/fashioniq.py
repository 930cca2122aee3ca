"""FashionIQ (validation split, the three categories).

Local layout (under the data root), as the official FashionIQ repository ships it::

    fashioniq/captions/cap.<category>.val.json       [{"candidate", "target", "captions": [c1, c2]}, ...]
    fashioniq/image_splits/split.<category>.val.json ["<image id>", ...]   (the gallery)
    fashioniq/images/<image id>.png                  (.jpg also accepted)

for ``<category>`` in dress, shirt, toptee.

Hub (``--hub``): the copies the E5-V reference code reads: ``royokong/fashioniq_val`` (split
``val``; one row per query: ``candidate`` (Image), ``candidate_id``, ``caption`` (the two
relative captions), ``category``, ``target`` (Image), ``target_id``) and the galleries
``royokong/fashioniq_val_imgs`` (split ``val``; ``id``, ``img`` (Image), ``category``). Both
are filtered by ``category``. ``--hub-id "fashioniq=<queries repo>+<images repo>"`` names both;
without ``+`` the images repo is ``<queries repo>_imgs``. Source: the E5-V reference evaluation
script (``load_dataset('royokong/fashioniq_val')`` / ``'royokong/fashioniq_val_imgs'``, filtered
on ``x['category']``, columns ``candidate``, ``caption``, ``target_id``, ``id``, ``img``) and a
derivative that also names ``candidate_id``, ``split``, ``target``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from e5v.evaluation.benchmarks._hub import as_image, load_hub, require_columns, split_repo
from e5v.evaluation.data import DataError, FashionIQData, FashionIQSplit, field_of, read_json, require_dir
from e5v.evaluation.registry import Benchmark, EvalOptions, register
from e5v.evaluation.tasks.composed import FASHIONIQ_CATEGORIES, evaluate_fashioniq

HUB_ID = "royokong/fashioniq_val"

LAYOUT = (
    "  fashioniq/captions/cap.<category>.val.json\n"
    "  fashioniq/image_splits/split.<category>.val.json\n"
    "  fashioniq/images/<image id>.png  (or .jpg)\n"
    "  for <category> in dress, shirt, toptee"
)


def _image(image_dir: Path, name: str) -> Path:
    for ext in (".png", ".jpg", ".jpeg", ""):
        path = image_dir / f"{name}{ext}"
        if path.is_file():
            return path
    raise DataError(f"FashionIQ image {name!r} not found in {image_dir} (tried .png, .jpg)\n{LAYOUT}")


def load_fashioniq_category(root: Path, category: str) -> FashionIQSplit:
    base = Path(root) / "fashioniq"
    image_dir = require_dir(base / "images", "FashionIQ images", LAYOUT)
    cap_path = base / "captions" / f"cap.{category}.val.json"
    split_path = base / "image_splits" / f"split.{category}.val.json"
    records = read_json(cap_path, f"FashionIQ {category} captions", LAYOUT)
    gallery_ids = read_json(split_path, f"FashionIQ {category} image split", LAYOUT)
    if not isinstance(records, list) or not isinstance(gallery_ids, list):
        raise DataError(f"FashionIQ: expected JSON lists in {cap_path} and {split_path}")
    index = {name: i for i, name in enumerate(gallery_ids)}
    gallery = [_image(image_dir, name) for name in gallery_ids]
    refs, captions, targets = [], [], []
    for n, record in enumerate(records):
        where = f"{cap_path}[{n}]"
        target = field_of(record, "target", where)
        if target not in index:
            raise DataError(f"{where}: target {target!r} is not in the gallery {split_path}")
        pair = field_of(record, "captions", where)
        if not isinstance(pair, list) or len(pair) != 2:
            raise DataError(f"{where}: 'captions' must be a list of two relative captions")
        candidate = field_of(record, "candidate", where)
        refs.append(gallery[index[candidate]] if candidate in index else _image(image_dir, candidate))
        captions.append((str(pair[0]), str(pair[1])))
        targets.append(index[target])
    if not targets:
        raise DataError(f"{cap_path}: no queries")
    return FashionIQSplit(category, list(gallery_ids), list(gallery), refs, captions, np.asarray(targets))


def load_fashioniq(root: Path, options: EvalOptions) -> FashionIQData:
    return FashionIQData({c: load_fashioniq_category(root, c) for c in FASHIONIQ_CATEGORIES})


def _hub_category(queries: Any, imgs: Any, category: str, repos: tuple[str, str]) -> FashionIQSplit:
    queries_repo, images_repo = repos
    keep = [i for i, c in enumerate(imgs["category"]) if c == category]
    if not keep:
        raise DataError(f"{images_repo}: no gallery images with category {category!r}")
    subset = imgs.select(keep).select_columns(["id", "img"])
    gallery_ids = [str(i) for i in subset["id"]]
    gallery = [as_image(row["img"], f"{images_repo}[{i}]") for i, row in zip(keep, subset, strict=True)]
    index = {name: i for i, name in enumerate(gallery_ids)}
    rows = [i for i, c in enumerate(queries["category"]) if c == category]
    text = queries.select_columns(["candidate_id", "caption", "target_id"])
    refs: list[Any] = []
    captions, targets = [], []
    for i in rows:
        row = text[i]
        where = f"{queries_repo}[{i}]"
        target = str(row["target_id"])
        if target not in index:
            raise DataError(f"{where}: target {target!r} is not in the {category} gallery of {images_repo}")
        pair = row["caption"]
        if not isinstance(pair, list) or len(pair) != 2:
            raise DataError(f"{where}: 'caption' must be a list of two relative captions")
        candidate = str(row["candidate_id"])
        refs.append(
            gallery[index[candidate]] if candidate in index else as_image(queries[i]["candidate"], where)
        )
        captions.append((str(pair[0]), str(pair[1])))
        targets.append(index[target])
    if not targets:
        raise DataError(f"{queries_repo}: no queries with category {category!r}")
    return FashionIQSplit(category, gallery_ids, gallery, refs, captions, np.asarray(targets))


def load_fashioniq_hub(repo_id: str, options: EvalOptions) -> FashionIQData:
    """FashionIQ val from the hub: query rows and gallery images, split by ``category``."""
    queries_repo, images_repo = split_repo(repo_id, f"{repo_id}_imgs")
    queries = load_hub(queries_repo, "val")
    require_columns(queries, ("candidate", "candidate_id", "caption", "category", "target_id"), queries_repo)
    imgs = load_hub(images_repo, "val")
    require_columns(imgs, ("id", "img", "category"), images_repo)
    repos = (queries_repo, images_repo)
    return FashionIQData({c: _hub_category(queries, imgs, c, repos) for c in FASHIONIQ_CATEGORIES})


register(
    Benchmark(
        name="fashioniq",
        task="fashioniq",
        load=load_fashioniq,
        load_hf=load_fashioniq_hub,
        hf_id=HUB_ID,
        evaluate=evaluate_fashioniq,
        layout=LAYOUT,
        reference="E5-V Table 3",
        description="FashionIQ val: Recall@10/50 for shirt, dress, toptee and their average",
    )
)
