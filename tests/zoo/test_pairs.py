"""Image-caption pairs from Tux Paint / emoji layouts, and the fixed held-out split."""

from __future__ import annotations

import hashlib
import json

from PIL import Image

from e5v.zoo.pairs import emoji_items, normalise_caption, split_of, tuxpaint_items


def _png(path, color=(255, 0, 0, 255)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGBA", (8, 8), color).save(path)


def test_split_is_a_stable_20_percent_hash_rule():
    groups = [f"caption number {i}" for i in range(2000)]
    held = [g for g in groups if split_of(g) == "heldout"]
    # Independent oracle: the documented rule, written out.
    oracle = [g for g in groups if int(hashlib.sha1(g.encode()).hexdigest(), 16) % 100 < 20]
    assert held == oracle
    assert 0.17 < len(held) / len(groups) < 0.23


def test_normalise_caption():
    assert normalise_caption("  A  Flower. ") == "a flower"
    assert normalise_caption("a flower") == "a flower"


def test_tuxpaint_layout(tmp_path):
    stamps = tmp_path / "usr/share/tuxpaint/stamps"
    _png(stamps / "animals/mammals/cat.png")
    (stamps / "animals/mammals/cat.txt").write_text("A cat.\nfr.utf8=Un chat.\n")
    _png(stamps / "animals/mammals/cat_mirror.png")  # no caption: skipped
    _png(stamps / "food/apple.png")
    (stamps / "food/apple.svg").write_text("<svg/>")  # PNG preferred
    (stamps / "food/apple.txt").write_text("An apple.\n")
    items = tuxpaint_items(tmp_path)
    assert [(i.id, i.caption, i.category, i.path.suffix) for i in items] == [
        ("tuxpaint:animals/mammals/cat", "A cat.", "animals", ".png"),
        ("tuxpaint:food/apple", "An apple.", "food", ".png"),
    ]
    assert items[0].group == "a cat" and items[0].split == split_of("a cat")


def test_emoji_layout_and_skin_tone_variants(tmp_path):
    package = tmp_path / "package"
    entries = [
        {
            "name": "WAVING HAND SIGN",
            "unified": "1F44B",
            "image": "1f44b.png",
            "category": "People & Body",
            "skin_variations": {
                "1F3FF": {"unified": "1F44B-1F3FF", "image": "1f44b-1f3ff.png"},
                "1F3FB-1F3FF": {"unified": "X", "image": "x.png"},
            },
        },
        {
            "name": "EMOJI MODIFIER FITZPATRICK TYPE-6",
            "unified": "1F3FF",
            "image": "1f3ff.png",
            "category": "Component",
        },
        {
            "name": None,
            "short_name": "red_apple",
            "unified": "1F34E",
            "image": "1f34e.png",
            "category": "Food & Drink",
        },
    ]
    package.mkdir()
    (package / "emoji.json").write_text(json.dumps(entries))
    for name in ("1f44b.png", "1f44b-1f3ff.png", "x.png", "1f3ff.png", "1f34e.png"):
        _png(package / "img/google/64" / name)
    items = {i.id: i for i in emoji_items(tmp_path)}
    assert sorted(items) == ["emoji:1F34E", "emoji:1F44B", "emoji:1F44B-1F3FF"]
    assert items["emoji:1F34E"].caption == "Red apple."
    assert items["emoji:1F44B"].caption == "Waving hand sign."
    variant = items["emoji:1F44B-1F3FF"]
    assert variant.caption == "Waving hand sign with dark skin tone."
    assert variant.variant == "dark" and variant.base_id == "emoji:1F44B"
    assert variant.split == items["emoji:1F44B"].split  # a variant follows its base emoji
