"""Image references: data URLs, allowed-directory paths (no traversal), remote URLs off, limits."""

from __future__ import annotations

import base64
import io
import os

import numpy as np
import pytest
from PIL import Image

from e5v.serve.media import MediaError, MediaPolicy, load_image_url


def _png(size=(8, 6), seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _data_url(data: bytes, mime="image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def test_data_url_decodes_to_the_same_pixels():
    data = _png()
    image = load_image_url(_data_url(data), MediaPolicy())
    assert np.array_equal(np.asarray(image), np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("data:image/png;base64,@@@notbase64", 400, "invalid base64"),
        ("data:image/png,rawdata", 400, "base64"),
        ("data:text/plain;base64,aGVsbG8=", 400, "image/"),
        ("data:image/png;base64," + base64.b64encode(b"not an image").decode(), 400, "not a readable image"),
        ("ftp://example.com/a.png", 400, "unsupported"),
        ("http://127.0.0.1:9/a.png", 403, "remote image URLs are disabled"),
        ("/etc/passwd", 403, "file paths are disabled"),
    ],
)
def test_refused_references(url, status, message):
    with pytest.raises(MediaError, match=message) as info:
        load_image_url(url, MediaPolicy())
    assert info.value.status == status


def test_size_and_pixel_limits():
    data = _png((64, 64))
    with pytest.raises(MediaError) as info:
        load_image_url(_data_url(data), MediaPolicy(max_image_bytes=len(data) - 1))
    assert info.value.status == 413
    with pytest.raises(MediaError) as info:
        load_image_url(_data_url(data), MediaPolicy(max_image_pixels=64 * 64 - 1))
    assert info.value.status == 413


def test_paths_only_inside_the_allowed_directory(tmp_path):
    allowed = tmp_path / "allowed"
    (allowed / "sub").mkdir(parents=True)
    (allowed / "sub" / "a.png").write_bytes(_png())
    (tmp_path / "secret.png").write_bytes(_png(seed=1))
    os.symlink(tmp_path / "secret.png", allowed / "link.png")
    policy = MediaPolicy(allowed_dir=allowed)
    assert load_image_url("sub/a.png", policy).size == (8, 6)
    assert load_image_url(str(allowed / "sub" / "a.png"), policy).size == (8, 6)
    assert load_image_url(f"file://{allowed / 'sub' / 'a.png'}", policy).size == (8, 6)
    for escape in (
        "../secret.png",
        "sub/../../secret.png",
        str(tmp_path / "secret.png"),
        "link.png",
        f"file://{tmp_path / 'secret.png'}",
        "file://otherhost/etc/passwd",
    ):
        with pytest.raises(MediaError, match=r"outside the allowed directory|must not name a host") as info:
            load_image_url(escape, policy)
        assert info.value.status == 403
    with pytest.raises(MediaError, match="not found"):
        load_image_url("sub/missing.png", policy)


class _ImageHandler:
    """A loopback HTTP server answering GET /img.png with a PNG and /big.png with too many bytes."""

    @staticmethod
    def serve(payloads: dict[str, bytes]):
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = payloads.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                if body is not None:
                    self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def test_remote_urls_when_enabled_with_size_limit():
    data = _png((10, 10))
    server = _ImageHandler.serve({"/img.png": data, "/big.png": data * 50})
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        policy = MediaPolicy(allow_remote=True, max_image_bytes=len(data) * 10, remote_timeout_s=5)
        assert load_image_url(f"{base}/img.png", policy).size == (10, 10)
        with pytest.raises(MediaError) as info:
            load_image_url(f"{base}/big.png", policy)
        assert info.value.status == 413
        with pytest.raises(MediaError, match="HTTP 404"):
            load_image_url(f"{base}/missing.png", policy)
    finally:
        server.shutdown()
