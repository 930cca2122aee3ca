"""``e5v demo``: a small real search that runs offline, to see e5v work in one command."""

from __future__ import annotations

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
    top_k: int = typer.Option(3, min=1, help="Results shown per query."),
) -> None:
    """Embed a few sentences and queries and print each query's best matches with scores."""
    from rich.console import Console
    from rich.table import Table

    from e5v import Embedder

    embedder = Embedder.from_pretrained(model)
    corpus = embedder.encode(SENTENCES, show_progress=False)
    queries = embedder.encode(QUERIES, show_progress=False)
    scores = queries @ corpus.T
    console = Console()
    console.print(
        f"model: {embedder.name} ({embedder.backbone.name}, {embedder.dim}-d, prompt wrapping: {embedder.chat.name})"
    )
    for query, row in zip(QUERIES, scores, strict=True):
        table = Table(title=f"query: {query}", title_justify="left")
        table.add_column("rank", justify="right")
        table.add_column("score", justify="right")
        table.add_column("sentence")
        for rank, index in enumerate(row.argsort()[::-1][:top_k], start=1):
            table.add_row(str(rank), f"{row[index]:.3f}", SENTENCES[index])
        console.print(table)
