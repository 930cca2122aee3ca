"""``e5v demo``: a small real search that runs offline, to see e5v work in one command.

With a multimodal model (the default, e5v-tiny) it searches a sample collection of held-out
images (never seen in training) with text queries; with a text-only model it searches sentences.
"""

from __future__ import annotations

from typing import Any

import typer

SENTENCES = [
    "A man is playing a guitar on stage.",
    "A chef is cooking pasta in a restaurant kitchen.",
    "Stock prices fell sharply on Monday.",
    "A child is swimming in the sea.",
    "The cat is sleeping on the sofa.",
    "Heavy rain flooded the streets of the city.",
    "A team celebrates winning the football final.",
    "A scientist looks at cells through a microscope.",
]
QUERIES = [
    "Someone performs music with a string instrument.",
    "A kitten naps on the couch.",
    "The market dropped at the start of the week.",
    "A storm caused flooding downtown.",
]


def register(app: typer.Typer) -> None:
    app.command(name="demo")(demo)


def demo(
    model: str = typer.Option(None, "--model", "-m", help="Short name, hub id or local directory."),
    top_k: int = typer.Option(5, min=1, help="Results shown per query."),
    n_images: int = typer.Option(48, min=4, help="Size of the sample image collection."),
    n_queries: int = typer.Option(4, min=1, help="Text queries (captions of sample images)."),
) -> None:
    """Run a real search offline and print each query's best matches with scores."""
    from rich.console import Console

    from e5v import Embedder

    embedder = Embedder.from_pretrained(model)
    console = Console()
    console.print(
        f"model: {embedder.name} ({embedder.backbone.name}, {embedder.dim}-d, chat wrapping: {embedder.chat.name})"
    )
    if embedder.backbone.multimodal:
        _image_search(embedder, console, top_k, n_images, n_queries)
    else:
        _text_search(embedder, console, min(top_k, len(SENTENCES)))


def _table(title: str, columns: list[str]) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, justify="right" if column in ("rank", "score") else "left")
    return table


def _text_search(embedder: Any, console: Any, top_k: int) -> None:
    corpus = embedder.encode(SENTENCES, show_progress=False)
    scores = embedder.encode(QUERIES, show_progress=False) @ corpus.T
    for query, row in zip(QUERIES, scores, strict=True):
        table = _table(f"query: {query}", ["rank", "score", "sentence"])
        for rank, index in enumerate(row.argsort()[::-1][:top_k], start=1):
            table.add_row(str(rank), f"{row[index]:.3f}", SENTENCES[index])
        console.print(table)


def _image_search(embedder: Any, console: Any, top_k: int, n_images: int, n_queries: int) -> None:
    from e5v.collection import read_collection
    from e5v.embed_collection import embed_records
    from e5v.samples import read_captions, sample_dir

    folder = sample_dir(n_images)
    captions = read_captions(folder)
    records = read_collection(folder)
    ids, vectors, skipped = embed_records(embedder, records, skip_bad=True)
    console.print(f"collection: {len(ids)} held-out images with captions in {folder}")
    for record_id, reason in skipped:
        console.print(f"[yellow]skipped unreadable image {record_id}: {reason}[/yellow]")
    step = max(1, len(ids) // n_queries)
    targets = [ids[i] for i in range(0, len(ids), step)][:n_queries]
    queries = [captions[t] for t in targets]
    scores = embedder.encode(queries, show_progress=False) @ vectors.T
    chance = min(top_k, len(ids)) / len(ids)
    found = 0
    for query, target, row in zip(queries, targets, scores, strict=True):
        table = _table(f"text query: {query!r}", ["rank", "score", "image", "its caption", ""])
        top = row.argsort()[::-1][:top_k]
        for rank, index in enumerate(top, start=1):
            hit = ids[index] == target
            table.add_row(
                str(rank), f"{row[index]:.3f}", ids[index], captions[ids[index]], "<- target" if hit else ""
            )
        found += target in {ids[i] for i in top}
        console.print(table)
    console.print(
        f"target image in the top {top_k} for {found} of {len(queries)} queries "
        f"(chance {chance:.0%} per query). e5v-tiny is a 135M-parameter model with a projector trained on "
        "2.3k captions: see docs/default-model.md for what it can and cannot do."
    )
