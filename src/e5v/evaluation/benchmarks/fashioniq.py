"""FashionIQ (validation split, the three categories).

Local layout (under the data root), as the official FashionIQ repository ships it::

    fashioniq/captions/cap.<category>.val.json       [{"candidate", "target", "captions": [c1, c2]}, ...]
    fashioniq/image_splits/split.<category>.val.json ["<image id>", ...]   (the gallery)
    fashioniq/images/<image id>.png                  (.jpg also accepted)

for ``<category>`` in dress, shirt, toptee.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from e5v.evaluation.data import DataError, FashionIQData, FashionIQSplit, field_of, read_json, require_dir
from e5v.evaluation.registry import Benchmark, EvalOptions, register
from e5v.evaluation.tasks.composed import FASHIONIQ_CATEGORIES, evaluate_fashioniq

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


register(
    Benchmark(
        name="fashioniq",
        task="fashioniq",
        load=load_fashioniq,
        evaluate=evaluate_fashioniq,
        layout=LAYOUT,
        reference="E5-V Table 3",
        description="FashionIQ val: Recall@10/50 for shirt, dress, toptee and their average",
    )
)
