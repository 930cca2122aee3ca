"""``e5v index``: embed a collection into a durable vector index (incremental, resumable)."""

from __future__ import annotations

from pathlib import Path

import typer

ANN_CHOICES = ("auto", "none", "ivf_pq", "ivf_hnsw_sq", "ivf_rq")


def register(app: typer.Typer) -> None:
    app.command(name="index")(index)


def index(
    collection: Path = typer.Argument(
        ...,
        help="A folder of images/.txt files, a .jsonl/.csv manifest (id, image, text, metadata) or a .txt file.",
    ),
    index_dir: Path = typer.Option(
        ..., "--index", "-i", help="Index folder (created if missing, appended to if not)."
    ),
    model: str = typer.Option(
        None,
        "--model",
        "-m",
        help="Short name, hub id or local dir (default: the index's model, else the default).",
    ),
    prompt: str = typer.Option(None, help="Prompt name from the registry or a template with <image>/<text>."),
    batch_size: int = typer.Option(16, min=1, help="Items per forward pass."),
    commit_every: int = typer.Option(
        256, min=1, help="Items per commit (a crash loses at most this much work)."
    ),
    ann: str = typer.Option(
        "auto", help=f"Approximate index: {', '.join(ANN_CHOICES)} (auto: ivf_hnsw_sq from 100k items)."
    ),
    device: str = typer.Option(None, help="cpu, cuda, cuda:1 ... (default: cuda if available)."),
    dtype: str = typer.Option(None, help="float32, bfloat16, float16."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Embed every item of COLLECTION not yet in the index and append it (kill-safe: re-run to resume)."""
    from e5v import Embedder
    from e5v.collection import read_collection
    from e5v.index import IndexNotFoundError, VectorStore, index_collection

    if ann not in ANN_CHOICES:
        raise typer.BadParameter(f"choose one of {', '.join(ANN_CHOICES)}", param_hint="--ann")
    records = read_collection(collection)
    if model is None:
        try:
            model = VectorStore.open(index_dir).info.model
        except IndexNotFoundError:
            model = None
    embedder = Embedder.from_pretrained(model, device=device, dtype=dtype)
    report = index_collection(
        records,
        index_dir,
        embedder,
        prompt=prompt,
        batch_size=batch_size,
        commit_every=commit_every,
        ann=ann,
        show_progress=progress,
    )
    typer.echo(
        f"indexed {report.added} new items in {report.seconds:.1f}s ({report.items_per_second:.1f} items/s); "
        f"{report.already_indexed} were already indexed; search: {report.ann or 'exact'} -> {index_dir}"
    )
    if report.failed:
        typer.echo(f"skipped {len(report.failed)} unreadable items:", err=True)
        for record_id, reason in report.failed:
            typer.echo(f"  {record_id}: {reason}", err=True)
