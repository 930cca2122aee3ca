"""HTTP request and response bodies, shared by the server (:mod:`e5v.serve.app`) and the client.

``POST /v1/embeddings`` follows OpenAI's schema for text (``input``: a string or a list of strings)
and vLLM's chat-style schema for images and interleaved inputs (``messages`` whose content parts are
``{"type": "text", "text": ...}`` and ``{"type": "image_url", "image_url": {"url": ...}}``; one
request with ``messages`` yields one embedding). ``prompt`` is an e5v extension (a prompt registry
name or template). Errors are ``{"error": {"message", "type", "param", "code"}}`` as in OpenAI's API.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Most inputs one ``/v1/embeddings`` request may carry.
MAX_INPUTS = 2048


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImageURL(_Strict):
    """``url``: a ``data:image/...;base64,`` URL, a file path (allowed directory only) or http(s)."""

    url: str = Field(min_length=1)
    detail: str | None = None


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class ImagePart(_Strict):
    type: Literal["image_url"]
    image_url: ImageURL


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class ChatMessage(_Strict):
    role: Literal["system", "user", "assistant"] = "user"
    content: str | list[ContentPart]


class EmbeddingRequest(_Strict):
    """``input`` (texts, OpenAI) or ``messages`` (one image / interleaved item, vLLM), not both."""

    model: str | None = None
    input: str | list[str] | None = None
    messages: list[ChatMessage] | None = Field(default=None, min_length=1)
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None
    prompt: str | None = Field(default=None, description="e5v extension: prompt registry name or template")

    @field_validator("input")
    @classmethod
    def _check_input(cls, value: str | list[str] | None) -> str | list[str] | None:
        texts = [value] if isinstance(value, str) else value
        if texts is None:
            return value
        if not texts:
            raise ValueError("input must not be empty")
        if len(texts) > MAX_INPUTS:
            raise ValueError(f"at most {MAX_INPUTS} inputs per request, got {len(texts)}")
        for i, text in enumerate(texts):
            if not text.strip():
                raise ValueError(f"input {i} is an empty string")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> EmbeddingRequest:
        if (self.input is None) == (self.messages is None):
            raise ValueError(
                "give exactly one of 'input' (texts) or 'messages' (chat-style image/interleaved)"
            )
        return self

    @property
    def texts(self) -> list[str] | None:
        return [self.input] if isinstance(self.input, str) else self.input


class EmbeddingData(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str  # str: base64 of little-endian float32


class Usage(BaseModel):
    prompt_tokens: int = 0
    total_tokens: int = 0


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str
    usage: Usage = Field(default_factory=Usage)


class SearchRequest(_Strict):
    """A text, image or composed (image + modification text) query over the served index."""

    text: str | None = None
    image: str | None = Field(default=None, description="image URL: data URL, allowed path, or http(s)")
    k: int = Field(default=10, ge=1, le=1000)
    prompt: str | None = None
    mode: Literal["auto", "exact", "approx"] = "auto"

    @model_validator(mode="after")
    def _needs_query(self) -> SearchRequest:
        if self.text is None and self.image is None:
            raise ValueError("a search needs 'text', 'image' or both")
        if self.text is not None and not self.text.strip():
            raise ValueError("'text' is empty")
        return self


class SearchHit(BaseModel):
    id: str
    score: float
    source: str | None = None
    kind: str | None = None
    text: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class SearchResponse(BaseModel):
    object: Literal["search.results"] = "search.results"
    model: str
    results: list[SearchHit]


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"
    model: str
    dim: int
    index_rows: int | None = None
    queue_depth: int = 0


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    owned_by: str = "e5v"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
