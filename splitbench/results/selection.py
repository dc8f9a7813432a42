"""Which benchmark's results a command reads when a folder holds several.

A results folder may hold units of several benchmarks (``splitbench run`` writes every run
under ``<output>/<benchmark>/...``, so following the README fills ``splitbench-results/``
with synthetic and official ones) or of several data revisions of one benchmark. Commands
that compare, break down or plot need one: ``--benchmark NAME`` (or ``NAME@REVISION`` when
one name has several revisions) picks it, and without it a folder that holds several is
refused in one line that names the choices. Tables stay per benchmark and need no choice.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from splitbench.errors import ConfigError

if TYPE_CHECKING:  # the CLI imports BENCHMARK_HELP at start-up; pandas costs 0.4 s
    import pandas as pd

BENCHMARK_HELP = (
    "Only results of this benchmark (NAME, or NAME@REVISION when one name has several data "
    "revisions); needed when the folder holds several."
)


def benchmark_choices(df: pd.DataFrame) -> list[str]:
    """The benchmarks in ``df`` as ``--benchmark`` accepts them (``NAME`` or ``NAME@REV``)."""
    ids = sorted(set(zip(df["benchmark"], df["benchmark_revision"], strict=True)))
    names = [n for n, _ in ids]
    return [n if names.count(n) == 1 else f"{n}@{r}" for n, r in ids]


def filter_benchmark(df: pd.DataFrame, benchmark: str | None, where: Path | str) -> pd.DataFrame:
    """The rows of ``benchmark`` (all rows when None).

    Raises:
        ConfigError: when ``benchmark`` matches no row (naming what the folder holds).
    """
    if benchmark is None or df.empty:
        return df
    name, _, rev = benchmark.partition("@")
    keep = df["benchmark"] == name
    if rev:
        keep &= df["benchmark_revision"].astype(str).str.startswith(rev)
    if not keep.any():
        raise ConfigError(
            f"{where}: no results of benchmark {benchmark!r}; it holds "
            f"{', '.join(benchmark_choices(df))}"
        )
    return df[keep]


def one_benchmark(df: pd.DataFrame, benchmark: str | None, where: Path | str) -> pd.DataFrame:
    """The rows of one benchmark identity: ``benchmark``'s, or the only one in ``df``.

    Raises:
        ConfigError: when nothing matches, or ``df`` still holds several benchmarks or data
            revisions (the message lists them and the option that picks one).
    """
    df = filter_benchmark(df, benchmark, where)
    if df.empty:
        return df
    choices = benchmark_choices(df)
    if len(choices) > 1:
        raise ConfigError(
            f"{where} holds results of {len(choices)} benchmarks or data revisions "
            f"({', '.join(choices)}); choose one with --benchmark"
        )
    return df
