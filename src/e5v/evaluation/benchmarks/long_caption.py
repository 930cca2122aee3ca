"""Long-caption retrieval sets used by UniME (from Long-CLIP): ShareGPT4V-1k and Urban1K.

Local layout (under the data root)::

    sharegpt4v/share-captioner_coco_lcs_sam_1246k_1107.json  ShareGPT4V conversations:
        [{"image": "<path>", "conversations": [{"from": "human", ...}, {"from": "gpt",
        "value": "<caption>"}]}, ...]; the first 1000 records are the test set
    sharegpt4v/<image path>                                  the images (coco/, sam/, llava/...)
    urban1k/image/<n>.jpg                                    the 1000 images
    urban1k/caption/<n>.txt                                  their captions (first line)

ShareGPT4V captions have their newlines replaced by spaces, as UniME's code does.

Hub (``--hub``): Urban1K only. ``BeichenZhang/Urban1k`` (the Long-CLIP authors' copy, which
Long-CLIP's README links) is not a ``datasets`` table but one file, ``Urban1k.zip`` (80.6 MB);
the hub loader downloads it with ``huggingface_hub``, unpacks it once under ``$E5V_HUB_DATA``
(default ``~/.cache/e5v/hub-data``) and reads the folder inside it that holds ``image/`` and
``caption/`` exactly as the local loader does (``--hub-id "urban1k=<repo>+<file>.zip"`` for
another copy). Source: the repository's file listing on the hub; the layout inside the zip was
not verified, hence the search for the ``image/`` + ``caption/`` folder. ShareGPT4V-1k has no
hub copy of its test set: it is the first 1,000 records of a 1.2M-record JSON whose images come
from COCO, SAM, LLaVA and others, so it stays local-only.
"""

from __future__ import annotations

from pathlib import Path

from e5v.evaluation.benchmarks._hub import fetch_archive, find_root, split_repo
from e5v.evaluation.data import DataError, ImageTextData, field_of, read_json, require_dir
from e5v.evaluation.registry import Benchmark, EvalOptions, register
from e5v.evaluation.tasks.retrieval import evaluate_image_text

SHAREGPT4V_FILE = "share-captioner_coco_lcs_sam_1246k_1107.json"
SHAREGPT4V_LAYOUT = f"  sharegpt4v/{SHAREGPT4V_FILE}\n  sharegpt4v/<image path from the JSON>"
URBAN1K_LAYOUT = "  urban1k/image/<n>.jpg\n  urban1k/caption/<n>.txt"
URBAN1K_HUB_ID = "BeichenZhang/Urban1k"
URBAN1K_ZIP = "Urban1k.zip"


def load_sharegpt4v(root: Path, options: EvalOptions, limit: int = 1000) -> ImageTextData:
    base = Path(root) / "sharegpt4v"
    path = base / SHAREGPT4V_FILE
    records = read_json(path, "ShareGPT4V", SHAREGPT4V_LAYOUT)
    if not isinstance(records, list):
        raise DataError(f"{path}: expected a JSON list of records")
    images, captions = [], []
    for n, record in enumerate(records[:limit]):
        where = f"{path}[{n}]"
        turns = field_of(record, "conversations", where)
        if not isinstance(turns, list) or len(turns) < 2:
            raise DataError(f"{where}: expected at least two conversation turns")
        image = base / field_of(record, "image", where)
        if not image.is_file():
            raise DataError(f"{where}: image not found: {image}\n{SHAREGPT4V_LAYOUT}")
        images.append(image)
        captions.append(str(field_of(turns[1], "value", where)).replace("\n", " "))
    if not images:
        raise DataError(f"{path}: no records")
    return ImageTextData(images, captions, list(range(len(images))))


def load_urban1k(root: Path, options: EvalOptions) -> ImageTextData:
    return read_urban1k(Path(root) / "urban1k")


def load_urban1k_hub(repo_id: str, options: EvalOptions) -> ImageTextData:
    """Urban1K from the hub: ``Urban1k.zip`` unpacked once, then read like the local folder."""
    repo, filename = split_repo(repo_id, URBAN1K_ZIP)
    folder = fetch_archive(repo, filename)
    base = find_root(folder, ("image", "caption"))
    if base is None:
        raise DataError(f"Urban1K: no folder with image/ and caption/ in {filename} of {repo} ({folder})")
    return read_urban1k(base)


def read_urban1k(base: Path) -> ImageTextData:
    """``base/image/<n>.jpg`` and ``base/caption/<n>.txt`` (first line), ordered by ``n``."""
    image_dir = require_dir(base / "image", "Urban1K images", URBAN1K_LAYOUT)
    caption_dir = require_dir(base / "caption", "Urban1K captions", URBAN1K_LAYOUT)
    files = sorted(caption_dir.glob("*.txt"), key=lambda p: (len(p.stem), p.stem))
    if not files:
        raise DataError(f"Urban1K: no caption .txt files in {caption_dir}\n{URBAN1K_LAYOUT}")
    images, captions = [], []
    for file in files:
        image = image_dir / f"{file.stem}.jpg"
        if not image.is_file():
            raise DataError(f"Urban1K: caption {file.name} has no image {image}\n{URBAN1K_LAYOUT}")
        lines = file.read_text(encoding="utf-8").splitlines()
        if not lines or not lines[0].strip():
            raise DataError(f"Urban1K: empty caption file {file}")
        images.append(image)
        captions.append(lines[0].strip())
    return ImageTextData(images, captions, list(range(len(images))))


register(
    Benchmark(
        name="sharegpt4v-1k",
        task="long_caption",
        load=load_sharegpt4v,
        evaluate=evaluate_image_text,
        layout=SHAREGPT4V_LAYOUT,
        reference="UniME Table 2 (long captions)",
        description="ShareGPT4V-1k long-caption retrieval: Recall@1/5/10 both directions",
    )
)
register(
    Benchmark(
        name="urban1k",
        task="long_caption",
        load=load_urban1k,
        load_hf=load_urban1k_hub,
        hf_id=URBAN1K_HUB_ID,
        evaluate=evaluate_image_text,
        layout=URBAN1K_LAYOUT,
        reference="UniME Table 2 (long captions)",
        description="Urban1K long-caption retrieval: Recall@1/5/10 both directions",
    )
)
