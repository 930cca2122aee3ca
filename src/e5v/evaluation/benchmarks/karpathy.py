"""Flickr30K (1k test) and COCO (5k test) in the Karpathy split format; also their I2I variants.

Local layout (under the data root)::

    flickr30k/dataset_flickr30k.json    Karpathy split: {"images": [{"filename", "split",
                                         "sentences": [{"raw": ...}, ...]}, ...]}
    flickr30k/images/<filename>          the Flickr30K images
    coco/dataset_coco.json               same format, plus "filepath" (val2014 / train2014)
    coco/images/<filepath>/<filename>    the COCO 2014 images

Hub (``--hf``): ``royokong/flickr30k_test`` / ``royokong/coco_test`` (columns ``image``, ``text``
= list of captions), as the E5-V reference code reads them.
"""

from __future__ import annotations

from pathlib import Path

from e5v.evaluation.benchmarks._hub import as_image, load_hub, require_columns
from e5v.evaluation.data import DataError, ImageTextData, field_of, read_json, require_dir
from e5v.evaluation.registry import Benchmark, EvalOptions, register
from e5v.evaluation.tasks.retrieval import evaluate_i2i, evaluate_image_text

LAYOUTS = {
    "flickr30k": "  flickr30k/dataset_flickr30k.json  (Karpathy split JSON)\n  flickr30k/images/<filename>",
    "coco": "  coco/dataset_coco.json  (Karpathy split JSON)\n  coco/images/<filepath>/<filename>  (val2014/...)",
}


def load_karpathy(root: Path, dataset: str, options: EvalOptions, split: str = "test") -> ImageTextData:
    """Read ``<root>/<dataset>/dataset_<dataset>.json`` and keep the images of ``split``."""
    layout = LAYOUTS[dataset]
    base = Path(root) / dataset
    path = base / f"dataset_{dataset}.json"
    doc = read_json(path, dataset, layout)
    records = field_of(doc, "images", str(path))
    image_dir = require_dir(base / "images", f"{dataset} images", layout)
    images: list[Path] = []
    captions: list[str] = []
    owner: list[int] = []
    missing: list[Path] = []
    for n, record in enumerate(records):
        where = f"{path}: images[{n}]"
        if field_of(record, "split", where) != split:
            continue
        file = image_dir / record.get("filepath", "") / field_of(record, "filename", where)
        if not file.is_file():
            missing.append(file)
        sentences = [
            field_of(s, "raw", f"{where}.sentences").strip() for s in field_of(record, "sentences", where)
        ]
        if options.max_captions is not None:
            sentences = sentences[: options.max_captions]
        if not sentences:
            raise DataError(f"{where}: no captions")
        owner.extend([len(images)] * len(sentences))
        captions.extend(sentences)
        images.append(file)
    if not images:
        raise DataError(f"{path}: no images with split == {split!r}")
    if missing:
        raise DataError(
            f"{dataset}: {len(missing)} of {len(images)} images not found, e.g. {missing[0]}\n{layout}"
        )
    return ImageTextData(images, captions, owner)


def load_karpathy_hub(repo_id: str, options: EvalOptions, split: str = "test") -> ImageTextData:
    ds = load_hub(repo_id, split)
    text_col = "text" if "text" in ds.column_names else "caption"
    require_columns(ds, ("image", text_col), repo_id)
    images, captions, owner = [], [], []
    for n, row in enumerate(ds):
        texts = row[text_col]
        texts = [texts] if isinstance(texts, str) else list(texts)
        if options.max_captions is not None:
            texts = texts[: options.max_captions]
        owner.extend([len(images)] * len(texts))
        captions.extend(t.strip() for t in texts)
        images.append(as_image(row["image"], f"{repo_id}[{n}]"))
    return ImageTextData(images, captions, owner)


for _name, _hub in (("flickr30k", "royokong/flickr30k_test"), ("coco", "royokong/coco_test")):
    _title = "Flickr30K" if _name == "flickr30k" else "COCO"

    def _load(root: Path, options: EvalOptions, _n: str = _name) -> ImageTextData:
        return load_karpathy(root, _n, options)

    register(
        Benchmark(
            name=_name,
            task="image_text",
            load=_load,
            load_hf=load_karpathy_hub,
            hf_id=_hub,
            evaluate=evaluate_image_text,
            layout=LAYOUTS[_name],
            reference="E5-V Table 1; UniME Table 2",
            description=f"{_title} text->image / image->text Recall@1/5/10 (Karpathy test split)",
        )
    )
    register(
        Benchmark(
            name=f"i2i-{_name}",
            task="i2i",
            load=_load,
            load_hf=load_karpathy_hub,
            hf_id=_hub,
            evaluate=evaluate_i2i,
            layout=LAYOUTS[_name],
            reference="E5-V Table 4",
            description=f"I2I-{_title}: captions rendered as 800x400 images (E5-V appendix A)",
        )
    )
