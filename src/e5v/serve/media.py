"""Turning request images (``image_url``) into decoded images, safely.

* ``data:image/...;base64,...`` URLs are always accepted (size-checked before decoding);
* file paths (plain or ``file://``) only when the server has an allowed directory, and only inside
  it after resolving ``..`` and symbolic links (no path traversal);
* ``http(s)://`` URLs only when remote fetching was enabled (size- and time-limited, no redirects).
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from PIL import Image

from e5v.inputs import DEFAULT_MAX_IMAGE_PIXELS, load_image

logger = logging.getLogger(__name__)


class MediaError(ValueError):
    """An image reference that is refused or unreadable; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid_image") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class MediaPolicy:
    """What image references the server accepts."""

    allowed_dir: Path | None = None
    allow_remote: bool = False
    max_image_bytes: int = 10 * 1024 * 1024
    max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS
    remote_timeout_s: float = 10.0


def decode_data_url(url: str, max_bytes: int) -> bytes:
    """The bytes of a base64 ``data:image/...`` URL (refusing anything above ``max_bytes``)."""
    header, sep, payload = url.partition(",")
    if not sep:
        raise MediaError("malformed data URL: no ',' separator")
    media_type = header[len("data:") :].split(";")[0].strip().lower()
    if media_type and not media_type.startswith("image/"):
        raise MediaError(f"data URL media type must be image/*, got {media_type!r}")
    if ";base64" not in header.lower():
        raise MediaError("data URLs must be base64-encoded (data:image/png;base64,...)")
    if len(payload) * 3 // 4 > max_bytes + 3:
        raise MediaError(
            f"image larger than the limit of {max_bytes} bytes", status=413, code="image_too_large"
        )
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaError(f"invalid base64 in data URL ({exc})") from exc
    if len(data) > max_bytes:
        raise MediaError(
            f"image larger than the limit of {max_bytes} bytes", status=413, code="image_too_large"
        )
    return data


def safe_path(reference: str, allowed_dir: Path | None) -> Path:
    """Resolve a file reference inside ``allowed_dir``; refuse anything else (403)."""
    if allowed_dir is None:
        raise MediaError(
            "file paths are disabled: send a data URL, or start the server with --allowed-dir",
            status=403,
            code="path_not_allowed",
        )
    if reference.startswith("file://"):
        parsed = urlparse(reference)
        if parsed.netloc not in ("", "localhost"):
            raise MediaError("file URLs must not name a host", status=403, code="path_not_allowed")
        reference = unquote(parsed.path)
    if "\x00" in reference:
        raise MediaError("invalid path", status=400)
    root = allowed_dir.resolve()
    candidate = Path(reference)
    resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if not resolved.is_relative_to(root):
        raise MediaError("path outside the allowed directory", status=403, code="path_not_allowed")
    if not resolved.is_file():
        raise MediaError(f"image file not found: {reference}", status=400, code="image_not_found")
    return resolved


def fetch_remote(url: str, policy: MediaPolicy) -> bytes:
    """Download an http(s) image with size and time limits (no redirects followed)."""
    import httpx

    if not policy.allow_remote:
        raise MediaError(
            "remote image URLs are disabled on this server (start it with --allow-remote-urls)",
            status=403,
            code="remote_disabled",
        )
    try:
        with httpx.stream("GET", url, timeout=policy.remote_timeout_s, follow_redirects=False) as response:
            if response.status_code != 200:
                raise MediaError(f"fetching the image failed with HTTP {response.status_code}")
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > policy.max_image_bytes:
                    raise MediaError(
                        f"image larger than the limit of {policy.max_image_bytes} bytes",
                        status=413,
                        code="image_too_large",
                    )
    except httpx.HTTPError as exc:
        raise MediaError(f"fetching the image failed: {exc}") from exc
    return bytes(data)


def load_image_url(url: str, policy: MediaPolicy) -> Image.Image:
    """Decode the image an ``image_url`` refers to, under ``policy`` (raises :class:`MediaError`)."""
    url = url.strip()
    scheme = url.split(":", 1)[0].lower() if ":" in url[:12] else ""
    if scheme == "data":
        data: bytes | Path = decode_data_url(url, policy.max_image_bytes)
    elif scheme in ("http", "https"):
        data = fetch_remote(url, policy)
    elif scheme in ("", "file") or (len(scheme) == 1 and url[1:3] in (":\\", ":/")):
        data = safe_path(url, policy.allowed_dir)
        if data.stat().st_size > policy.max_image_bytes:
            raise MediaError(
                f"image larger than the limit of {policy.max_image_bytes} bytes",
                status=413,
                code="image_too_large",
            )
    else:
        raise MediaError(f"unsupported image URL scheme {scheme!r}: use data:, a file path or http(s)")
    try:
        return load_image(data, policy.max_image_pixels)
    except ValueError as exc:
        status = 413 if "exceeds the limit" in str(exc) or "decompression bomb" in str(exc) else 400
        raise MediaError(str(exc), status=status) from exc
