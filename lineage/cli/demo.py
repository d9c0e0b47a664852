"""`lineage demo` and `lineage generate`: the bundled example store and synthetic stores."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from lineage.core.status import UsageError
from lineage.core.text import count
from lineage.cli.app import FailOn, Format, FormatOpt, OutputOpt, app, command, complete_check, say

from lineage.cli.store import audit


def example_store() -> Path:
    """The example data root: examples/data in a checkout, the package data of an install."""
    from importlib.resources import files

    return Path(str(files("lineage.examples") / "data"))


@app.command()
@command
def demo(
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    data_root: Annotated[Optional[Path], typer.Option("--data-root", metavar="DATA_ROOT", help="Audit this root instead of the bundled example.")] = None,
):
    """Audit the example store that ships with lineage.

    It is small and has one of each known problem.

    Example: lineage demo --format md
    """
    root = data_root or example_store()
    if not (root / "gens").is_dir():
        raise UsageError(f"no example store at {root}; reinstall lineage, or pass --data-root")
    say(f"auditing the example store at {root}")
    # Annotated options keep plain defaults, so the command can be called like a function.
    # A showcase: the same run in every folder, whatever configuration file is around.
    audit(root, format=format, output=output, fail_on=FailOn.never, no_config=True, no_progress=True)


@app.command()
@command
def generate(
    target: Annotated[Path, typer.Argument(metavar="DIR", help="An empty or new folder to write the store into.")],
    generations: Annotated[int, typer.Option("--generations", "-n", min=1, help="How many generations.")] = 1000,
    problems: Annotated[Optional[list[str]], typer.Option("--problem", metavar="CHECK", autocompletion=complete_check, help="Plant this check's problem (repeatable), or 'all'.")] = None,
    legacy_fraction: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of draft lineages with legacy IDs.")] = 0.0,
    mismatch_fraction: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of generations whose ID its metadata no longer implies.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed writes the same tree.")] = 0,
    text_files: Annotated[bool, typer.Option(help="Write prompt/raw/parsed text files too.")] = True,
):
    """Write a synthetic data root, optionally with planted problems.

    Example: lineage generate /tmp/store -n 5000 --problem all --legacy-fraction 0.2
    """
    from lineage import synthetic

    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is not a folder")
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"{target} is not empty")
    chosen = synthetic.ALL_PROBLEMS if problems == ["all"] else tuple(problems or ())
    unknown = [p for p in chosen if p not in synthetic.ALL_PROBLEMS]
    if unknown:
        raise UsageError(f"cannot plant {', '.join(unknown)}; choose from {', '.join(synthetic.ALL_PROBLEMS)}")
    start = time.perf_counter()
    made = synthetic.generate(str(target), generations, seed=seed, problems=chosen,
                              legacy_fraction=legacy_fraction, mismatch_fraction=mismatch_fraction,
                              text_files=text_files)
    stages = ", ".join(f"{n:,} {stage}" for stage, n in made.counts.items())
    say(f"wrote {count(sum(made.counts.values()), 'generation')} ({stages}) and "
        f"{count(len(made.expected), 'planted problem')} to {target} in {time.perf_counter() - start:.1f}s")
