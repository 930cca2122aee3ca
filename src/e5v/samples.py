"""A small real image collection with captions, for demos and the README's first search.

The images are held-out items of :mod:`e5v.zoo.pairs` (Tux Paint stamps and Noto emoji that
e5v-tiny's projector never saw in training), fetched from the registries once and cached.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from e5v.zoo.pairs import CaptionedImage, load_pairs

CAPTIONS_FILE = "captions.jsonl"


def _rank(item: CaptionedImage, seed: int) -> str:
    return hashlib.sha1(f"{seed}:{item.id}".encode()).hexdigest()


def sample_images(n: int = 48, cache_dir: Path | None = None, seed: int = 0) -> list[CaptionedImage]:
    """``n`` held-out images, half Tux Paint stamps and half emoji (no skin-tone variants).

    The choice is deterministic (a hash of ``seed`` and the item id) and keeps one image per
    caption, so every caption in the collection names exactly one image.

    Raises:
        ModelBuildError: when the data packages cannot be fetched.
    """
    items = load_pairs(cache_dir, split="heldout", variants=False)
    chosen: list[CaptionedImage] = []
    for source, quota in (("tuxpaint", n // 2), ("emoji", n - n // 2)):
        seen: set[str] = set()
        pool = sorted((it for it in items if it.source == source), key=lambda it: _rank(it, seed))
        for item in pool:
            if len(seen) == quota:
                break
            if item.group not in seen:
                seen.add(item.group)
                chosen.append(item)
    return chosen


def sample_dir(n: int = 48, cache_dir: Path | None = None, seed: int = 0) -> Path:
    """Materialise :func:`sample_images` as a folder of PNGs plus ``captions.jsonl``; return it.

    The folder (``<cache>/samples/heldout-<n>-<seed>``) is written once, atomically. Each line of
    ``captions.jsonl`` is ``{"file": ..., "caption": ..., "id": ..., "source": ...}``.
    """
    from e5v.zoo import cache_root

    cache_dir = Path(cache_dir) if cache_dir is not None else cache_root()
    target = cache_dir / "samples" / f"heldout-{n}-{seed}"
    if (target / CAPTIONS_FILE).is_file():
        return target
    items = sample_images(n, cache_dir, seed)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    try:
        lines = []
        for item in items:
            name = item.id.replace(":", "_").replace("/", "_") + item.path.suffix
            shutil.copyfile(item.path, tmp / name)
            lines.append(
                json.dumps({"file": name, "caption": item.caption, "id": item.id, "source": item.source})
            )
        (tmp / CAPTIONS_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_captions(folder: Path) -> dict[str, str]:
    """``file name -> caption`` of a folder written by :func:`sample_dir`."""
    lines = (Path(folder) / CAPTIONS_FILE).read_text(encoding="utf-8").splitlines()
    return {row["file"]: row["caption"] for row in map(json.loads, filter(None, lines))}
