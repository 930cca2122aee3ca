"""The ``e5v`` command line: a thin Typer app whose subcommands call library functions.

Each subcommand lives in its own module exposing ``register(app)``; heavy libraries are imported
inside the command functions so that ``e5v --help`` stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Sequence

import typer

app = typer.Typer(
    name="e5v",
    help="Universal multimodal embeddings from multimodal LLMs (E5-V, UniME).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Subcommand modules, in the order they appear in ``--help``.
COMMAND_MODULES = ("demo", "embed", "search", "index", "serve", "eval", "train", "build")


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Log warnings and errors only."),
) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        module_name = f"{__name__}.{name}"
        if importlib.util.find_spec(module_name) is not None:
            importlib.import_module(module_name).register(app)


_register_commands()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``e5v`` script."""
    app(args=list(argv) if argv is not None else None)
