"""Input items: what ``Embedder.encode`` accepts, and their validation.

Accepted items:

* ``str`` -> a text (never interpreted as a path),
* ``PIL.Image.Image``, ``pathlib.Path`` or ``bytes`` -> an image,
* :class:`Interleaved` -> an image together with a text (composed inputs).

Every item is checked (and every image decoded) before any model work starts, so a bad item
fails fast with an :class:`~e5v.errors.InvalidInputError` that names its index.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from e5v.errors import InvalidInputError

ImageSource = Image.Image | Path | bytes | bytearray

#: Images with more pixels than this are refused as decompression bombs (PIL's own default limit).
DEFAULT_MAX_IMAGE_PIXELS = 89_478_485


class Kind(str, Enum):
    """The modality of an input item; also the key of its default prompt."""

    TEXT = "text"
    IMAGE = "image"
    INTERLEAVED = "interleaved"


@dataclass(frozen=True)
class Interleaved:
    """An image and a text embedded together (e.g. a composed-retrieval query)."""

    image: ImageSource
    text: str


@dataclass(frozen=True)
class Item:
    """A validated input: its kind, its text (if any) and its decoded RGB image (if any)."""

    kind: Kind
    text: str | None = None
    image: Image.Image | None = None


def load_image(source: ImageSource, max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS) -> Image.Image:
    """Decode an image fully and return it in RGB.

    Raises:
        ValueError: with a human-readable reason when the image is empty, unreadable,
            truncated or larger than ``max_pixels`` (a decompression bomb).
    """
    if isinstance(source, Image.Image):
        image = source
    else:
        if isinstance(source, (bytes, bytearray)):
            if len(source) == 0:
                raise ValueError("empty image bytes (0 bytes)")
            stream: io.BytesIO | Path = io.BytesIO(bytes(source))
            name = "image bytes"
        else:
            path = Path(source)
            if not path.is_file():
                raise ValueError(f"image file not found: {path}")
            if path.stat().st_size == 0:
                raise ValueError(f"empty image file (0 bytes): {path}")
            stream, name = path, str(path)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(stream)
                _check_pixels(image, max_pixels)
                image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ValueError(f"refused as a decompression bomb: {name} ({exc})") from exc
        except UnidentifiedImageError as exc:
            raise ValueError(f"not a readable image: {name}") from exc
        except OSError as exc:  # truncated or corrupt data
            raise ValueError(f"unreadable or truncated image: {name} ({exc})") from exc
    _check_pixels(image, max_pixels)
    if image.width == 0 or image.height == 0:
        raise ValueError("image has zero width or height")
    if image.mode != "RGB":
        image = _to_rgb(image)
    return image


def _check_pixels(image: Image.Image, max_pixels: int | None) -> None:
    if max_pixels is not None and image.width * image.height > max_pixels:
        raise ValueError(
            f"image of {image.width}x{image.height} pixels exceeds the limit of {max_pixels} pixels "
            "(decompression bomb guard; raise max_image_pixels to allow it)"
        )


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert to RGB, compositing transparency onto white (cut-out photos, emoji, icons)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("empty text")
    return text


def prepare_item(item: object, max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS) -> Item:
    """Validate one input and decode its image. Raises ``ValueError`` with the reason."""
    if item is None:
        raise ValueError("item is None")
    if isinstance(item, str):
        return Item(Kind.TEXT, text=_check_text(item))
    if isinstance(item, Interleaved):
        return Item(Kind.INTERLEAVED, text=_check_text(item.text), image=load_image(item.image, max_pixels))
    if isinstance(item, (Image.Image, Path, bytes, bytearray)):
        return Item(Kind.IMAGE, image=load_image(item, max_pixels))
    if isinstance(item, os.PathLike):
        return Item(Kind.IMAGE, image=load_image(Path(item), max_pixels))
    raise ValueError(
        f"unsupported input type {type(item).__name__}; expected str (text), PIL.Image, "
        "pathlib.Path or bytes (image), or e5v.Interleaved"
    )


def prepare_items(items: Sequence[object], max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS) -> list[Item]:
    """Validate every item; the first bad one raises :class:`InvalidInputError` with its index."""
    if isinstance(items, (str, bytes, Image.Image, Interleaved)):
        raise TypeError("encode() takes a list of items; wrap a single item in a list")
    prepared = []
    for index, item in enumerate(items):
        try:
            prepared.append(prepare_item(item, max_pixels))
        except ValueError as exc:
            raise InvalidInputError(index, str(exc)) from exc
    return prepared
