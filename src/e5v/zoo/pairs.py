"""Real image-caption pairs from Tux Paint stamps and Google Noto emoji, with a fixed split.

Sources (fetched by :mod:`e5v.zoo.parts`):

* Tux Paint stamps (Debian ``tuxpaint-stamps-default``, GPL-2): each stamp
  ``stamps/<category>/.../<stem>.png`` (or ``.svg``) has ``<stem>.txt`` whose first line is an
  English caption ("A chimpanzee."). Stamps without a ``.txt`` are skipped; when a stamp has both
  a PNG and an SVG the PNG is used; SVG-only stamps are rasterised with ``cairosvg`` (when it is
  not installed they are skipped, with a log message).
* Google Noto emoji (npm ``emoji-datasource-google``, MIT): 64x64 PNGs; the caption is the
  emoji's name in sentence case ("Grinning face."). The ``Component`` category (bare skin-tone
  swatches, hair parts) is skipped. Skin-tone variants ("Waving hand sign with dark skin tone.")
  are separate items (``variant`` set) whose split is their base emoji's.

The split: an item is held out when ``sha1(group) % 100 < 20``, where ``group`` is the
normalised caption (lower case, no final period) of the item, or of its base emoji for a
skin-tone variant. Grouping by caption means a held-out caption is never seen in training, even
when two stamps share one ("A flower."). The rule depends on nothing but the caption text, so
the split is the same on every machine and for every package version.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from e5v.zoo import parts

logger = logging.getLogger(__name__)

HELDOUT_PERCENT = 20
SPLITS = ("train", "heldout", "all")

#: Fitzpatrick modifier -> the words used in captions (Unicode CLDR names).
SKIN_TONES = {
    "1F3FB": "light",
    "1F3FC": "medium-light",
    "1F3FD": "medium",
    "1F3FE": "medium-dark",
    "1F3FF": "dark",
}


@dataclass(frozen=True)
class CaptionedImage:
    """One real image with its English caption.

    Attributes:
        id: stable identifier, ``tuxpaint:<relative stem>`` or ``emoji:<unified code>``.
        source: ``"tuxpaint"`` or ``"emoji"``.
        path: image file (PNG).
        caption: English caption, a short sentence.
        category: Tux Paint category folder or emoji category.
        group: what the split hashes (normalised caption of the item or of its base emoji).
        variant: skin tone of an emoji variant (``"dark"``...), else ``None``.
        base_id: id of the base emoji of a variant, else ``None``.
    """

    id: str
    source: str
    path: Path
    caption: str
    category: str
    group: str
    variant: str | None = None
    base_id: str | None = None

    @property
    def split(self) -> str:
        return split_of(self.group)


def normalise_caption(caption: str) -> str:
    return " ".join(caption.lower().strip().rstrip(".").split())


def split_of(group: str) -> str:
    """``"heldout"`` for 20% of groups (by a stable hash), else ``"train"``."""
    bucket = int(hashlib.sha1(group.encode("utf-8")).hexdigest(), 16) % 100
    return "heldout" if bucket < HELDOUT_PERCENT else "train"


def tuxpaint_items(root: Path, svg_cache: Path | None = None) -> list[CaptionedImage]:
    """Items of an unpacked ``tuxpaint-stamps-default`` (``root`` holds ``usr/share/tuxpaint``)."""
    stamps = Path(root) / "usr/share/tuxpaint/stamps"
    stems: dict[Path, list[Path]] = {}
    for path in sorted(stamps.rglob("*")):
        if path.suffix in (".png", ".svg"):
            stems.setdefault(path.with_suffix(""), []).append(path)
    items = []
    skipped_svg = 0
    for stem, files in sorted(stems.items()):
        txt = stem.with_suffix(".txt")
        if not txt.is_file():
            continue
        lines = txt.read_text(encoding="utf-8", errors="replace").splitlines()
        caption = lines[0].strip() if lines else ""
        if not caption:
            continue
        rel = stem.relative_to(stamps).as_posix()
        pngs = [f for f in files if f.suffix == ".png"]
        if pngs:
            image = pngs[0]
        else:
            image = _rasterise(files[0], (svg_cache or stamps.parent / "svg-png") / f"{rel}.png")
            if image is None:
                skipped_svg += 1
                continue
        items.append(
            CaptionedImage(
                id=f"tuxpaint:{rel}",
                source="tuxpaint",
                path=image,
                caption=caption,
                category=rel.split("/")[0],
                group=normalise_caption(caption),
            )
        )
    if skipped_svg:
        logger.info(
            "skipped %d SVG-only Tux Paint stamps (cairosvg missing or the SVG unreadable)", skipped_svg
        )
    return items


def _rasterise(svg: Path, png: Path, size: int = 224) -> Path | None:
    """Render ``svg`` to ``png`` (width ``size``), once; ``None`` when it cannot be rendered."""
    if png.is_file():
        return png
    try:
        import cairosvg
    except (ImportError, OSError):  # OSError: the cairo C library is missing
        return None
    png.parent.mkdir(parents=True, exist_ok=True)
    tmp = png.with_suffix(".tmp.png")
    try:
        cairosvg.svg2png(url=str(svg), write_to=str(tmp), output_width=size)
    except Exception as exc:  # malformed SVGs raise many kinds of errors
        logger.warning("cannot rasterise %s: %s", svg, exc)
        tmp.unlink(missing_ok=True)
        return None
    tmp.rename(png)
    return png


def _emoji_caption(entry: dict) -> str:
    name = entry.get("name") or entry.get("short_name", "").replace("_", " ")
    name = " ".join(name.lower().split())
    return name[:1].upper() + name[1:] + "."


def emoji_items(root: Path) -> list[CaptionedImage]:
    """Items of an unpacked ``emoji-datasource-google`` (``root`` holds ``package/emoji.json``)."""
    package = Path(root) / "package"
    images = package / "img/google/64"
    entries = json.loads((package / "emoji.json").read_text(encoding="utf-8"))
    items = []
    for entry in sorted(entries, key=lambda e: e["unified"]):
        if entry.get("category") == "Component" or not entry.get("has_img_google", True):
            continue
        path = images / entry["image"]
        if not path.is_file():
            continue
        caption = _emoji_caption(entry)
        group = normalise_caption(caption)
        base_id = f"emoji:{entry['unified']}"
        items.append(CaptionedImage(base_id, "emoji", path, caption, entry["category"], group))
        for tone_code, variant in sorted((entry.get("skin_variations") or {}).items()):
            tone = SKIN_TONES.get(tone_code)  # two-tone keys ("1F3FB-1F3FC") are skipped
            vpath = images / variant["image"]
            if tone is None or not vpath.is_file():
                continue
            items.append(
                CaptionedImage(
                    id=f"emoji:{variant['unified']}",
                    source="emoji",
                    path=vpath,
                    caption=f"{caption[:-1]} with {tone} skin tone.",
                    category=entry["category"],
                    group=group,
                    variant=tone,
                    base_id=base_id,
                )
            )
    return items


def load_pairs(
    cache_dir: Path | None = None,
    split: str = "all",
    sources: tuple[str, ...] = ("tuxpaint", "emoji"),
    variants: bool = True,
) -> list[CaptionedImage]:
    """Fetch the sources (once) and return their items of one split.

    Args:
        cache_dir: e5v cache (default :func:`e5v.zoo.cache_root`).
        split: ``"train"``, ``"heldout"`` or ``"all"``.
        sources: which of ``"tuxpaint"`` and ``"emoji"``.
        variants: include the emoji skin-tone variants.

    Raises:
        ModelBuildError: when a source cannot be fetched (naming the package and how to get it).
    """
    from e5v.zoo import cache_root

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    cache_dir = Path(cache_dir) if cache_dir is not None else cache_root()
    items: list[CaptionedImage] = []
    if "tuxpaint" in sources:
        root = parts.fetch(parts.TUXPAINT_STAMPS, cache_dir)
        items += tuxpaint_items(root, svg_cache=cache_dir / "data" / "tuxpaint-svg-png")
    if "emoji" in sources:
        items += emoji_items(parts.fetch(parts.EMOJI_GOOGLE, cache_dir))
    if not variants:
        items = [item for item in items if item.variant is None]
    if split != "all":
        items = [item for item in items if item.split == split]
    return items
