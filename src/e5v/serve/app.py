"""The FastAPI app of ``e5v serve``: embeddings (OpenAI/vLLM schema), search, health, metrics.

The model runs in one worker thread behind a :class:`~e5v.serve.batcher.DynamicBatcher`; request
handlers only validate, decode images (in a thread pool) and wait for their slice of a batch.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from e5v.errors import E5VError
from e5v.index.protocol import EncoderLike
from e5v.index.query import make_query, query_prompts
from e5v.index.store import VectorStore
from e5v.inputs import Interleaved
from e5v.serve.batcher import DynamicBatcher, QueueFullError
from e5v.serve.config import ServeConfig
from e5v.serve.media import MediaError, MediaPolicy, load_image_url
from e5v.serve.metrics import ServerMetrics
from e5v.serve.schemas import (
    ChatMessage,
    EmbeddingData,
    EmbeddingRequest,
    EmbeddingResponse,
    ErrorDetail,
    ErrorResponse,
    HealthResponse,
    ModelCard,
    ModelList,
    SearchHit,
    SearchRequest,
    SearchResponse,
    TextPart,
)

logger = logging.getLogger(__name__)

_ERROR_TYPES = {
    401: "authentication_error",
    404: "not_found_error",
    413: "request_too_large",
    503: "overloaded_error",
}


def error_response(
    status: int, message: str, code: str | None = None, param: str | None = None
) -> JSONResponse:
    """An OpenAI-style error body: ``{"error": {"message", "type", "param", "code"}}``."""
    kind = _ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
    body = ErrorResponse(error=ErrorDetail(message=message, type=kind, param=param, code=code))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


class BodyLimitMiddleware:
    """Answer 413 to request bodies above ``max_bytes`` (declared or streamed), before any parsing."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_large = error_response(413, f"request body larger than {self.max_bytes} bytes", "body_too_large")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await too_large(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def messages_to_item(messages: list[ChatMessage], policy: MediaPolicy) -> Any:
    """One embeddable item from chat messages: text parts joined, at most one image."""
    texts: list[str] = []
    urls: list[str] = []
    for message in messages:
        parts = (
            [TextPart(type="text", text=message.content)]
            if isinstance(message.content, str)
            else message.content
        )
        for part in parts:
            if isinstance(part, TextPart):
                texts.append(part.text)
            else:
                urls.append(part.image_url.url)
    if len(urls) > 1:
        raise MediaError(f"at most one image per request (E5-V prompts hold one <image>), got {len(urls)}")
    text = "\n".join(t for t in texts if t.strip()) or None
    if not urls:
        if text is None:
            raise MediaError("messages hold no text and no image")
        return text
    image = load_image_url(urls[0], policy)
    return Interleaved(image=image, text=text) if text is not None else image


