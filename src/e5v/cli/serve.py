"""``e5v serve``: the HTTP service (OpenAI-compatible embeddings, search, health, metrics)."""

from __future__ import annotations

import os
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command(name="serve")(serve)


def serve(
    model: str = typer.Option(
        None, "--model", "-m", help="Short name, hub id or local dir (default: the index's)."
    ),
    index_dir: Path = typer.Option(None, "--index", "-i", help="Serve POST /v1/search over this index."),
    host: str = typer.Option("127.0.0.1", help="Bind address (127.0.0.1: this machine only)."),
    port: int = typer.Option(8000, help="Port."),
    max_batch_size: int = typer.Option(32, min=1, help="Most items per model call."),
    max_wait_ms: float = typer.Option(
        5.0, min=0, help="How long a request waits for others to share a batch."
    ),
    max_queue: int = typer.Option(1024, min=1, help="Most waiting requests (beyond: 503)."),
    token_env: str = typer.Option(
        "E5V_API_TOKEN", help="Environment variable holding the bearer token (unset or empty: no auth)."
    ),
    allowed_dir: Path = typer.Option(None, help="Accept image file paths inside this directory only."),
    allow_remote_urls: bool = typer.Option(False, "--allow-remote-urls", help="Fetch http(s) image URLs."),
    max_body_mb: float = typer.Option(16.0, help="Largest request body (MB)."),
    max_image_mb: float = typer.Option(10.0, help="Largest encoded image (MB)."),
    max_inputs: int = typer.Option(256, min=1, help="Most texts in one request."),
    timeout: float = typer.Option(60.0, help="Longest wait for the model per request (s; beyond: 504)."),
    device: str = typer.Option(None, help="cpu, cuda, cuda:1 ..."),
    dtype: str = typer.Option(None, help="float32, bfloat16, float16."),
) -> None:
    """Serve embeddings (and search) over HTTP with dynamic batching."""
    import uvicorn

    from e5v import Embedder
    from e5v.index import VectorStore
    from e5v.serve import ServeConfig, create_app

    store = VectorStore.open(index_dir) if index_dir is not None else None
    if model is None and store is not None:
        model = store.info.model
    embedder = Embedder.from_pretrained(model, device=device, dtype=dtype)
    if allowed_dir is not None and not allowed_dir.is_dir():
        raise typer.BadParameter(f"{allowed_dir} is not a directory", param_hint="--allowed-dir")
    config = ServeConfig(
        max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms,
        max_queue=max_queue,
        api_token=os.environ.get(token_env) or None,
        allowed_dir=allowed_dir,
        allow_remote_urls=allow_remote_urls,
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        max_image_bytes=int(max_image_mb * 1024 * 1024),
        max_inputs=max_inputs,
        request_timeout_s=timeout,
    )
    if config.api_token is None and host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"warning: serving on {host} without authentication (set {token_env})", err=True)
    uvicorn.run(create_app(embedder, config, store=store), host=host, port=port, log_level="info")
