"""Settings of the HTTP service (one dataclass; the CLI fills it from its options)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from e5v.inputs import DEFAULT_MAX_IMAGE_PIXELS
from e5v.serve.media import MediaPolicy


@dataclass(frozen=True)
class ServeConfig:
    """Batching, limits and safety settings of ``e5v serve``.

    Attributes:
        max_batch_size: most items per model call.
        max_wait_ms: how long a request waits for others to share its batch.
        max_queue: most requests waiting for the model (beyond: HTTP 503).
        api_token: bearer token required on every endpoint but ``/health`` (``None``: no auth).
        allowed_dir: image file paths are accepted only inside this directory (``None``: never).
        allow_remote_urls: fetch ``http(s)`` image URLs (off by default).
        max_body_bytes: largest request body (HTTP 413 beyond).
        max_image_bytes: largest encoded image (HTTP 413 beyond).
        max_image_pixels: largest decoded image (decompression-bomb guard).
        max_inputs: most texts in one ``/v1/embeddings`` request.
        request_timeout_s: longest wait for the model (HTTP 504 beyond).
        remote_timeout_s: time limit of a remote image download.
        model_name: the model name the API reports and accepts (default: the embedder's name).
    """

    max_batch_size: int = 32
    max_wait_ms: float = 5.0
    max_queue: int = 1024
    api_token: str | None = None
    allowed_dir: Path | None = None
    allow_remote_urls: bool = False
    max_body_bytes: int = 16 * 1024 * 1024
    max_image_bytes: int = 10 * 1024 * 1024
    max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS
    max_inputs: int = 256
    request_timeout_s: float = 60.0
    remote_timeout_s: float = 10.0
    model_name: str | None = None

    @property
    def media(self) -> MediaPolicy:
        return MediaPolicy(
            allowed_dir=self.allowed_dir,
            allow_remote=self.allow_remote_urls,
            max_image_bytes=self.max_image_bytes,
            max_image_pixels=self.max_image_pixels,
            remote_timeout_s=self.remote_timeout_s,
        )
