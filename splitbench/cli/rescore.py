"""``splitbench rescore DIR``: recompute every metric from the per-video logs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from splitbench.cli.common import err
from splitbench.results.selection import BENCHMARK_HELP


def rescore(
    results: Annotated[
        Path, typer.Argument(help="A folder of unit results with --log-samples logs.")
    ],
    per_target: Annotated[bool, typer.Option("--per-target", help="Per-target tables.")] = False,
    benchmark: Annotated[str | None, typer.Option("--benchmark", "-b", help=BENCHMARK_HELP)] = None,
) -> None:
    """Recompute counts and metrics from the per-video logs, without rerunning anything.

    Prints the leaderboard of the rescored units and checks every number against the stored
    result; exits 1 if any differs.
    """
    from splitbench.errors import DataError
    from splitbench.results.aggregate import aggregate
    from splitbench.results.render import render_leaderboard
    from splitbench.results.rescore import rescore as do_rescore

    report = do_rescore(results)
    if not report.checked:
        raise DataError(
            f"{results}: no per-video logs (seed<S>.samples.parquet) found; rerun with "
            "'splitbench run --log-samples'"
        )
    shown = report.results
    if benchmark is not None:  # the check covers every unit; the tables only this benchmark
        import pandas as pd

        from splitbench.results.selection import filter_benchmark

        ids = pd.DataFrame(
            {
                "benchmark": [r.unit.benchmark for r in shown],
                "benchmark_revision": [r.unit.benchmark_revision for r in shown],
            }
        )
        keep = filter_benchmark(ids, benchmark, results).index
        shown = [shown[i] for i in keep]
    print(render_leaderboard(aggregate(shown), per_target=per_target))
    skipped = (
        f"; {len(report.without_samples)} units have no log and were not rescored"
        if report.without_samples
        else ""
    )
    if report.mismatches:
        for line in report.mismatches[:20]:
            err(f"  {line}")
        err(
            f"rescored {len(report.checked)} units from their per-video logs: "
            f"{len(report.mismatches)} numbers differ from the stored results{skipped}"
        )
        raise typer.Exit(1)
    err(
        f"rescored {len(report.checked)} units from their per-video logs: every count and "
        f"metric equals the stored result{skipped}"
    )
