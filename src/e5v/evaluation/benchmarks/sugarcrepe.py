"""SugarCrepe compositionality (replace / swap / add), the official JSON files.

Local layout (under the data root)::

    sugarcrepe/data/<subset>.json   {"0": {"filename": "...jpg", "caption": ..., "negative_caption": ...}, ...}
    sugarcrepe/images/<filename>    the COCO val2017 images

for ``<subset>`` in replace_obj, replace_att, replace_rel, swap_obj, swap_att, add_obj, add_att.
"""

from __future__ import annotations

from pathlib import Path

from e5v.evaluation.data import DataError, SugarCrepeData, field_of, read_json, require_dir
from e5v.evaluation.registry import Benchmark, EvalOptions, register
from e5v.evaluation.tasks.sugarcrepe import SUBSETS, evaluate_sugarcrepe

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


register(
    Benchmark(
        name="sugarcrepe",
        task="sugarcrepe",
        load=load_sugarcrepe,
        evaluate=evaluate_sugarcrepe,
        layout=LAYOUT,
        reference="UniME Table 3 (compositional)",
        description="SugarCrepe: accuracy of image vs (caption, hard negative), replace/swap/add",
    )
)
