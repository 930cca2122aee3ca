"""HTTP service: OpenAI/vLLM-compatible embeddings, search over an index, dynamic batching.

>>> from e5v.serve import ServeConfig, create_app
>>> app = create_app(embedder, ServeConfig(max_batch_size=32, api_token="secret"), store=None)
>>> # uvicorn.run(app, host="127.0.0.1", port=8000)

Heavy dependencies (FastAPI, prometheus-client, httpx) load with the submodules, not here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Client", "DynamicBatcher", "ServeConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from e5v.serve.app import create_app

        return create_app
    if name == "ServeConfig":
        from e5v.serve.config import ServeConfig

        return ServeConfig
    if name == "DynamicBatcher":
        from e5v.serve.batcher import DynamicBatcher

        return DynamicBatcher
    if name == "Client":
        from e5v.serve.client import Client

        return Client
    raise AttributeError(name)
