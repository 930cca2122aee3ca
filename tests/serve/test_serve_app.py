"""The FastAPI app in-process: answers equal Embedder.encode, 4xx JSON errors, auth, limits, search."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from e5v.index import VectorStore
from e5v.inputs import Interleaved
from e5v.serve import ServeConfig, create_app

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _png_bytes(seed: int = 0, size=(20, 24)) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def _image_message(url: str, text: str | None = None) -> list[dict]:
    parts = [{"type": "image_url", "image_url": {"url": url}}]
    if text is not None:
        parts.append({"type": "text", "text": text})
    return [{"role": "user", "content": parts}]


@pytest.fixture(scope="module")
def client(embedder, served_index):
    index_dir, images = served_index
    config = ServeConfig(api_token=TOKEN, allowed_dir=images, max_body_bytes=200_000, max_batch_size=8)
    with TestClient(create_app(embedder, config, store=VectorStore.open(index_dir))) as test_client:
        yield test_client


def test_text_embeddings_equal_direct_encode(client, embedder):
    texts = ["a small dog", "two cats on a sofa", "a small dog"]
    response = client.post("/v1/embeddings", json={"input": texts, "model": embedder.name}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list" and body["model"] == embedder.name
    got = np.array([row["embedding"] for row in sorted(body["data"], key=lambda r: r["index"])])
    np.testing.assert_allclose(got, embedder.encode(texts, show_progress=False), atol=1e-5)
    single = client.post("/v1/embeddings", json={"input": "a small dog"}, headers=AUTH).json()
    np.testing.assert_allclose(single["data"][0]["embedding"], got[0], atol=1e-5)


def test_image_interleaved_and_base64(client, embedder, served_index):
    _, images = served_index
    data = _png_bytes(5)
    image = Image.open(io.BytesIO(data))
    expected = embedder.encode([image, Interleaved(image=image, text="make it blue")], show_progress=False)
    r1 = client.post("/v1/embeddings", json={"messages": _image_message(_data_url(data))}, headers=AUTH)
    r2 = client.post(
        "/v1/embeddings",
        json={"messages": _image_message(_data_url(data), "make it blue"), "encoding_format": "base64"},
        headers=AUTH,
    )
    assert r1.status_code == r2.status_code == 200, (r1.text, r2.text)
    np.testing.assert_allclose(r1.json()["data"][0]["embedding"], expected[0], atol=1e-5)
    decoded = np.frombuffer(base64.b64decode(r2.json()["data"][0]["embedding"]), dtype="<f4")
    np.testing.assert_allclose(decoded, expected[1], atol=1e-5)
    r3 = client.post("/v1/embeddings", json={"messages": _image_message("p1.png")}, headers=AUTH)
    assert r3.status_code == 200
    np.testing.assert_allclose(
        r3.json()["data"][0]["embedding"],
        embedder.encode([images / "p1.png"], show_progress=False)[0],
        atol=1e-5,
    )


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"input": ""}, 400, "empty"),
        ({"input": []}, 400, "empty"),
        ({"input": [[1, 2, 3]]}, 400, "input"),
        ({"input": "x", "messages": [{"role": "user", "content": "y"}]}, 400, "exactly one"),
        ({}, 400, "exactly one"),
        ({"input": "x", "unknown_field": 1}, 400, "unknown_field"),
        ({"input": "x", "model": "gpt-4"}, 404, "not served"),
        ({"input": "x", "dimensions": 7}, 400, "dimensions"),
        ({"input": "x", "encoding_format": "int8"}, 400, "encoding_format"),
        ({"input": "x", "prompt": "<image> only an image slot"}, 400, "placeholder"),
        ({"messages": _image_message("data:image/png;base64,!!!")}, 400, "base64"),
        ({"messages": _image_message("../../etc/passwd")}, 403, "outside the allowed directory"),
        ({"messages": _image_message("http://127.0.0.1:1/x.png")}, 403, "remote"),
        ({"messages": [{"role": "user", "content": [{"type": "audio", "x": 1}]}]}, 400, "content"),
        (
            {"messages": _image_message(_data_url(_png_bytes())) + _image_message(_data_url(_png_bytes()))},
            400,
            "one image",
        ),
    ],
)
def test_invalid_requests_get_4xx_json(client, body, status, fragment):
    response = client.post("/v1/embeddings", json=body, headers=AUTH)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert fragment.lower() in error["message"].lower() and error["type"]


def test_auth_body_limit_and_unknown_routes(client):
    assert client.post("/v1/embeddings", json={"input": "x"}).status_code == 401
    wrong = client.post("/v1/embeddings", json={"input": "x"}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert client.get("/metrics").status_code == 401
    assert client.get("/health").status_code == 200  # health stays open for probes
    big = client.post("/v1/embeddings", json={"input": "x" * 300_000}, headers=AUTH)
    assert big.status_code == 413 and "larger" in big.json()["error"]["message"]
    not_json = client.post(
        "/v1/embeddings", content=b"{nope", headers={**AUTH, "content-type": "application/json"}
    )
    assert not_json.status_code == 400
    assert client.get("/v2/nothing", headers=AUTH).status_code == 404


def test_search_health_models_metrics(client, embedder, served_index):
    _, images = served_index
    hits = client.post(
        "/v1/search", json={"text": "caption number 2 about things", "k": 3}, headers=AUTH
    ).json()
    assert hits["results"][0]["id"] == "t2" and len(hits["results"]) == 3
    scores = [h["score"] for h in hits["results"]]
    assert scores == sorted(scores, reverse=True) and scores[0] == pytest.approx(1.0, abs=1e-4)
    composed = client.post(
        "/v1/search", json={"text": "make it red", "image": "p0.png", "k": 2}, headers=AUTH
    ).json()["results"]
    assert composed[0]["id"] == "c0"
    by_image = client.post(
        "/v1/search", json={"image": _data_url((images / "p1.png").read_bytes())}, headers=AUTH
    )
    assert by_image.json()["results"][0]["id"] == "p1" and by_image.json()["results"][0]["metadata"] == {
        "tag": 1
    }
    assert client.post("/v1/search", json={"k": 3}, headers=AUTH).status_code == 400
    assert client.post("/v1/search", json={"text": "x", "k": 0}, headers=AUTH).status_code == 400
    health = client.get("/health").json()
    assert health == {
        "status": "ok",
        "model": embedder.name,
        "dim": embedder.dim,
        "index_rows": 8,
        "queue_depth": 0,
    }
    assert client.get("/v1/models", headers=AUTH).json()["data"][0]["id"] == embedder.name
    metrics = client.get("/metrics", headers=AUTH).text
    assert 'e5v_requests_total{endpoint="/v1/embeddings",status="200"}' in metrics
    assert "e5v_batch_size_bucket" in metrics and "e5v_queue_depth" in metrics


def test_search_without_index_is_404(embedder):
    with TestClient(create_app(embedder)) as plain:
        response = plain.post("/v1/search", json={"text": "x"})
        assert response.status_code == 404 and "no index" in response.json()["error"]["message"]


class GatedEncoder:
    """Delegates to the real embedder once ``gate`` is set (to provoke timeouts and a full queue
    deterministically: until then the worker is busy, however slow the machine)."""

    def __init__(self, embedder) -> None:
        import threading

        self.inner, self.gate = embedder, threading.Event()
        self.name, self.dim, self.prompts = embedder.name, embedder.dim, embedder.prompts

    def encode(self, items, **kwargs):
        self.gate.wait(timeout=30)
        return self.inner.encode(items, **kwargs)


def test_streamed_body_over_the_limit_is_413(client):
    chunks = (b'{"input": "' + b"x" * 50_000 for _ in range(5))  # no content-length: chunked upload
    response = client.post(
        "/v1/embeddings", content=chunks, headers={**AUTH, "content-type": "application/json"}
    )
    assert response.status_code == 413


def test_timeout_is_504_and_full_queue_is_503(embedder):
    import concurrent.futures

    gated = GatedEncoder(embedder)
    config = ServeConfig(request_timeout_s=1.0, max_queue=1, max_batch_size=1, max_wait_ms=0)
    with TestClient(create_app(gated, config)) as test_client:
        try:
            # The worker takes this request and blocks on the gate: the client gets 504.
            assert test_client.post("/v1/embeddings", json={"input": "x"}).status_code == 504
            # Worker still busy: one request fits in the queue (504 later), the others are refused.
            with concurrent.futures.ThreadPoolExecutor(6) as pool:
                statuses = list(
                    pool.map(
                        lambda i: test_client.post("/v1/embeddings", json={"input": f"t{i}"}).status_code,
                        range(6),
                    )
                )
        finally:
            gated.gate.set()
        assert 503 in statuses and set(statuses) <= {503, 504}
