"""The `lineage` command line: a thin typer layer over the library, the only code that imports
typer. Each command parses its arguments, calls the library to compute, calls a renderer, and
exits with a status from lineage.core.status. The commands live by group in this package;
`app` and what they share in lineage.cli.app.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Annotated

import typer

# Imported in the order `lineage --help` lists their commands; importing registers them.
from lineage.cli import store, checks, graph, cohorts, rename, migrate, demo  # noqa: F401, I001
from lineage.cli.app import app
from lineage.core import perf
from lineage.core.status import Terminated

__all__ = ["app", "main", "on_sigterm"]


def version_callback(value: bool):
    if value:
        from lineage import __version__

        typer.echo(f"lineage {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=version_callback, is_eager=True,
                                          help="Print the version and exit.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colours, also when $NO_COLOR is unset.")] = False,
):
    """Lineage analyzer for the DayDreaming generation store."""
    if no_color:
        # Through the environment, as NO_COLOR itself: every console made from here on (tables,
        # trees, the progress bar) reads it.
        os.environ["NO_COLOR"] = "1"


def on_sigterm(signum, frame) -> None:
    raise Terminated()


def main() -> None:
    # SIGTERM unwinds like Ctrl-C: outputs being written are removed, helpers are stopped.
    signal.signal(signal.SIGTERM, on_sigterm)
    perf.arm_hold()
    try:
        app()
    except SystemExit as exc:
        if not perf.holding() or not isinstance(exc.code, (int, type(None))):
            raise
        # A command kept its big objects to the end (perf.hold_until_exit): the outputs are
        # written and closed, so the process ends here instead of freeing them one by one.
        try:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:  # (None when the process was started with it closed)
                    stream.flush()
        except (OSError, ValueError):  # a reader that left, a closed stream: the usual exit handles it
            raise exc from None
        os._exit(exc.code or 0)
