"""Bad inputs get a clear e5v error naming the item's index, before any model work."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from e5v import Embedder, Interleaved, InvalidInputError
from e5v.errors import PromptError
from e5v.testing import random_image


@pytest.fixture
def embedder(tiny):
    model, processor = tiny("llava")
    embedder = Embedder(model, processor)
    calls = []
    handle = model.register_forward_pre_hook(lambda *args: calls.append(1))
    embedder.forward_calls = calls
    yield embedder
    handle.remove()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def expect_error(embedder, items, index, fragment):
    with pytest.raises(InvalidInputError) as info:
        embedder.encode(items, show_progress=False)
    assert info.value.index == index
    assert fragment in str(info.value)
    assert f"input {index}" in str(info.value)
    assert embedder.forward_calls == [], "model work was done before the bad input was found"


def test_truncated_image(embedder, tmp_path):
    data = png_bytes(random_image(64, 64))
    path = tmp_path / "truncated.png"
    path.write_bytes(data[: len(data) // 2])
    expect_error(embedder, ["ok", random_image(32, 32), path], 2, "truncated")


def test_unreadable_image(embedder, tmp_path):
    path = tmp_path / "not-an-image.jpg"
    path.write_text("hello")
    expect_error(embedder, [path], 0, "not a readable image")


def test_zero_byte_file(embedder, tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    expect_error(embedder, ["a", path], 1, "0 bytes")
    expect_error(embedder, [b""], 0, "0 bytes")


def test_missing_file(embedder, tmp_path):
    expect_error(embedder, [tmp_path / "nope.png"], 0, "not found")


def test_decompression_bomb(tiny, tmp_path):
    model, processor = tiny("llava")
    embedder = Embedder(model, processor, max_image_pixels=100 * 100)
    embedder.forward_calls = []
    model_hook = model.register_forward_pre_hook(lambda *a: embedder.forward_calls.append(1))
    try:
        path = tmp_path / "big.png"
        Image.new("RGB", (300, 300)).save(path)
        expect_error(embedder, ["x", path], 1, "decompression bomb")
        expect_error(embedder, [Image.new("RGB", (300, 300))], 0, "exceeds the limit")
    finally:
        model_hook.remove()


def test_empty_and_none_and_unsupported(embedder):
    expect_error(embedder, ["fine", "   "], 1, "empty text")
    expect_error(embedder, [None], 0, "None")
    expect_error(embedder, ["a", 3.5], 1, "unsupported input type float")
    expect_error(embedder, [Interleaved(image=random_image(8, 8), text="")], 0, "empty text")


def test_text_longer_than_context(tiny):
    model, processor = tiny("llama")
    embedder = Embedder(model, processor)
    long_text = "dog " * 2000
    with pytest.raises(InvalidInputError) as info:
        embedder.encode(["short", long_text], show_progress=False)
    assert info.value.index == 1 and "context" in info.value.reason and "max_length" in info.value.reason
    # with max_length the user asks for truncation: it works, and equals the truncated text's embedding
    cut = embedder.encode([long_text], max_length=8, show_progress=False)
    ids = processor(long_text, add_special_tokens=False)["input_ids"][:8]
    manual = embedder.encode([processor.decode(ids)], show_progress=False)
    assert (cut @ manual.T).item() > 0.99999


def test_reserved_image_token_in_text(embedder):
    expect_error(embedder, ["look: <image> here"], 0, "reserved image token")


def test_image_on_text_only_model(tiny):
    model, processor = tiny("llama")
    with pytest.raises(PromptError, match="text-only"):
        Embedder(model, processor).encode([random_image(8, 8)], show_progress=False)


def test_single_item_not_a_list(embedder):
    with pytest.raises(TypeError, match="list"):
        embedder.encode("a dog", show_progress=False)


def test_accepts_path_bytes_pil_and_rgba(embedder, tmp_path):
    image = random_image(40, 30)
    path = tmp_path / "x.png"
    image.save(path)
    vectors = embedder.encode([image, Path(path), png_bytes(image)], show_progress=False)
    assert (vectors[0] @ vectors[1]) > 0.99999 and (vectors[0] @ vectors[2]) > 0.99999
    rgba = image.convert("RGBA")
    assert embedder.encode([rgba], show_progress=False).shape == (1, embedder.dim)
