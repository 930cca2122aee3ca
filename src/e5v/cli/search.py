"""``e5v search``: text, image or composed (image + modification text) queries over an index."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command(name="search")(search)


def search(
    index_dir: Path = typer.Option(..., "--index", "-i", help="Index folder written by `e5v index`."),
    text: str = typer.Option(None, "--text", "-t", help="Query text (with --image: the modification text)."),
    image: Path = typer.Option(None, "--image", help="Query image (with --text: a composed query)."),
    k: int = typer.Option(10, "-k", min=1, help="Number of results."),
    prompt: str = typer.Option(None, help="Query prompts (default: the prompts the index was built with)."),
    mode: str = typer.Option("auto", help="auto, exact (brute force) or approx (the approximate index)."),
    nprobes: int = typer.Option(20, min=1, help="IVF partitions visited (approximate search)."),
    refine_factor: int = typer.Option(
        None, min=0, help="Rescore k*refine candidates (0: off; default per index)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    model: str = typer.Option(None, "--model", "-m", help="Model to embed the query (default: the index's)."),
    device: str = typer.Option(None, help="cpu, cuda, cuda:1 ..."),
    dtype: str = typer.Option(None, help="float32, bfloat16, float16."),
) -> None:
    """Print the top-k items of the index for a query, with their cosine scores."""
    from e5v import Embedder
    from e5v.index import VectorStore
    from e5v.index import search as run_search

    if text is None and image is None:
        raise typer.BadParameter("give --text, --image or both")
    if mode not in ("auto", "exact", "approx"):
        raise typer.BadParameter("choose auto, exact or approx", param_hint="--mode")
    store = VectorStore.open(index_dir)
    embedder = Embedder.from_pretrained(model or store.info.model, device=device, dtype=dtype)
    hits = run_search(
        store,
        embedder,
        text=text,
        image=image,
        k=k,
        prompt=prompt,
        mode=mode,  # type: ignore[arg-type]
        nprobes=nprobes,
        refine_factor=refine_factor,
    )
    if as_json:
        query = {"text": text, "image": str(image) if image else None}
        typer.echo(
            json.dumps({"query": query, "model": store.info.model, "results": [h.to_dict() for h in hits]})
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"top {k} of {len(store)} items ({store.info.model})")
    for column in ("#", "score", "id", "kind", "source / text"):
        table.add_column(column, justify="right" if column in ("#", "score") else "left")
    for rank, hit in enumerate(hits, 1):
        shown = hit.text if hit.kind == "text" else hit.source
        table.add_row(str(rank), f"{hit.score:.4f}", hit.id, hit.kind or "", (shown or "")[:80])
    Console().print(table)
