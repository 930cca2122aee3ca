"""Throughput of ``e5v serve`` with dynamic batching vs one forward pass per request.

Starts the real app (uvicorn on 127.0.0.1, a free port) twice with the same model: once with
dynamic batching (``--max-batch-size``/``--max-wait-ms``) and once with ``max_batch_size=1,
max_wait_ms=0`` (every request gets its own forward pass), drives each with the same concurrent
load of single-text ``POST /v1/embeddings`` requests, and prints requests/s and the ratio.

    python bench/serve_batching.py                                  # SmolLM2-135M (offline zoo model)
    python bench/serve_batching.py --tiny llava --requests 400      # tiny random model (fast check)
    python bench/serve_batching.py --json bench/results/serve_batching.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import platform
import random
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from e5v.serve import ServeConfig, create_app
from e5v.serve.background import BackgroundServer

logger = logging.getLogger("serve_batching")


def load_embedder(model: str | None, tiny: str | None) -> Any:
    from e5v import Embedder

    if tiny:
        from e5v.testing import tiny_model

        return Embedder(*tiny_model(tiny))
    return Embedder.from_pretrained(model, device="cpu")


def make_texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = [
        "the",
        "a",
        "photo",
        "of",
        "dog",
        "cat",
        "red",
        "blue",
        "car",
        "house",
        "tree",
        "river",
        "city",
        "night",
        "person",
        "small",
        "large",
        "old",
        "new",
    ]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(6, 20))) for _ in range(n)]


async def drive(url: str, texts: list[str], concurrency: int) -> tuple[float, list[float], np.ndarray]:
    """Send every text as its own request, ``concurrency`` in flight; return seconds, latencies, vectors."""
    semaphore = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as http:

        async def one(text: str) -> list[float]:
            async with semaphore:
                start = time.perf_counter()
                response = await http.post("/v1/embeddings", json={"input": text})
                response.raise_for_status()
                latencies.append(time.perf_counter() - start)
                return response.json()["data"][0]["embedding"]

        await one(texts[0])  # warm-up
        latencies.clear()
        start = time.perf_counter()
        vectors = await asyncio.gather(*(one(t) for t in texts))
        return time.perf_counter() - start, latencies, np.asarray(vectors, dtype=np.float32)


def run_mode(embedder: Any, texts: list[str], concurrency: int, max_batch: int, max_wait_ms: float) -> dict:
    config = ServeConfig(
        max_batch_size=max_batch, max_wait_ms=max_wait_ms, request_timeout_s=3600, max_queue=100_000
    )
    app = create_app(embedder, config)
    with BackgroundServer(app) as server:
        seconds, latencies, vectors = asyncio.run(drive(server.url, texts, concurrency))
    stats = app.state.batcher.stats
    return {
        "max_batch_size": max_batch,
        "max_wait_ms": max_wait_ms,
        "seconds": seconds,
        "requests_per_s": len(texts) / seconds,
        "p50_ms": 1000 * float(np.percentile(latencies, 50)),
        "p95_ms": 1000 * float(np.percentile(latencies, 95)),
        "model_batches": stats.batches,
        "mean_batch": stats.items / max(1, stats.batches),
        "vectors": vectors,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="smollm2-135m-instruct", help="zoo name, hub id or local dir")
    parser.add_argument("--tiny", default=None, help="use a tiny random model of this family instead")
    parser.add_argument("--requests", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--max-batch-size", type=int, default=32)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    import torch

    embedder = load_embedder(args.model, args.tiny)
    texts = make_texts(args.requests)
    single = run_mode(embedder, texts, args.concurrency, 1, 0.0)
    batched = run_mode(embedder, texts, args.concurrency, args.max_batch_size, args.max_wait_ms)
    max_diff = float(np.abs(single.pop("vectors") - batched.pop("vectors")).max())
    result = {
        "model": embedder.name,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "torch_threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "one_forward_per_request": single,
        "dynamic_batching": batched,
        "speedup": batched["requests_per_s"] / single["requests_per_s"],
        "max_abs_diff_between_modes": max_diff,
    }
    for name in ("one_forward_per_request", "dynamic_batching"):
        r = result[name]
        print(
            f"{name:>24}: {r['requests_per_s']:8.1f} req/s  p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms  "
            f"{r['model_batches']} model calls (mean batch {r['mean_batch']:.1f})"
        )
    print(f"dynamic batching speed-up: x{result['speedup']:.2f}  (same vectors within {max_diff:.1e})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
