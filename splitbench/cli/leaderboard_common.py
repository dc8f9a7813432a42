"""Option types and output helpers shared by the ``splitbench leaderboard`` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from splitbench.cli import options as opt
from splitbench.errors import ConfigError
from splitbench.results.selection import BENCHMARK_HELP

STATISTICS = opt.in_panel("Statistics")

Format = Annotated[str, opt.OUTPUT("--format", "-f", help="md | csv | json | latex")]
Output = Annotated[Path | None, opt.OUTPUT("--output", help="Also write the output to this file.")]
Plot = Annotated[Path | None, opt.OUTPUT("--plot", help="Write a PNG figure here.")]
BenchmarkChoice = Annotated[str | None, opt.DATA("--benchmark", "-b", help=BENCHMARK_HELP)]
Replicates = Annotated[int, STATISTICS("--replicates", help="Bootstrap resamples.")]


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
