"""``e5v eval``: run the E5-V / UniME benchmarks, list them, or re-print saved results."""

from __future__ import annotations

import json
from pathlib import Path

import typer

eval_app = typer.Typer(
    name="eval",
    help="Evaluate a model on the papers' benchmarks (see docs/evaluation.md).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")


def _split(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for value in values or []:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


@eval_app.command("run")
def run(
    benchmarks: list[str] = typer.Argument(
        ..., help="Benchmarks or groups (e5v, unime, sts); see `e5v eval list`. Commas allowed."
    ),
    data_root: Path = typer.Option(
        None, "--data-root", "-d", help="Folder holding each dataset in its layout."
    ),
    model: str = typer.Option(
        None, "--model", "-m", help="Short name, hub id or local directory (default: the default model)."
    ),
    output: Path = typer.Option(None, "--output", "-o", help="Write the results JSON here."),
    out_dir: Path = typer.Option(
        None, "--out-dir", help="Folder for figures (modality gap PNG) and CIRR test predictions."
    ),
    batch_size: int = typer.Option(16, min=1, help="Items per forward pass."),
    cache_dir: Path = typer.Option(
        None, help="Embedding cache folder (default: $E5V_EVAL_CACHE or ~/.cache/e5v/eval-embeddings)."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write cached embeddings."),
    hub: bool = typer.Option(False, "--hub", help="Read datasets from the Hugging Face hub (datasets)."),
    hub_id: list[str] = typer.Option(None, "--hub-id", help="name=repo_id overriding a hub dataset id."),
    fashioniq_single_order: bool = typer.Option(
        False,
        "--fashioniq-single-order",
        help="Embed FashionIQ captions in one order only (default: both orders summed, as the E5-V code).",
    ),
    font: Path = typer.Option(None, help="TrueType font for I2I caption rendering (default: see docs)."),
    mmeb_datasets: list[str] = typer.Option(
        None, "--mmeb-datasets", help="Evaluate only these MMEB datasets."
    ),
    mmeb_prompt: str = typer.Option(None, help="Prompt (registry name or template) for MMEB items."),
    representation: str = typer.Option("one_word", help="one_word (E5-V), prompt or last (paper Table 6)."),
    device: str = typer.Option(None, help="cpu, cuda, cuda:1 ... (default: cuda if available)."),
    dtype: str = typer.Option(None, help="float32, bfloat16, float16."),
) -> None:
    """Evaluate a model and print the papers' tables."""
    from e5v import Embedder
    from e5v.evaluation import DataError, EvalOptions, default_cache_dir, evaluate, format_results

    hub_ids = {}
    for pair in _split(hub_id):
        name, sep, repo = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"expected name=repo_id, got {pair!r}", param_hint="--hub-id")
        hub_ids[name.strip().lower()] = repo.strip()
    options = EvalOptions(
        fashioniq_both_orders=not fashioniq_single_order,
        font=str(font) if font else None,
        output_dir=out_dir,
        mmeb_prompt=mmeb_prompt,
        mmeb_datasets=tuple(_split(mmeb_datasets)) or None,
    )
    embedder = Embedder.from_pretrained(model, device=device, dtype=dtype, representation=representation)
    try:
        results = evaluate(
            embedder,
            _split(benchmarks),
            data_root,
            options=options,
            batch_size=batch_size,
            cache_dir=None if no_cache else (cache_dir or default_cache_dir()),
            hub=hub,
            hub_ids=hub_ids,
            output=output,
            show_progress=True,
        )
    except (DataError, KeyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    typer.echo(format_results(results))
    if output:
        typer.echo(f"\nresults written to {output}")


@eval_app.command("list")
def list_benchmarks() -> None:
    """List the benchmarks, their groups and the data layout each one expects."""
    from e5v.evaluation import BENCHMARKS, GROUPS, expand

    expand(list(GROUPS))  # loads the registry
    for name, bench in BENCHMARKS.items():
        hub = f"  [hub: {bench.hf_id}]" if bench.hf_id else ""
        typer.echo(f"{name:15s} {bench.description}{hub}")
        typer.echo(bench.layout)
    typer.echo("\ngroups:")
    for group, members in GROUPS.items():
        typer.echo(f"  {group}: {', '.join(members)}")


@eval_app.command("show")
def show(results: Path = typer.Argument(..., help="A results JSON written by `e5v eval run -o`.")) -> None:
    """Print the tables of saved results."""
    from e5v.evaluation import format_results

    typer.echo(format_results(json.loads(results.read_text())))
