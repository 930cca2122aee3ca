"""``e5v embed``: embed a collection and write vectors with their ids."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

logger = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    app.command(name="embed")(embed)


def embed(
    collection: Path = typer.Argument(
        ...,
        help="A folder of images/.txt files, a .jsonl/.csv manifest (id, image, text, metadata), "
        "or a .txt file with one text per line (one image path per line with --kind image).",
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Output file: .npy (+ .ids.json beside it) or .parquet."
    ),
    model: str = typer.Option(
        None,
        "--model",
        "-m",
        help="Short name, hub id or local directory (default: the offline default model).",
    ),
    prompt: str = typer.Option(None, help="Prompt name from the registry or a template with <image>/<text>."),
    representation: str = typer.Option("one_word", help="one_word (E5-V), prompt or last."),
    kind: str = typer.Option("auto", help="auto, or 'image' to read a .txt file as a list of image paths."),
    batch_size: int = typer.Option(16, min=1, help="Items per forward pass."),
    max_batch_tokens: int = typer.Option(None, min=1, help="Also cap each batch at this many padded tokens."),
    chunk_size: int = typer.Option(1024, min=1, help="Items decoded and embedded at a time (bounds memory)."),
    max_length: int = typer.Option(None, help="Cut texts to this many tokens (otherwise too long = error)."),
    device: str = typer.Option(None, help="cpu, cuda, cuda:1 ... (default: cuda if available)."),
    dtype: str = typer.Option(
        None, help="float32, bfloat16, float16 (default: float32 on CPU, bf16 on GPU)."
    ),
    skip_bad: bool = typer.Option(
        False, "--skip-bad", help="Skip unreadable items and report them instead of failing."
    ),
    engine: str = typer.Option("local", help="local, or ray (Ray Data actors; see docs/scale.md)."),
) -> None:
    """Embed every item of a collection and write the vectors with their ids."""
    from e5v.embed_collection import embed_records, load_records, write_vectors

    records = load_records(collection, kind=kind)
    if engine == "ray":
        from e5v.scale import ray_embed

        report = ray_embed(
            records, output, model=model, batch_size=batch_size, prompt=prompt, device=device, dtype=dtype
        )
        typer.echo(
            f"embedded {report.items_embedded} items in {report.shards_written} new shards "
            f"({report.shards_skipped} of {report.shards_total} already done) with {report.actors} actors "
            f"in {report.seconds:.1f}s -> {report.output}"
        )
        _report_skipped(report.failed)
        return
    if engine != "local":
        raise typer.BadParameter(f"unknown engine {engine!r}: use local or ray", param_hint="--engine")

    from e5v import Embedder

    embedder = Embedder.from_pretrained(model, device=device, dtype=dtype, representation=representation)
    ids, vectors, skipped = embed_records(
        embedder,
        records,
        prompt=prompt,
        batch_size=batch_size,
        chunk_size=chunk_size,
        max_length=max_length,
        max_batch_tokens=max_batch_tokens,
        skip_bad=skip_bad,
    )
    written = write_vectors(output, ids, vectors, model=embedder.name)
    typer.echo(f"embedded {len(ids)} items ({vectors.shape[1]}-d) -> {', '.join(map(str, written))}")
    _report_skipped(skipped)


def _report_skipped(skipped: list[tuple[str, str]]) -> None:
    if skipped:
        typer.echo(f"skipped {len(skipped)} unreadable items:", err=True)
        for record_id, reason in skipped:
            typer.echo(f"  {record_id}: {reason}", err=True)
