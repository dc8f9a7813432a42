"""``splitbench leaderboard show | build | compare | breakdown | sessions``.

``splitbench leaderboard DIR`` still means ``splitbench leaderboard show DIR``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

from splitbench.cli import options as opt
from splitbench.cli.common import err, parse_ints
from splitbench.errors import ConfigError
from splitbench.results.selection import BENCHMARK_HELP

if TYPE_CHECKING:
    import pandas as pd

    from splitbench.boards import BuiltBoard


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


def _emit(text: str, output: Path | None) -> None:
    print(text)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")


def _check_format(fmt: str) -> None:
    from splitbench.results.tables import FORMATS

    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")


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
    _check_format(fmt)
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
    _emit(text, output)
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
    _check_format(fmt)
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
        _emit(render(subcategory_tables(per_subcategory(units, labels), order), fmt), output)
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
    _emit(render(breakdown_tables(frame, kinds[by], title, order), fmt), output)
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
    level: Annotated[
        float, typer.Option("--level", help="Interval coverage.", rich_help_panel="Statistics")
    ] = 0.95,
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
    _check_format(fmt)
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
    _emit(render(comparison_tables(cmp), fmt), output)


@leaderboard_app.command("build")
def build(
    output: Annotated[
        Path, typer.Option("--output", help="Folder of the committed leaderboard files.")
    ] = Path("leaderboard"),
    results: Annotated[
        Path,
        typer.Option("--results", help="Where the unit results go (missing units are run)."),
    ] = Path("splitbench-results/leaderboard"),
    readme: Annotated[
        str,
        typer.Option("--readme", help="README whose marked region is updated ('' for none)."),
    ] = "README.md",
    seeds: Annotated[str, typer.Option("--seeds", help="Comma-separated seeds.")] = "0,1,2",
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Write nothing; exit 1 if the files on disk differ from a rebuild."
        ),
    ] = False,
    plots: Annotated[
        Path | None, typer.Option("--plots", help="Also write the PNG figures to this folder.")
    ] = None,
    replicates: Replicates = 1000,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    jobs: opt.Jobs = None,
) -> None:
    """Run every registered method on the synthetic benchmark and render the leaderboards.

    Missing units are run (default config plus the variants each method declares), with
    per-video logs; finished ones are reused. The files are regenerated idempotently.
    """
    import difflib

    from splitbench.boards import build_board, write_changed
    from splitbench.progress import silence
    from splitbench.protocol import load_methods
    from splitbench.protocol.parallel import default_jobs
    from splitbench.results.board import replace_region

    if quiet:
        silence()
    seed_list = list(dict.fromkeys(parse_ints(seeds, "--seeds")))
    built = build_board(
        load_methods(),
        results,
        seed_list,
        replicates=replicates,
        quiet=quiet,
        log=err,
        jobs=jobs if jobs is not None else default_jobs(),
    )
    board = built.board
    targets: dict[Path, str] = {output / n: text for n, text in board.files.items()}
    if readme:
        path = Path(readme)
        if not path.is_file():
            raise ConfigError(f"{path}: README not found (pass --readme '' to skip it)")
        old = path.read_text(encoding="utf-8")
        targets[path] = replace_region(old, board.readme, where=str(path))
    if check:
        stale = []
        for path, text in targets.items():
            old = path.read_text(encoding="utf-8") if path.is_file() else ""
            if old != text:
                stale.append(path)
                diff = difflib.unified_diff(
                    old.splitlines(), text.splitlines(), str(path), "rebuilt", lineterm="", n=0
                )
                err("\n".join(list(diff)[:20]))
        if stale:
            err(f"leaderboard differs from a rebuild: {', '.join(map(str, stale))}")
            raise typer.Exit(1)
        err(f"leaderboard up to date: {len(targets)} files identical to a rebuild")
    else:
        changed = write_changed(targets)
        err(
            f"leaderboard: {len(built.entries)} method configs, {len(built.units)} units; "
            f"{len(changed)} of {len(targets)} files changed"
            + (f" ({', '.join(map(str, changed))})" if changed else "")
        )
    if plots is not None:
        _plots(plots, built)


def _plots(folder: Path, built: BuiltBoard) -> None:
    from splitbench.results.breakdown import by_k, by_split_type, split_type_table
    from splitbench.results.frame import target_means
    from splitbench.results.plots import bars_by_group, scatter_generality_locality

    labels = {(e.method, e.config_hash): e.label for e in built.entries}
    order = sorted(set(labels.values()))
    tm = target_means(built.units, labels)
    name = built.benchmark.name
    written = [
        scatter_generality_locality(
            built.cells, folder / f"{name}-scatter.png", ci=built.ci, labels=labels
        ),
        bars_by_group(
            by_split_type(tm, split_type_table(built.benchmark)),
            "split_type",
            folder / f"{name}-split-types.png",
            labels_order=order,
        ),
        bars_by_group(by_k(tm), "k", folder / f"{name}-k.png", labels_order=order),
    ]
    err(f"wrote {', '.join(map(str, written))}")


@leaderboard_app.command("sessions")
def sessions(
    results: Annotated[Path, typer.Argument(help="A folder with session results.")],
    output: Output = None,
    plot_dir: Annotated[
        Path | None,
        typer.Option("--plot-dir", help="Write one PNG per benchmark subset here."),
    ] = None,
    benchmark: Annotated[
        str | None, typer.Option("--benchmark", "-b", help="Only this benchmark.")
    ] = None,
) -> None:
    """Tables (and plots) of the multi-target session track: G, L and retention vs m."""
    from splitbench.results.sessions import (
        aggregate_sessions,
        load_sessions,
        plot_sessions,
        render_sessions,
    )

    loaded = load_sessions(results)
    if benchmark is not None:
        loaded = [r for r in loaded if r.session.benchmark == benchmark]
    if not loaded:
        raise ConfigError(
            f"{results}: no session results"
            + (f" for benchmark {benchmark!r}" if benchmark else "")
            + " (run 'splitbench run --track sequential' first)"
        )
    cells = aggregate_sessions(loaded)
    _emit(render_sessions(cells), output)
    if plot_dir is not None:
        for path in plot_sessions(cells, plot_dir):
            err(f"wrote {path}")


@leaderboard_app.command("robustness")
def robustness(
    benchmark: Annotated[str, typer.Option("--benchmark", "-b", help="Benchmark.")] = "synthetic",
    subset: Annotated[str, typer.Option("--subset", "-s", help="A, B or all.")] = "all",
    methods: Annotated[
        str, typer.Option(help="Comma-separated text-using methods (default: all three).")
    ] = "",
    encoders: Annotated[str, typer.Option(help="Comma-separated text encoders.")] = (
        "minilm,use-multilingual"
    ),
    variants: Annotated[
        str, typer.Option(help="Comma-separated --text-variant specs (clean is always run).")
    ] = "typo:0.05,typo:0.2,case:0.3,punct:0.3,paraphrase,long,fr,de",
    targets: Annotated[
        str | None, typer.Option(help="Comma-separated coarse indices; default all.")
    ] = None,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-o", help="Unit results, one folder per variant.")
    ] = Path("splitbench.evaluation.robustness"),
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write the generality-drop plot (PNG).")
    ] = None,
    annotations: opt.Annotations = None,
    features: opt.Features = None,
    output: Output = None,
) -> None:
    """Text robustness: G and L of text-using methods per encoder under each text variant."""
    from splitbench.catalog import load_benchmark
    from splitbench.cli.common import parse_subsets, resolve_stores
    from splitbench.cli.validate import parse_targets
    from splitbench.evaluation.robustness import (
        TEXT_METHODS,
        plot_robustness,
        render_robustness,
        robustness_report,
    )

    bench = load_benchmark(benchmark, annotations)
    chosen = parse_subsets(subset, list(bench.subsets))
    names = [m for m in methods.split(",") if m] or list(TEXT_METHODS)
    unknown = [m for m in names if m not in TEXT_METHODS]
    if unknown:
        raise ConfigError(
            f"--methods {','.join(unknown)}: expected text-using methods among "
            f"{', '.join(TEXT_METHODS)}"
        )
    report = robustness_report(
        bench,
        output_dir=output_dir,
        methods={m: TEXT_METHODS[m] for m in names},
        encoders=[e for e in encoders.split(",") if e],
        variants=[v for v in variants.split(",") if v],
        subsets=chosen,
        targets=parse_targets(targets),
        stores=resolve_stores(bench.name, features, chosen),
    )
    _emit(render_robustness(report), output)
    if plot is not None:
        err(f"wrote {plot_robustness(report, plot)}")
