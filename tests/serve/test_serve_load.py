"""A real uvicorn server on loopback under bounded concurrent load (500 requests, 32 at a time)."""

from __future__ import annotations

import asyncio
import base64
import io
import random
import time

import httpx
import numpy as np
import pytest
from PIL import Image

from e5v.index import VectorStore
from e5v.serve import Client, ServeConfig, create_app
from e5v.serve.background import BackgroundServer
from e5v.serve.client import ServerError

TOKEN = "load-test-token"
N_REQUESTS, CONCURRENCY = 500, 32


def _data_url(seed: int) -> tuple[str, Image.Image]:
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (16, 16 + seed, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(), image


def _plan(rng: random.Random) -> list[tuple[str, dict, dict, object]]:
    """(kind, json body, headers, expected) for each request; expected = item(s) or a 4xx status."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    images = [_data_url(s) for s in range(4)]
    plan = []
    for i in range(N_REQUESTS):
        roll = rng.random()
        if roll < 0.1:
            j = rng.randrange(4)
            query = f"caption number {j} about things"
            plan.append(("search", {"text": query, "k": 3}, auth, (f"t{j}", query)))
        elif roll < 0.5:
            texts = [f"request {i} text {j} " + "word " * rng.randint(0, 6) for j in range(rng.randint(1, 3))]
            plan.append(("text", {"input": texts}, auth, texts))
        elif roll < 0.65:
            url, image = images[rng.randrange(4)]
            plan.append(
                (
                    "image",
                    {
                        "messages": [
                            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
                        ]
                    },
                    auth,
                    [image],
                )
            )
        elif roll < 0.75:
            plan.append(("noauth", {"input": "hello"}, {}, 401))
        elif roll < 0.85:
            plan.append(("bad-token", {"input": "hello"}, {"Authorization": "Bearer wrong"}, 401))
        else:
            bad = rng.choice(
                [
                    {"input": ""},
                    {"input": [1, 2]},
                    {
                        "messages": [
                            {
                                "role": "user",
                                "content": [
                                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,xx"}}
                                ],
                            }
                        ]
                    },
                    {"input": "x", "model": "other"},
                ]
            )
            plan.append(("invalid", bad, auth, "4xx"))
    return plan


def test_bounded_concurrent_load_on_loopback(embedder, served_index):
    plan = _plan(random.Random(0))
    store = VectorStore.open(served_index[0])
    config = ServeConfig(api_token=TOKEN, max_batch_size=32, max_wait_ms=5)
    app = create_app(embedder, config, store=store)

    async def drive(url: str) -> list[tuple[int, dict]]:
        semaphore = asyncio.Semaphore(CONCURRENCY)
        async with httpx.AsyncClient(
            base_url=url, timeout=60, limits=httpx.Limits(max_connections=CONCURRENCY)
        ) as http:

            async def one(kind, body, headers):
                async with semaphore:
                    path = "/v1/search" if kind == "search" else "/v1/embeddings"
                    response = await http.post(path, json=body, headers=headers)
                    return response.status_code, response.json()

            return await asyncio.gather(*(one(kind, body, headers) for kind, body, headers, _ in plan))

    with BackgroundServer(app) as server:
        start = time.perf_counter()
        answers = asyncio.run(drive(server.url))
        seconds = time.perf_counter() - start
        stats = app.state.batcher.stats
        with Client(server.url, token=TOKEN) as client:  # the shared-schema client against the same server
            np.testing.assert_allclose(
                client.embed(["client text", _data_url(1)[1]]),
                embedder.encode(["client text", _data_url(1)[1]], show_progress=False),
                atol=1e-4,
            )
            with pytest.raises(ValueError, match="empty"):  # the shared schema refuses it client-side
                client.embed([""])
            with pytest.raises(ServerError) as info:
                client.search(text="no approximate index here", mode="approx")
            assert info.value.status == 400 and "approximate" in str(info.value)
    print(
        f"\nload: {N_REQUESTS} requests ({CONCURRENCY} concurrent) in {seconds:.2f}s; "
        f"{stats.requests} embedded requests in {stats.batches} model batches"
    )
    counts: dict[str, int] = {}
    for (kind, _, _, expected), (status, body) in zip(plan, answers, strict=True):
        counts[kind] = counts.get(kind, 0) + 1
        if kind in ("text", "image"):
            assert status == 200, body
            got = np.array([row["embedding"] for row in sorted(body["data"], key=lambda r: r["index"])])
            np.testing.assert_allclose(got, embedder.encode(expected, show_progress=False), atol=1e-4)
        elif kind == "search":
            assert status == 200, body
            target, query = expected
            exact = store.search(embedder.encode([query], show_progress=False), 3, mode="exact")[0]
            assert exact[0].id == target
            assert [h["id"] for h in body["results"]] == [h.id for h in exact]
            np.testing.assert_allclose(
                [h["score"] for h in body["results"]], [h.score for h in exact], atol=1e-4
            )
        elif kind in ("noauth", "bad-token"):
            assert status == 401 and body["error"]["type"] == "authentication_error"
        else:
            assert 400 <= status < 500 and "message" in body["error"], (status, body)
    assert stats.batches < stats.requests  # requests were grouped
    assert min(counts.values()) > 20
