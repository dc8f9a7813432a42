"""Option types and output helpers shared by the ``splitbench leaderboard`` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from splitbench.errors import ConfigError
from splitbench.results.selection import BENCHMARK_HELP

Format = Annotated[
    str, typer.Option("--format", "-f", help="md | csv | json | latex", rich_help_panel="Output")
]
Output = Annotated[
    Path | None,
    typer.Option("--output", help="Also write the output to this file.", rich_help_panel="Output"),
]
Plot = Annotated[
    Path | None, typer.Option("--plot", help="Write a PNG figure here.", rich_help_panel="Output")
]
BenchmarkChoice = Annotated[
    str | None,
    typer.Option("--benchmark", "-b", help=BENCHMARK_HELP, rich_help_panel="Data"),
]
Replicates = Annotated[
    int, typer.Option("--replicates", help="Bootstrap resamples.", rich_help_panel="Statistics")
]


def emit(text: str, output: Path | None) -> None:
    """Print ``text`` and, when ``output`` is given, also write it there."""
    print(text)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")


def check_format(fmt: str) -> None:
    """Refuse a ``--format`` no renderer knows (one line naming the choices)."""
    from splitbench.results.tables import FORMATS

    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
