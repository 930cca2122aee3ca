"""MMEB evaluation (36 datasets) in the format of the ``TIGER-Lab/MMEB-eval`` hub repository.

Local layout (under the data root): a snapshot of the hub repository, images unzipped::

    mmeb/<Dataset>/test-*.parquet        columns qry_text, qry_img_path, tgt_text (list),
                                         tgt_img_path (list); the first target is the positive
    mmeb/eval_images/<img path>          the images, paths as written in the parquet files

``<Dataset>`` is each of the 36 names of :data:`e5v.evaluation.tasks.mmeb.META_TASKS`
(``options.mmeb_datasets`` restricts the set). Texts contain the marker ``<|image_1|>`` where the
image goes; it is removed and the image is passed alongside the text.

Hub (``--hub``): ``TIGER-Lab/MMEB-eval``, one config per dataset (the 36 names above), split
``test``, columns ``qry_text`` (str), ``qry_img_path`` (str, ``""`` = no image), ``tgt_text``
(list of str), ``tgt_img_path`` (list of str). The parquet files hold image *paths* only; the
images are the repository's ``images.zip``, which VLM2Vec's ``eval.py`` reads after
``unzip images.zip -d eval_images/`` with ``--image_dir eval_images/`` (paths joined to it).
The hub loader does the same: ``$E5V_MMEB_IMAGES`` (an already unpacked folder) if set, else
``images.zip`` downloaded with ``huggingface_hub`` and unpacked once under
``$E5V_HUB_DATA`` (default ``~/.cache/e5v/hub-data``); the image root is the unpacked folder or
the sub-folder of it that holds the paths. Sources: ``TIGER-AI-Lab/VLM2Vec`` ``src/dataset.py``
(``EvalDataset``: ``load_dataset(dataset_name, subset, split=dataset_split)``, the four columns,
``os.path.join(image_dir, img_path)``) and its README / UniME's README (the ``images.zip`` step).
The layout inside ``images.zip`` was not verified; hence the sub-folder search.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from e5v.evaluation.benchmarks._hub import fetch_archive, find_root, load_hub, require_columns
from e5v.evaluation.data import DataError, MMEBData, MMEBDataset, require_dir
from e5v.evaluation.registry import Benchmark, EvalOptions, register
from e5v.evaluation.tasks.mmeb import DATASET_META_TASK, evaluate_mmeb
from e5v.inputs import Interleaved

LAYOUT = "  mmeb/<Dataset>/test-*.parquet  (qry_text, qry_img_path, tgt_text, tgt_img_path)\n  mmeb/eval_images/<img path>"
IMAGE_MARKERS = ("<|image_1|>", "<image>")
HUB_ID = "TIGER-Lab/MMEB-eval"
COLUMNS = ("qry_text", "qry_img_path", "tgt_text", "tgt_img_path")

logger = logging.getLogger(__name__)


def make_item(text: str | None, image_path: str | None, image_root: Path, where: str) -> Any:
    """An encode item for an MMEB text and/or image path."""
    text = text or ""
    for marker in IMAGE_MARKERS:
        text = text.replace(marker, "")
    text = text.strip()
    image = None
    if image_path:
        image = image_root / image_path
        if not image.is_file():
            raise DataError(f"{where}: image not found: {image}\n{LAYOUT}")
    if image is not None and text:
        return Interleaved(image=image, text=text)
    if image is not None:
        return image
    if text:
        return text
    raise DataError(f"{where}: neither text nor image")


def _read_rows(folder: Path) -> list[dict]:
    import pyarrow.parquet as pq

    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise DataError(f"MMEB: no parquet file in {folder}\n{LAYOUT}")
    rows: list[dict] = []
    for file in files:
        rows.extend(pq.read_table(file).to_pylist())
    return rows


def load_mmeb_dataset(root: Path, name: str) -> MMEBDataset:
    base = Path(root) / "mmeb"
    folder = require_dir(base / name, f"MMEB dataset {name}", LAYOUT)
    return build_dataset(name, _read_rows(folder), base / "eval_images", str(folder))


def build_dataset(name: str, rows: list[dict], image_root: Path, source: str) -> MMEBDataset:
    """One MMEB dataset from its rows (``qry_text, qry_img_path, tgt_text, tgt_img_path``)."""
    needed = ("qry_text", "qry_img_path", "tgt_text", "tgt_img_path")
    queries: list[Any] = []
    candidates: list[Any] = []
    index: dict[tuple[str, str], int] = {}
    ids: list[list[int]] = []
    for n, row in enumerate(rows):
        where = f"{source} row {n}"
        missing = [c for c in needed if c not in row]
        if missing:
            raise DataError(f"{where}: missing columns {missing}\n{LAYOUT}")
        queries.append(make_item(row["qry_text"], row["qry_img_path"], image_root, where))
        texts, paths = list(row["tgt_text"] or []), list(row["tgt_img_path"] or [])
        if len(paths) == 0:
            paths = [""] * len(texts)
        if len(texts) == 0:
            texts = [""] * len(paths)
        if len(texts) != len(paths) or not texts:
            raise DataError(f"{where}: tgt_text and tgt_img_path must be non-empty lists of the same length")
        row_ids = []
        for text, path in zip(texts, paths, strict=True):
            key = (text or "", path or "")
            if key not in index:
                index[key] = len(candidates)
                candidates.append(make_item(text, path, image_root, where))
            row_ids.append(index[key])
        ids.append(row_ids)
    if not ids:
        raise DataError(f"MMEB {name}: no rows in {source}")
    width = len(ids[0])
    if any(len(r) != width for r in ids):
        raise DataError(f"MMEB {name}: every query must have the same number of candidates")
    return MMEBDataset(name, DATASET_META_TASK.get(name, "other"), queries, candidates, np.asarray(ids))


def load_mmeb(root: Path, options: EvalOptions) -> MMEBData:
    names = _dataset_names(options)
    base = Path(root) / "mmeb"
    absent = [n for n in names if not (base / n).is_dir()]
    if absent:
        raise DataError(
            f"MMEB: {len(absent)} of {len(names)} datasets not found under {base}: {', '.join(absent)}\n{LAYOUT}\n"
            "(evaluate a subset with --mmeb-datasets; the overall scores then cover that subset only)"
        )
    return MMEBData([load_mmeb_dataset(root, n) for n in names])


def _dataset_names(options: EvalOptions) -> list[str]:
    return list(options.mmeb_datasets) if options.mmeb_datasets else list(DATASET_META_TASK)


def _image_paths(rows: list[dict]) -> list[str]:
    paths = [r.get("qry_img_path") or "" for r in rows]
    paths += [p for r in rows for p in (r.get("tgt_img_path") or [])]
    return [p for p in paths if p]


def _hub_image_root(repo_id: str, sample: list[str]) -> Path:
    env = os.environ.get("E5V_MMEB_IMAGES")
    base = Path(env).expanduser() if env else fetch_archive(repo_id, "images.zip")
    if not base.is_dir():
        raise DataError(f"MMEB images: {base} is not a directory ($E5V_MMEB_IMAGES)")
    root = find_root(base, sample[:3])
    if root is None:
        raise DataError(
            f"MMEB images: {sample[0]!r} not found under {base} or its sub-folders "
            f"(images.zip of {repo_id}, or $E5V_MMEB_IMAGES)"
        )
    return root


def load_mmeb_hub(repo_id: str, options: EvalOptions) -> MMEBData:
    """Each dataset from the hub (config = dataset name, split ``test``); images from ``images.zip``."""
    tables = {}
    for name in _dataset_names(options):
        ds = load_hub(repo_id, "test", name=name)
        require_columns(ds, COLUMNS, f"{repo_id} ({name})")
        tables[name] = ds.select_columns(list(COLUMNS)).to_list()
    sample = next((paths for rows in tables.values() if (paths := _image_paths(rows))), [])
    image_root = _hub_image_root(repo_id, sample) if sample else Path(".")
    logger.info("MMEB images under %s", image_root)
    return MMEBData([build_dataset(n, rows, image_root, f"{repo_id} ({n})") for n, rows in tables.items()])


register(
    Benchmark(
        name="mmeb",
        task="mmeb",
        load=load_mmeb,
        load_hf=load_mmeb_hub,
        hf_id=HUB_ID,
        evaluate=evaluate_mmeb,
        layout=LAYOUT,
        reference="UniME Table 1 (VLM2Vec's MMEB)",
        description="MMEB: 36 datasets, Precision@1 over 1000 candidates per query",
    )
)
