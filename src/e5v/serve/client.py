"""A small Python client of ``e5v serve``, built on the same schemas as the server."""

from __future__ import annotations

import base64
import io
import mimetypes
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from e5v.errors import E5VError
from e5v.inputs import Interleaved
from e5v.serve.schemas import (
    ChatMessage,
    EmbeddingRequest,
    EmbeddingResponse,
    ErrorResponse,
    HealthResponse,
    ImagePart,
    ImageURL,
    SearchHit,
    SearchRequest,
    SearchResponse,
    TextPart,
)


class ServerError(E5VError):
    """The server answered an error; ``status`` and ``code`` come from its JSON error body."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.code = code


def image_data_url(image: Image.Image | Path | str | bytes) -> str:
    """A ``data:`` URL of an image (a file's bytes as they are, a PIL image as PNG)."""
    if isinstance(image, Image.Image):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        data, mime = buffer.getvalue(), "image/png"
    elif isinstance(image, (bytes, bytearray)):
        data, mime = bytes(image), "image/*"
    else:
        path = Path(image)
        data, mime = path.read_bytes(), mimetypes.guess_type(path.name)[0] or "image/*"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def item_messages(item: Any) -> list[ChatMessage]:
    """Chat-style messages of an image or interleaved item (images sent as data URLs)."""
    if isinstance(item, Interleaved):
        parts: list[Any] = [ImagePart(type="image_url", image_url=ImageURL(url=image_data_url(item.image)))]
        parts.append(TextPart(type="text", text=item.text))
    else:
        parts = [ImagePart(type="image_url", image_url=ImageURL(url=image_data_url(item)))]
    return [ChatMessage(role="user", content=parts)]


class Client:
    """Talk to an ``e5v serve`` instance.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000``.
        token: bearer token, when the server requires one.
        timeout: seconds per HTTP request.
        concurrency: parallel requests for image items (one item per request).
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        token: str | None = None,
        timeout: float = 60.0,
        concurrency: int = 8,
    ) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)
        self.concurrency = concurrency

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post(self, path: str, body: Any) -> dict[str, Any]:
        response = self._http.post(path, json=body.model_dump(exclude_none=True))
        return self._check(response)

    def _check(self, response: Any) -> dict[str, Any]:
        if response.status_code >= 400:
            try:
                error = ErrorResponse.model_validate(response.json()).error
                raise ServerError(response.status_code, error.message, error.code)
            except ValueError:
                raise ServerError(response.status_code, response.text) from None
        return response.json()

    def health(self) -> HealthResponse:
        return HealthResponse.model_validate(self._check(self._http.get("/health")))

    def embed(self, items: Sequence[Any], prompt: str | None = None, batch_size: int = 256) -> np.ndarray:
        """Embed texts (batched requests) and images / interleaved items (one request each), in order."""
        vectors: list[np.ndarray | None] = [None] * len(items)
        texts = [i for i, item in enumerate(items) if isinstance(item, str)]
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            request = EmbeddingRequest(
                input=[items[i] for i in chunk], prompt=prompt, encoding_format="base64"
            )
            for i, row in zip(chunk, self._decode(self._post("/v1/embeddings", request)), strict=True):
                vectors[i] = row
        others = [i for i, item in enumerate(items) if not isinstance(item, str)]

        def one(i: int) -> np.ndarray:
            request = EmbeddingRequest(
                messages=item_messages(items[i]), prompt=prompt, encoding_format="base64"
            )
            return self._decode(self._post("/v1/embeddings", request))[0]

        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            for i, row in zip(others, pool.map(one, others), strict=True):
                vectors[i] = row
        return np.stack(vectors) if vectors else np.zeros((0, 0), np.float32)  # type: ignore[arg-type]

    @staticmethod
    def _decode(payload: dict[str, Any]) -> list[np.ndarray]:
        response = EmbeddingResponse.model_validate(payload)
        out = []
        for row in sorted(response.data, key=lambda d: d.index):
            if isinstance(row.embedding, str):
                out.append(np.frombuffer(base64.b64decode(row.embedding), dtype="<f4").astype(np.float32))
            else:
                out.append(np.asarray(row.embedding, dtype=np.float32))
        return out

    def search(
        self,
        text: str | None = None,
        image: Image.Image | Path | str | bytes | None = None,
        k: int = 10,
        prompt: str | None = None,
        mode: str = "auto",
    ) -> list[SearchHit]:
        """Top-``k`` hits of a text, image or composed query (a local image is sent as a data URL)."""
        url = image if isinstance(image, str) and image.startswith(("data:", "http://", "https://")) else None
        if image is not None and url is None:
            url = image_data_url(Path(image) if isinstance(image, str) else image)
        request = SearchRequest(text=text, image=url, k=k, prompt=prompt, mode=mode)  # type: ignore[arg-type]
        return SearchResponse.model_validate(self._post("/v1/search", request)).results
