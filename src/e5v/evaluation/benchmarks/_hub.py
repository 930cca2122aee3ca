"""Reading datasets from the Hugging Face hub through ``datasets`` (optional dependency).

Besides ``load_hub`` (a ``datasets`` split), :func:`fetch_archive` downloads a zip file stored in
a hub *dataset* repository (MMEB's ``images.zip``, Urban1K's ``Urban1k.zip``) and unpacks it
once under :func:`hub_data_dir`; a local folder given instead of a repo id is read in place.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PIL import Image

from e5v.evaluation.data import DataError

logger = logging.getLogger(__name__)

#: Marker written into an extraction folder once the archive is fully unpacked.
COMPLETE = ".e5v-complete"


def load_hub(repo_id: str, split: str, name: str | None = None) -> Any:
    """``datasets.load_dataset(repo_id, name, split=split)`` with errors that say what failed."""
    try:
        import datasets
    except ImportError as exc:
        raise DataError("reading from the hub needs the `datasets` package: pip install 'e5v[eval]'") from exc
    try:
        return datasets.load_dataset(repo_id, name, split=split)
    except Exception as exc:  # network, missing repo, bad config: all reported the same way
        raise DataError(
            f"could not load {repo_id!r} (config {name!r}, split {split!r}) with datasets: {exc}"
        ) from exc


def require_columns(dataset: Any, columns: tuple[str, ...], repo_id: str) -> None:
    missing = [c for c in columns if c not in dataset.column_names]
    if missing:
        raise DataError(f"{repo_id}: missing columns {missing} (has {dataset.column_names})")


def as_image(value: Any, where: str) -> Image.Image:
    """A hub image cell (PIL image, or ``{"bytes": ...}``) as a PIL image."""
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, dict) and value.get("bytes"):
        return Image.open(io.BytesIO(value["bytes"]))
    raise DataError(f"{where}: not an image cell ({type(value).__name__})")


def split_repo(repo_id: str, default_images: str) -> tuple[str, str]:
    """``"queries+images"`` -> both ids; a plain id -> (id, ``default_images``)."""
    queries, sep, images = repo_id.partition("+")
    return queries.strip(), (images.strip() if sep else default_images)


def hub_data_dir() -> Path:
    """Where hub archives are unpacked: ``$E5V_HUB_DATA`` or ``~/.cache/e5v/hub-data``."""
    env = os.environ.get("E5V_HUB_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "e5v" / "hub-data"


def _download(repo_id: str, filename: str) -> Path:
    local = Path(repo_id).expanduser()
    if local.is_dir():  # a local snapshot of the repository
        path = local / filename
        if not path.is_file():
            raise DataError(f"{repo_id}: no {filename} in this folder")
        return path
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:
        raise DataError("downloading from the hub needs `huggingface_hub`: pip install 'e5v[eval]'") from exc
    logger.info("downloading %s from the hub dataset %s (once; it can be large)", filename, repo_id)
    try:
        return Path(hf_hub_download(repo_id, filename, repo_type="dataset"))
    except Exception as exc:
        raise DataError(f"could not download {filename!r} from the hub dataset {repo_id!r}: {exc}") from exc


def fetch_archive(repo_id: str, filename: str, target: Path | None = None) -> Path:
    """Unpack ``filename`` (a zip) of the hub dataset ``repo_id`` once; return the folder.

    The folder is ``target`` or ``hub_data_dir()/<repo_id>/<zip stem>``; it is unpacked next to
    it first and renamed when complete, so an interrupted run never leaves a half folder.
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", repo_id.strip("/"))
    folder = target or hub_data_dir() / safe / Path(filename).stem
    if (folder / COMPLETE).is_file():
        return folder
    archive = _download(repo_id, filename)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        with zipfile.ZipFile(archive) as zf:
            root = tmp.resolve()
            for member in zf.namelist():
                if not (root / member).resolve().is_relative_to(root):
                    raise DataError(f"{archive}: unsafe path in the archive: {member!r}")
            logger.info("unpacking %s into %s", archive, folder)
            zf.extractall(tmp)
        (tmp / COMPLETE).write_text(f"{repo_id}/{filename}\n")
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{archive}: not a zip file ({exc})") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def find_root(base: Path, relative: Iterable[str], depth: int = 2) -> Path | None:
    """``base`` or the folder below it (at most ``depth`` levels) holding every ``relative`` path."""
    wanted = [r for r in relative if r]
    level = [base]
    for _ in range(depth + 1):
        for folder in level:
            if all((folder / r).exists() for r in wanted):
                return folder
        level = sorted(p for folder in level for p in folder.iterdir() if p.is_dir())
    return None
