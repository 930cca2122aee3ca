"""The I2I text renderer checked on pixels: size, margins, greedy wrapping, vertical centring."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import ImageFont

from e5v.evaluation.render import _dejavu_from_matplotlib, find_font, layout_text, render_text_image

FONT = _dejavu_from_matplotlib()
pytestmark = pytest.mark.skipif(FONT is None, reason="matplotlib's DejaVu Sans not available")


def ink(image):
    """Boolean mask of non-white pixels."""
    return np.asarray(image.convert("L")) < 250


def bands(rows_with_ink):
    """Runs of consecutive True rows: [(start, stop)]."""
    out, start = [], None
    for y, v in enumerate(rows_with_ink):
        if v and start is None:
            start = y
        if not v and start is not None:
            out.append((start, y))
            start = None
    if start is not None:
        out.append((start, len(rows_with_ink)))
    return out


def greedy_oracle(text, font, max_width):
    """Independent greedy wrap: add words while the line (with trailing space) fits."""
    lines, current = [], []
    for word in text.split():
        trial = "".join(w + " " for w in current) + word
        if current and font.getlength(trial) > max_width:
            lines.append(current)
            current = [word]
        else:
            current.append(word)
    if current:
        lines.append(current)
    return [" ".join(line) for line in lines]


# x-height letters only (no ascenders, descenders or dots): each line's ink fills exactly its box rows
X_TEXT = " ".join(
    ["mosaw", "on", "over", "canvas", "rooms", "curve", "zones", "waves", "mercer", "source"] * 3
)


def test_size_background_colours():
    image = render_text_image("a cat", font=FONT)
    assert image.size == (800, 400) and image.mode == "RGB"
    arr = np.asarray(image)
    assert (arr[0, :, :] == 255).all() and (arr[:, 0, :] == 255).all()  # white margins
    assert arr.min() < 30  # black text (anti-aliased edges are grey)
    assert (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all()  # greyscale only


def test_wrapping_margins_and_line_count():
    font = ImageFont.truetype(str(FONT), 40)
    expected = greedy_oracle(X_TEXT, font, 800 - 40)
    assert len(expected) >= 3  # the case wraps
    layout = layout_text(X_TEXT, font)
    assert [line.strip() for line in layout.lines] == expected
    mask = ink(render_text_image(X_TEXT, font=FONT))
    cols = np.flatnonzero(mask.any(axis=0))
    assert 20 <= cols.min() <= 24  # 20 px left padding (+ the glyph's side bearing)
    assert cols.max() < 780  # nothing in the right padding
    # the reference advances each line by its own box height, so x-height lines touch; check each
    # line's rows: ink from the padding to the line's advance width, then white
    for line, top in zip(layout.lines, layout.tops, strict=True):
        box = font.getbbox(line)
        rows = mask[top + box[1] : top + box[3]]
        assert rows.any(axis=1).all()
        right = np.flatnonzero(rows.any(axis=0)).max()
        assert abs(right - (20 + font.getbbox(line.rstrip())[2])) <= 5  # a further word adds > 40 px
    ink_rows = bands(mask.any(axis=1))
    assert len(ink_rows) == 1  # one block
    assert ink_rows[0][1] - ink_rows[0][0] == sum(layout.heights)


def test_vertical_centring():
    font = ImageFont.truetype(str(FONT), 40)
    for text in ("mosaw", X_TEXT):
        layout = layout_text(text, font)
        mask = ink(render_text_image(text, font=FONT))
        rows = np.flatnonzero(mask.any(axis=1))
        # the block of line boxes is centred: (400 - total height) // 2 above it
        assert layout.tops[0] == (400 - sum(layout.heights)) // 2
        # the ink lies inside that block, shifted down by at most the glyphs' top bearing
        top_offset = font.getbbox("mosaw")[1]
        assert layout.tops[0] + top_offset - 1 <= rows.min()
        assert rows.max() <= layout.tops[-1] + layout.heights[-1] + top_offset + 1
        # as in the reference, the boxes are centred but each line is drawn from its ascender
        # origin, so the ink sits lower than the exact centre by the glyphs' top bearing
        centre = (rows.min() + rows.max() + 1) / 2
        assert abs(centre - (200 + top_offset)) <= 1.5


def test_word_longer_than_line_gets_its_own_line():
    long_word = "m" * 60
    font = ImageFont.truetype(str(FONT), 40)
    layout = layout_text(f"on {long_word} on", font)
    assert [line.strip() for line in layout.lines] == ["on", long_word, "on"]


def test_paper_example_wraps():
    text = "A man in a black shirt rides an elephant as a man walks near it down a street."
    font = ImageFont.truetype(str(FONT), 40)
    layout = layout_text(text, font)
    assert " ".join(line.strip() for line in layout.lines) == text
    assert all(font.getlength(line.rstrip()) <= 760 for line in layout.lines)


def test_find_font(tmp_path, monkeypatch):
    monkeypatch.delenv("E5V_FONT", raising=False)
    assert find_font().is_file()
    assert find_font(FONT) == FONT
    monkeypatch.setenv("E5V_FONT", str(FONT))
    assert find_font() == FONT
    with pytest.raises(FileNotFoundError):
        find_font(tmp_path / "nope.ttf")
