"""``splitbench leaderboard``: the group, and ``show | breakdown | compare``.

``build``, ``sessions`` and ``robustness`` live in their own modules.

``splitbench leaderboard DIR`` still means ``splitbench leaderboard show DIR``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

from splitbench.cli.common import err
from splitbench.cli.leaderboard_build import build
from splitbench.cli.leaderboard_common import (
    STATISTICS,
    BenchmarkChoice,
    Format,
    Output,
    Plot,
    Replicates,
    check_format,
    emit,
)
from splitbench.cli.leaderboard_tracks import robustness, sessions
from splitbench.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd


class _DefaultShowGroup(TyperGroup):
    """``splitbench leaderboard DIR`` means ``splitbench leaderboard show DIR``."""

    def resolve_command(self, ctx, args):  # type: ignore[no-untyped-def]
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args.insert(0, "show")
        return super().resolve_command(ctx, args)


leaderboard_app = typer.Typer(
    cls=_DefaultShowGroup,
    no_args_is_help=True,
    help="Render, build and compare leaderboards from result folders.",
)


@leaderboard_app.command("show")
def show(
    results: Annotated[Path, typer.Argument(help="A folder of unit results.")],
    output: Output = None,
    per_target: Annotated[bool, typer.Option("--per-target", help="Per-target tables.")] = False,
    ci: Annotated[
        bool,
        typer.Option("--ci", help="Bootstrap intervals over videos (needs --log-samples logs)."),
    ] = False,
    fmt: Format = "md",
    plot: Plot = None,
    replicates: Replicates = 1000,
    benchmark: BenchmarkChoice = None,
) -> None:
    """Print the leaderboard of every result under RESULTS (one table per benchmark subset).

    --plot draws one benchmark: pass --benchmark when RESULTS holds several.
    """
    check_format(fmt)
    from splitbench.results.aggregate import aggregate
    from splitbench.results.bootstrap import video_ci
    from splitbench.results.frame import frame_of
    from splitbench.results.io import read_results_folder
    from splitbench.results.render import render_leaderboard
    from splitbench.results.report import cells_table, ci_table
    from splitbench.results.selection import filter_benchmark, one_benchmark
    from splitbench.results.tables import render

    paths, loaded = read_results_folder(results)
    units = frame_of(paths, loaded)
    pick = one_benchmark if plot is not None else filter_benchmark
    units = pick(units, benchmark, results)
    chosen = set(units["path"].astype(str)) if not units.empty else set()
    loaded = [r for p, r in zip(paths, loaded, strict=True) if str(p) in chosen]
    cells = aggregate(loaded)
    intervals = video_ci(units, replicates=replicates) if (ci or plot) else None
    if fmt == "md":
        text = render_leaderboard(cells, per_target=per_target)
        if ci and intervals is not None:
            text += "\n" + render([ci_table(intervals)], "md")
    else:
        tables = [cells_table(cells)] + (
            [ci_table(intervals)] if ci and intervals is not None else []
        )
        text = render(tables, fmt)
    emit(text, output)
    if plot is not None:
        from splitbench.results.frame import cell_labels
        from splitbench.results.plots import scatter_generality_locality

        # method@hash when a method has several configs: never two results under one label
        labels = cell_labels(units) if not units.empty else {}
        err(f"wrote {scatter_generality_locality(cells, plot, ci=intervals, labels=labels)}")


@leaderboard_app.command("breakdown")
def breakdown(
    results: Annotated[Path, typer.Argument(help="A folder of unit results.")],
    by: Annotated[str, typer.Option("--by", help="split-type | k | subcategory")] = "split-type",
    annotations: Annotated[
        Path | None,
        typer.Option(
            "--annotations",
            help="The official 'Datasets' folder (for split types of official benchmarks).",
        ),
    ] = None,
    fmt: Format = "md",
    output: Output = None,
    plot: Plot = None,
    metric: Annotated[
        str, typer.Option("--metric", help="Metric the --plot bars show.")
    ] = "generality",
    benchmark: BenchmarkChoice = None,
) -> None:
    """Break results down by split type (Fig. 5b), by k (Fig. 5a) or per subcategory."""
    check_format(fmt)
    import pandas as pd

    from splitbench.results import load
    from splitbench.results.aggregate import METRICS
    from splitbench.results.breakdown import by_k, by_split_type, per_subcategory
    from splitbench.results.frame import cell_labels, target_means
    from splitbench.results.report import breakdown_tables, subcategory_tables
    from splitbench.results.tables import render

    kinds = {"split-type": "split_type", "split_type": "split_type", "k": "k"}
    if by not in (*kinds, "subcategory"):
        raise ConfigError(f"--by {by!r}: expected split-type, k or subcategory")
    if metric not in METRICS:
        raise ConfigError(f"--metric {metric!r}: expected one of {', '.join(METRICS)}")
    from splitbench.results.selection import one_benchmark

    units = one_benchmark(load(results), benchmark, results)
    if units.empty:
        raise ConfigError(f"{results}: no unit results")
    labels = cell_labels(units)
    order = sorted(set(labels.values()))
    if by == "subcategory":
        if plot is not None:
            raise ConfigError("--plot draws split-type or k bars; not available for subcategory")
        emit(render(subcategory_tables(per_subcategory(units, labels), order), fmt), output)
        return
    tm = target_means(units, labels)
    if kinds[by] == "k":
        frame = by_k(tm)
        title = "By number of subcategories k"
    else:
        types = pd.concat(
            [_split_types(b, annotations) for b in sorted(units["benchmark"].unique())],
            ignore_index=True,
        )
        frame = by_split_type(tm, types)
        title = "By split type"
    emit(render(breakdown_tables(frame, kinds[by], title, order), fmt), output)
    if plot is not None:
        from splitbench.results.plots import bars_by_group

        err(f"wrote {bars_by_group(frame, kinds[by], plot, metric=metric, labels_order=order)}")


def _split_types(benchmark: str, annotations: Path | None) -> pd.DataFrame:
    from splitbench.catalog import load_benchmark
    from splitbench.results.breakdown import split_type_table

    return split_type_table(load_benchmark(benchmark, annotations))


@leaderboard_app.command("compare")
def compare(
    run_a: Annotated[Path, typer.Argument(help="Results folder of run A.")],
    run_b: Annotated[Path, typer.Argument(help="Results folder of run B (may be the same).")],
    method_a: Annotated[
        str | None, typer.Option("--method-a", help="Method of run A: NAME or NAME@HASH.")
    ] = None,
    method_b: Annotated[
        str | None, typer.Option("--method-b", help="Method of run B: NAME or NAME@HASH.")
    ] = None,
    subset: Annotated[
        str | None, typer.Option("--subset", "-s", help="Only this subset (default: all).")
    ] = None,
    benchmark: BenchmarkChoice = None,
    metrics: Annotated[
        str, typer.Option("--metrics", help="Comma-separated metrics to compare.")
    ] = "generality,locality,mean,changed",
    fmt: Format = "md",
    output: Output = None,
    replicates: Replicates = 10000,
    level: Annotated[float, STATISTICS("--level", help="Interval coverage.")] = 0.95,
    across_stores: Annotated[
        bool,
        typer.Option(
            "--across-stores",
            help="Allow different feature stores (base models); they are noted.",
        ),
    ] = False,
) -> None:
    """Per-target deltas (B − A) with a bootstrap interval and paired tests across targets.

    Refuses results of different protocols, benchmark versions, data revisions or feature
    stores (unless --across-stores).
    """
    check_format(fmt)
    from splitbench.results import load
    from splitbench.results.compare import compare as do_compare
    from splitbench.results.compare import select
    from splitbench.results.report import comparison_tables
    from splitbench.results.selection import one_benchmark
    from splitbench.results.tables import render

    if not 0 < level < 1:
        raise ConfigError(f"--level {level}: expected a coverage between 0 and 1")
    sides = []
    for name, run, method in (("A", run_a, method_a), ("B", run_b, method_b)):
        df = one_benchmark(load(run), benchmark, run)
        if subset is not None and not df.empty:
            df = df[df["subset"].str.lower() == subset.lower()]
        sides.append(select(df, run, name, method))
    cmp = do_compare(
        sides[0],
        sides[1],
        metrics=[m.strip() for m in metrics.split(",") if m.strip()],
        replicates=replicates,
        level=level,
        across_stores=across_stores,
    )
    sim = " (simulation)" if cmp.a.units["simulation"].any() else ""
    if fmt == "md":
        err(
            f"B − A: A = {cmp.a.label} ({run_a}), B = {cmp.b.label} ({run_b}); "
            f"{cmp.a.units['benchmark'].iloc[0]}{sim}, protocol {cmp.a.units['protocol'].iloc[0]}"
        )
    emit(render(comparison_tables(cmp), fmt), output)


# Commands that live in their own modules (registered in the order --help lists them).
leaderboard_app.command("build")(build)
leaderboard_app.command("sessions")(sessions)
leaderboard_app.command("robustness")(robustness)
