"""The Typer application: ``splitbench run | info | list | leaderboard | rescore | ...``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from splitbench.cli import options as opt
from splitbench.cli.common import err, parse_ints, parse_kv, parse_subsets, resolve_stores
from splitbench.cli.extract import extract as _extract_command
from splitbench.cli.grid import grid as _grid
from splitbench.cli.hub import hub_app
from splitbench.cli.leaderboard import leaderboard_app
from splitbench.cli.rescore import rescore
from splitbench.errors import SplitbenchError

app = typer.Typer(
    name="splitbench",
    help="Benchmark harness for category splitting of video classifiers (Liu & Doughty, "
    "ICLR 2026).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


@app.command()
def run(
    method: Annotated[
        str,
        typer.Option(
            "--method",
            "-m",
            help="Method name (see 'splitbench list methods').",
            rich_help_panel="Method",
        ),
    ],
    benchmark: opt.Benchmark = "synthetic",
    subset: opt.Subset = "all",
    targets: Annotated[
        str | None,
        typer.Option(
            "--targets",
            help="Comma-separated coarse indices (or target keys); default all.",
            rich_help_panel="Data",
        ),
    ] = None,
    seeds: Annotated[
        str,
        typer.Option(
            "--seeds",
            help="Comma-separated seeds. Deterministic methods run once, with the first.",
            rich_help_panel="Method",
        ),
    ] = "0,1,2",
    output_dir: Annotated[
        Path,
        typer.Option(
            "--output-dir",
            "-o",
            help="Where unit results go (one JSON per unit).",
            rich_help_panel="Output",
        ),
    ] = Path("splitbench-results"),
    device: Annotated[
        str, typer.Option(help="Torch device for methods that train.", rich_help_panel="Method")
    ] = "cpu",
    annotations: opt.Annotations = None,
    features: opt.Features = None,
    config: Annotated[
        list[str] | None,
        typer.Option(
            "--config", "-c", help="Method option key=value (repeatable).", rich_help_panel="Method"
        ),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config-file", help="Method options as JSON or TOML.", rich_help_panel="Method"
        ),
    ] = None,
    overwrite_strategy: Annotated[
        str,
        typer.Option(
            "--overwrite-strategy",
            help="only-missing (resume) or always (recompute).",
            rich_help_panel="Output",
        ),
    ] = "only-missing",
    plugin: Annotated[
        list[Path] | None,
        typer.Option(
            "--plugin",
            help="A Python file defining Method subclasses (unpublished methods).",
            rich_help_panel="Method",
        ),
    ] = None,
    per_target: Annotated[
        bool,
        typer.Option(
            "--per-target", help="Also print per-target tables.", rich_help_panel="Output"
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar.", rich_help_panel="Output")
    ] = False,
    log_samples: Annotated[
        bool,
        typer.Option(
            "--log-samples",
            help="Also write per-video predictions (top-k, before and after the edit) to "
            "seed<S>.samples.parquet next to each result.",
            rich_help_panel="Output",
        ),
    ] = False,
    log_top_k: Annotated[
        int,
        typer.Option(
            "--log-top-k", help="Classes kept per video by --log-samples.", rich_help_panel="Output"
        ),
    ] = 5,
    jobs: opt.Jobs = None,
) -> None:
    """Run a method on a benchmark, write one result per unit, print the leaderboard."""
    from splitbench.benchmarks.catalog import load_benchmark
    from splitbench.cli.plugins import load_plugin_files, read_config_file
    from splitbench.errors import ConfigError
    from splitbench.protocol import build_config, load_methods
    from splitbench.protocol.parallel import default_jobs
    from splitbench.protocol.runner import Runner
    from splitbench.results.aggregate import aggregate
    from splitbench.results.io import load_results
    from splitbench.results.render import render_leaderboard

    if overwrite_strategy not in ("only-missing", "always"):
        raise ConfigError(
            f"--overwrite-strategy {overwrite_strategy!r}: expected only-missing or always"
        )
    registry = load_methods()
    load_plugin_files(plugin or [], registry)
    method_cls = registry.get(method)
    overrides = read_config_file(config_file) if config_file else {}
    overrides.update(parse_kv(config or []))
    instance = method_cls(build_config(method_cls.config_class, overrides))
    bench = load_benchmark(benchmark, annotations)
    subsets = parse_subsets(subset, list(bench.subsets))
    stores = resolve_stores(bench.name, features, subsets)
    target_list = [t.strip() for t in targets.split(",")] if targets else None
    runner = Runner(
        instance,
        bench,
        stores,
        output_dir,
        method_origin=registry.origin(method),
        device=device,
        overwrite=overwrite_strategy,  # type: ignore[arg-type]
        progress=not quiet,
        log_samples=log_samples,
        log_top_k=log_top_k,
        jobs=jobs if jobs is not None else default_jobs(),
    )
    seed_list = parse_ints(seeds, "--seeds")
    report = runner.run(subsets, seed_list, target_list)
    done, skipped, failed = (report.by_status(s) for s in ("done", "skipped", "failed"))
    passes = ", ".join(f"{s}: {n}" for s, n in report.backbone_passes.items())
    simulated = bench.simulation or any(st.meta.simulation for st in stores.values())
    sim = " (simulated features)" if simulated else ""
    seeds_note = (
        f"; deterministic method, ran seed {report.seeds[0]} only"
        if instance.deterministic and len(set(seed_list)) > 1
        else ""
    )
    err(
        f"{instance.name}: {len(done)} units computed, {len(skipped)} already done, "
        f"{len(failed)} failed in {report.wall_s:.1f} s{seeds_note}; backbone passes behind the "
        f"features: {passes}{sim}"
    )
    for o in failed:
        err(
            f"  failed: subset {o.subset} target {o.target.coarse_index} seed {o.seed}: "
            f"{o.error} (details: {o.path.with_name(o.path.stem + '.failed.json')})"
        )
    results = [
        r
        for r in load_results(output_dir)
        if r.unit.benchmark == bench.name and r.unit.subset in subsets
    ]
    print(render_leaderboard(aggregate(results), per_target=per_target))
    if failed:
        raise typer.Exit(1)


@app.command()
def info(
    benchmark: Annotated[str, typer.Argument(help="synthetic | ssv2-split | finegym-split")],
    annotations: opt.Annotations = None,
    subset: opt.Subset = "all",
    targets: Annotated[
        bool, typer.Option("--targets/--no-targets", help="Print the per-target table.")
    ] = True,
) -> None:
    """Print Table 1 statistics, per-target sizes and data findings of a benchmark."""
    from splitbench.benchmarks.catalog import BENCHMARKS, load_benchmark
    from splitbench.benchmarks.stats import render_info

    bench = load_benchmark(benchmark, annotations)
    subsets = parse_subsets(subset, list(bench.subsets))
    print(render_info(bench, subsets, per_target=targets))
    entry = BENCHMARKS.get(benchmark) if benchmark in BENCHMARKS else None  # hub ids too
    if entry is not None and entry.extra_info is not None:
        print(entry.extra_info(subsets))


@app.command("list")
def list_(
    what: Annotated[str, typer.Argument(help="methods | benchmarks | text-encoders")],
) -> None:
    """List registered methods, benchmarks or text encoders and where each comes from."""
    from tabulate import tabulate

    from splitbench.errors import ConfigError

    if what == "methods":
        from splitbench.protocol import load_methods

        reg = load_methods()
        rows = []
        for name in reg.names():
            try:
                cls = reg.get(name)
                rows.append(
                    [
                        name,
                        cls.meta.shots if cls.meta.shots is not None else "config",
                        cls.meta.kind,
                        cls.needs.describe(),
                        reg.origin(name),
                        cls.meta.description,
                    ]
                )
            except SplitbenchError as exc:
                rows.append([name, "?", "?", "?", reg.origin(name), f"BROKEN: {exc}"])
        print(
            tabulate(
                rows,
                headers=["method", "shots", "kind", "needs", "from", "description"],
                tablefmt="github",
            )
        )
    elif what == "benchmarks":
        from splitbench.benchmarks.catalog import BENCHMARKS

        rows = [
            [
                n,
                "yes" if BENCHMARKS.get(n).simulation else "no",
                "yes" if BENCHMARKS.get(n).needs_annotations else "no",
                BENCHMARKS.get(n).description,
            ]
            for n in BENCHMARKS.names()
        ]
        print(
            tabulate(
                rows,
                headers=["benchmark", "simulation", "needs annotations", "description"],
                tablefmt="github",
            )
        )
    elif what in ("text-encoders", "text_encoders"):
        from splitbench.models.text import TEXT_ENCODERS

        rows = [[n, TEXT_ENCODERS.origin(n)] for n in TEXT_ENCODERS.names()]
        print(tabulate(rows, headers=["text encoder", "from"], tablefmt="github"))
    else:
        raise ConfigError(f"list {what!r}: expected methods, benchmarks or text-encoders")


@app.command()
def simulate(
    benchmark: opt.Benchmark,
    output: Annotated[
        Path, typer.Option("--output", help="Folder for the stores (<output>/<subset>/).")
    ],
    annotations: opt.Annotations = None,
    subset: opt.Subset = "all",
    dim: Annotated[int, typer.Option(help="Feature dimension.")] = 384,
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 0,
) -> None:
    """Write SIMULATED feature stores with an official benchmark's real taxonomy and sizes.

    For dry runs and performance work only: results on them are labelled as simulations.
    """
    from splitbench.benchmarks.catalog import load_benchmark
    from splitbench.benchmarks.synthetic import SyntheticConfig
    from splitbench.features.simulate import simulate_official_store

    bench = load_benchmark(benchmark, annotations)
    for s in parse_subsets(subset, list(bench.subsets)):
        store = simulate_official_store(
            bench, s, output / s, SyntheticConfig(seed=seed, dim=dim, train_views=1)
        )
        m = store.meta
        err(
            f"{bench.name}/{s}: simulated store at {store.path} ({m.splits['val'].count} val, "
            f"{m.splits['train'].count} train videos, dim {m.dim})"
        )


# Commands that live in their own modules.
app.command("extract")(_extract_command)
app.command("grid")(_grid)
app.command("rescore")(rescore)
app.add_typer(leaderboard_app, name="leaderboard")
app.add_typer(hub_app, name="hub")


def main() -> None:
    """Console entry point: one-line errors for bad input, no tracebacks."""
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except SplitbenchError as exc:
        err(f"error: {exc}")
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err("interrupted: finished units are saved; rerun the same command to resume")
        sys.exit(130)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
