"""Render a caption as an image, as E5-V's image-image retrieval does (paper appendix A).

Layout: an 800x400 white RGB image, black text at 40 px, 20 px left padding, lines filled
greedily word by word while the line (measured with its trailing space, as the reference does)
fits in ``width - 2 * padding`` pixels, and the block vertically centred using the sum of the
lines' bounding-box heights. This is the reference algorithm, quirks included: each line advances
by its own box height (so lines of short letters sit tight) and is drawn from its ascender
origin, so the ink lies lower than the exact centre by the glyphs' top bearing (about 15 px for
lower-case text at 40 px). One fix: a word wider than the line gets a line of its own instead of
looping forever.

Font: the paper uses Arial, which no package registry ships. :func:`find_font` takes, in order,
an explicit path, ``$E5V_FONT``, Liberation Sans (Debian ``fonts-liberation`` /
``fonts-liberation2``: metric-compatible with Arial, so line breaks match the paper's), Arial if
installed, and finally DejaVu Sans, which ships inside matplotlib (always available with the
``eval`` extra; wider than Arial, so lines break earlier). The font used is recorded in results.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

__all__ = ["TextLayout", "find_font", "layout_text", "render_text_image"]

WIDTH = 800
HEIGHT = 400
FONT_SIZE = 40
PADDING = 20

_LIBERATION = (
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
)
_ARIAL = (
    "/usr/share/fonts/truetype/msttcorefonts/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:/Windows/Fonts/arial.ttf",
)


def _dejavu_from_matplotlib() -> Path | None:
    try:
        import matplotlib
    except ImportError:
        return None
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return path if path.is_file() else None


def find_font(font: str | Path | None = None) -> Path:
    """Path of the TrueType font to render with (see the module docstring for the order)."""
    if font is not None:
        path = Path(font)
        if not path.is_file():
            raise FileNotFoundError(f"font file not found: {path}")
        return path
    env = os.environ.get("E5V_FONT")
    if env:
        return find_font(env)
    for candidate in (*_LIBERATION, *_ARIAL):
        if Path(candidate).is_file():
            return Path(candidate)
    dejavu = _dejavu_from_matplotlib()
    if dejavu is not None:
        return dejavu
    raise FileNotFoundError(
        "no font to render text with: install matplotlib (ships DejaVu Sans) or fonts-liberation, "
        "or pass a .ttf path (E5V_FONT)"
    )


@lru_cache(maxsize=8)
def _load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@dataclass(frozen=True)
class TextLayout:
    """Where each line goes: its text (with the reference's trailing space) and its top y."""

    lines: tuple[str, ...]
    tops: tuple[int, ...]
    heights: tuple[int, ...]


def layout_text(
    text: str,
    font: ImageFont.FreeTypeFont,
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    padding: int = PADDING,
) -> TextLayout:
    """Greedy word wrap and vertical placement of ``text`` (the reference algorithm)."""
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    max_width = width - 2 * padding
    words = text.split()
    lines: list[str] = []
    while words:
        line = ""
        while words and draw.textlength(line + words[0], font=font) <= max_width:
            line += words.pop(0) + " "
        if not line:  # a word wider than the line: give it a line of its own
            line = words.pop(0) + " "
        lines.append(line)
    heights = []
    for line in lines:
        box = draw.textbbox((0, 0), line, font=font)
        heights.append(box[3] - box[1])
    y = (height - sum(heights)) // 2
    tops = []
    for h in heights:
        tops.append(y)
        y += h
    return TextLayout(tuple(lines), tuple(tops), tuple(heights))


def render_text_image(
    text: str,
    *,
    font: str | Path | None = None,
    font_size: int = FONT_SIZE,
    width: int = WIDTH,
    height: int = HEIGHT,
    padding: int = PADDING,
) -> Image.Image:
    """Render ``text`` as an RGB image laid out as in E5-V's appendix A (black on white)."""
    loaded = _load_font(str(find_font(font)), font_size)
    image = Image.new("RGB", (width, height), color=(255, 255, 255))
    draw = ImageDraw.Draw(image)
    layout = layout_text(text, loaded, width=width, height=height, padding=padding)
    for line, top in zip(layout.lines, layout.tops, strict=True):
        draw.text((padding, top), line, font=loaded, fill=(0, 0, 0))
    return image