def _encode_vector(vector: np.ndarray, encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector.astype(np.float32).tolist()


def create_app(
    encoder: EncoderLike, config: ServeConfig | None = None, store: VectorStore | None = None
) -> FastAPI:
    """Build the service around an embedder (and optionally an index for ``/v1/search``).

    Raises:
        ModelMismatchError: ``store`` was built with another model than ``encoder``.
    """
    config = config or ServeConfig()
    model_name = config.model_name or encoder.name
    dim = int(encoder.dim)
    if store is not None:
        store.info.check_model(encoder.name, dim)
    policy = config.media

    def encode(items: list[Any], key: Hashable) -> np.ndarray:
        return encoder.encode(items, prompt=key, batch_size=config.max_batch_size, show_progress=False)

    holder: dict[str, DynamicBatcher] = {}
    metrics = ServerMetrics(queue_depth=lambda: holder["batcher"].queue_depth if "batcher" in holder else 0)
    batcher = DynamicBatcher(
        encode, config.max_batch_size, config.max_wait_ms, config.max_queue, on_batch=metrics.on_batch
    )
    holder["batcher"] = batcher

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        try:
            yield
        finally:
            await run_in_threadpool(batcher.stop)

    app = FastAPI(title="e5v", version="1", lifespan=lifespan)
    app.state.batcher = batcher
    app.state.metrics = metrics
    bearer = HTTPBearer(auto_error=False)

    async def authorize(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:  # noqa: B008
        if config.api_token is None:
            return
        given = credentials.credentials if credentials is not None else ""
        if not secrets.compare_digest(given.encode(), config.api_token.encode()):
            raise StarletteHTTPException(401, "invalid or missing bearer token")

    async def embed(items: list[Any], key: Hashable) -> np.ndarray:
        return await asyncio.wait_for(batcher.submit(items, key), timeout=config.request_timeout_s)

    # -- errors ------------------------------------------------------------------------------------
    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = (
            f"{where}: {first.get('msg', 'invalid request')}"
            if where
            else first.get("msg", "invalid request")
        )
        return error_response(400, message, "invalid_request", param=where or None)

    @app.exception_handler(MediaError)
    async def _media_error(_: Request, exc: MediaError) -> JSONResponse:
        return error_response(exc.status, str(exc), exc.code)

    @app.exception_handler(QueueFullError)
    async def _overloaded(_: Request, exc: QueueFullError) -> JSONResponse:
        return error_response(503, str(exc), "overloaded")

    @app.exception_handler(asyncio.TimeoutError)
    async def _timeout(_: Request, exc: Exception) -> JSONResponse:
        return error_response(504, f"the model did not answer within {config.request_timeout_s} s", "timeout")

    @app.exception_handler(E5VError)
    @app.exception_handler(ValueError)
    async def _bad_input(_: Request, exc: Exception) -> JSONResponse:
        return error_response(400, str(exc), type(exc).__name__)

    # -- metrics of every request --------------------------------------------------------------
    @app.middleware("http")
    async def _observe(request: Request, call_next: Any) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        endpoint = getattr(route, "path", "other")
        metrics.requests.labels(endpoint, str(response.status_code)).inc()
        metrics.latency.labels(endpoint).observe(time.perf_counter() - start)
        return response

    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes)

    # -- endpoints -----------------------------------------------------------------------------
    @app.get("/health", response_model=HealthResponse)
    async def health() -> HealthResponse:
        rows = await run_in_threadpool(len, store) if store is not None else None
        return HealthResponse(model=model_name, dim=dim, index_rows=rows, queue_depth=batcher.queue_depth)

    @app.get("/metrics", dependencies=[Depends(authorize)])
    async def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models", response_model=ModelList, dependencies=[Depends(authorize)])
    async def models() -> ModelList:
        return ModelList(data=[ModelCard(id=model_name)])

    @app.post("/v1/embeddings", response_model=EmbeddingResponse, dependencies=[Depends(authorize)])
    async def embeddings(body: EmbeddingRequest) -> EmbeddingResponse:
        if body.model is not None and body.model not in (model_name, encoder.name):
            raise StarletteHTTPException(
                404, f"model {body.model!r} is not served here; this server serves {model_name!r}"
            )
        if body.dimensions is not None and body.dimensions != dim:
            raise ValueError(
                f"dimensions={body.dimensions} is not supported; this model gives {dim}-d vectors"
            )
        texts = body.texts
        if texts is not None:
            if len(texts) > config.max_inputs:
                raise ValueError(
                    f"at most {config.max_inputs} inputs per request on this server, got {len(texts)}"
                )
            items: list[Any] = list(texts)
        else:
            items = [await run_in_threadpool(messages_to_item, body.messages, policy)]
        vectors = await embed(items, body.prompt)
        data = [
            EmbeddingData(index=i, embedding=_encode_vector(v, body.encoding_format))
            for i, v in enumerate(vectors)
        ]
        return EmbeddingResponse(data=data, model=model_name)

    @app.post("/v1/search", response_model=SearchResponse, dependencies=[Depends(authorize)])
    async def search(body: SearchRequest) -> SearchResponse:
        if store is None:
            raise StarletteHTTPException(404, "no index is served here (start the server with --index)")
        image = (
            await run_in_threadpool(load_image_url, body.image, policy) if body.image is not None else None
        )
        query = make_query(body.text, image)
        vector = (await embed([query], query_prompts(store, body.prompt)))[0]
        hits = await run_in_threadpool(
            lambda: store.search(vector, body.k, model=encoder.name, mode=body.mode)[0]
        )
        return SearchResponse(model=model_name, results=[SearchHit(**h.to_dict()) for h in hits])

    return app
