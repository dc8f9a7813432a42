"""``splitbench leaderboard sessions | robustness``: the session track and text robustness."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from splitbench.cli import options as opt
from splitbench.cli.common import err
from splitbench.cli.leaderboard_common import Output, emit
from splitbench.errors import ConfigError


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
    emit(render_sessions(cells), output)
    if plot_dir is not None:
        for path in plot_sessions(cells, plot_dir):
            err(f"wrote {path}")


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
    emit(render_robustness(report), output)
    if plot is not None:
        err(f"wrote {plot_robustness(report, plot)}")
