"""The Typer application: ``splitbench run | info | list | leaderboard | rescore | ...``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from splitbench.cli import options as opt
from splitbench.cli.build import build_benchmark as _build_benchmark
from splitbench.cli.common import err, parse_kv, parse_subsets, resolve_stores
from splitbench.cli.extract import extract as _extract_command
from splitbench.cli.grid import grid as _grid
from splitbench.cli.hub import hub_app
from splitbench.cli.leaderboard import leaderboard_app
from splitbench.cli.prepare import prepare_videos
from splitbench.cli.rescore import rescore
from splitbench.cli.vlm import vlm_app
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
    text_variant: Annotated[
        str | None,
        typer.Option(
            "--text-variant",
            help="Rewrite the split targets' fine labels and modifiers: typo:RATE, "
            "case:RATE or punct:RATE, optionally :SEED, or a curated paraphrase, long, fr "
            "or de (docs/robustness.md).",
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
    unit_timeout: Annotated[
        float | None,
        typer.Option(
            "--unit-timeout",
            help="Seconds one method call (prepare, or one unit's edit) may run before its "
            "unit fails and the run goes on. Default: no limit.",
            rich_help_panel="Method",
        ),
    ] = None,
    track: Annotated[
        str,
        typer.Option(
            "--track",
            help="single (one split per unit, the paper's protocol), or batch / sequential "
            "multi-target sessions (docs/sessions.md).",
            rich_help_panel="Sessions",
        ),
    ] = "single",
    session_sizes: Annotated[
        str,
        typer.Option(
            "--session-sizes",
            help="Targets split in one session, comma-separated; 'all' = every target.",
            rich_help_panel="Sessions",
        ),
    ] = "1,3,all",
    orders: Annotated[
        int,
        typer.Option(
            "--orders", help="Seeded target orders per session size.", rich_help_panel="Sessions"
        ),
    ] = 3,
    jobs: opt.Jobs = None,
) -> None:
    """Run a method on a benchmark, write one result per unit, print the leaderboard."""
    from splitbench.benchmarks.text_variants import apply_text_variant, parse_text_variant
    from splitbench.catalog import load_benchmark
    from splitbench.cli.plugins import load_plugin_files, read_config_file
    from splitbench.cli.sessions import check_track, run_sessions
    from splitbench.cli.validate import check_run_options, parse_seeds, parse_targets
    from splitbench.errors import ConfigError
    from splitbench.evaluation import MethodSpec, evaluate
    from splitbench.evaluation.facade import resolve_methods
    from splitbench.progress import silence
    from splitbench.protocol import load_methods
    from splitbench.protocol.parallel import default_jobs

    if quiet:
        silence()
    if overwrite_strategy not in ("only-missing", "always"):
        raise ConfigError(
            f"--overwrite-strategy {overwrite_strategy!r}: expected only-missing or always"
        )
    registry = load_methods()
    load_plugin_files(plugin or [], registry)
    overrides = read_config_file(config_file) if config_file else {}
    overrides.update(parse_kv(config or []))
    check_track(track)
    bench = apply_text_variant(
        load_benchmark(benchmark, annotations), parse_text_variant(text_variant)
    )
    subsets = parse_subsets(subset, list(bench.subsets))
    seed_list = parse_seeds(seeds)
    target_list = parse_targets(targets)
    (configured,) = resolve_methods([MethodSpec(method, overrides)], registry)
    check_run_options(
        bench=bench,
        subsets=subsets,
        targets=target_list,
        device=device,
        log_top_k=log_top_k,
        config=configured.method.config,
        method=method,
        unit_timeout=unit_timeout,
        output_dir=output_dir,
    )
    if track != "single":
        if targets:
            raise ConfigError("--targets selects single-split units; sessions use every target")
        run_sessions(
            configured.method,
            configured.origin,
            bench,
            resolve_stores(bench.name, features, subsets),
            subsets,
            track=track,
            sizes=session_sizes,
            orders=orders,
            seeds=seed_list,
            output_dir=output_dir,
            device=device,
            overwrite=overwrite_strategy,
            unit_timeout=unit_timeout,
        )
        return
    ev = evaluate(
        [configured.method],
        bench,
        stores=resolve_stores(bench.name, features, subsets),
        subsets=subsets,
        seeds=seed_list,
        targets=target_list,
        output_dir=output_dir,
        registry=registry,
        device=device,
        overwrite=overwrite_strategy,  # type: ignore[arg-type]
        progress=not quiet,
        log_samples=log_samples,
        log_top_k=log_top_k,
        unit_timeout=unit_timeout,
        jobs=jobs if jobs is not None else default_jobs(),
    )
    (run,) = ev.runs
    report = run.report
    assert report is not None
    passes = ", ".join(f"{s}: {n}" for s, n in report.backbone_passes.items())
    sim = " (simulated features)" if ev.simulated else ""
    seeds_note = (
        f"; deterministic method, ran seed {report.seeds[0]} only"
        if run.method.deterministic and len(set(seed_list)) > 1
        else ""
    )
    err(
        f"{run.method.name}: {len(ev.produced)} units computed, {len(ev.reused)} already done, "
        f"{len(ev.failures)} failed in {report.wall_s:.1f} s{seeds_note}; backbone passes "
        f"behind the features: {passes}{sim}"
    )
    for line in ev.failure_lines():
        err(line)
    print(ev.leaderboard().to_markdown(per_target=per_target))
    if ev.failures:
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
    from splitbench.benchmarks.stats import render_info
    from splitbench.catalog import BENCHMARKS, load_benchmark

    bench = load_benchmark(benchmark, annotations)
    subsets = parse_subsets(subset, list(bench.subsets))
    print(render_info(bench, subsets, per_target=targets))
    name = benchmark.partition(":")[0]  # synthetic:KNOB=VALUE carries simulation knobs
    entry = BENCHMARKS.get(name) if name in BENCHMARKS else None  # hub ids too
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
        from splitbench.cli.method_listing import HEADERS, method_rows

        rows = [[c.replace("|", "\\|") for c in row] for row in method_rows()]  # markdown
        print(tabulate(rows, headers=list(HEADERS), tablefmt="github"))
    elif what == "benchmarks":
        from splitbench.catalog import BENCHMARKS

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
    dim: Annotated[int, typer.Option(help="Feature dimension (MVD ViT-S: 384).")] = 384,
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 0,
    compositionality: Annotated[
        float, typer.Option(help="Share of a subcategory's offset that is its modifier's.")
    ] = 0.8,
    base_accuracy: Annotated[
        float,
        typer.Option(
            help="Top-1 a simulated 174-class SSv2 model would reach; picks the video noise "
            "from the calibration (default: MVD ViT-S's published 70.9 %)."
        ),
    ] = 0.709,
    video_noise: Annotated[
        float | None, typer.Option(help="Set the video noise directly (overrides the above).")
    ] = None,
    segments: Annotated[int, typer.Option(help="Temporal segments per val video.")] = 2,
    crops: Annotated[int, typer.Option(help="Spatial crops per segment.")] = 3,
    train_views: Annotated[int, typer.Option(help="Augmented views per train video.")] = 2,
    knob: Annotated[
        list[str] | None,
        typer.Option("--knob", help="Any other simulation knob NAME=VALUE (repeatable)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Write SIMULATED feature stores with an official benchmark's real taxonomy and sizes.

    For dry runs and performance work only: results on them are labelled as simulations.
    The knobs are recorded in each store's identity; docs/simulation.md lists them all.
    """
    from splitbench.benchmarks.synthetic import SyntheticConfig, config_from_spec
    from splitbench.catalog import load_benchmark
    from splitbench.errors import ConfigError
    from splitbench.features.sim_report import render_base_model
    from splitbench.features.simulate import simulate_official_store

    if benchmark.partition(":")[0] == "synthetic":
        raise ConfigError(
            "simulate writes stores for official benchmarks; the synthetic one takes its "
            "knobs in its name, e.g. 'splitbench run -b synthetic:compositionality=0.5 ...'"
        )
    cfg = config_from_spec(
        ",".join(knob or []),
        SyntheticConfig(
            seed=seed,
            dim=dim,
            compositionality=compositionality,
            base_accuracy=base_accuracy,
            video_noise=video_noise,
            segments=segments,
            crops=crops,
            train_views=train_views,
        ),
    )
    bench = load_benchmark(benchmark, annotations)
    for s in parse_subsets(subset, list(bench.subsets)):
        store = simulate_official_store(
            bench, s, output / s, cfg, progress=False if quiet else None
        )
        m = store.meta
        err(
            f"{bench.name}/{s}: simulated store at {store.path} ({m.splits['val'].count} val, "
            f"{m.splits['train'].count} train videos, dim {m.dim})"
        )
        err(render_base_model({s: store}, per_target=False))


# Commands that live in their own modules.
app.command("extract")(_extract_command)
app.command("grid")(_grid)
app.command("rescore")(rescore)
app.command("build-benchmark")(_build_benchmark)
app.command("prepare-videos")(prepare_videos)
app.add_typer(leaderboard_app, name="leaderboard")
app.add_typer(hub_app, name="hub")
app.add_typer(vlm_app, name="vlm")


INTERRUPTED = "interrupted: finished units are saved; rerun the same command to resume"


def _click_types(name: str) -> tuple[type[BaseException], ...]:
    """``name`` from every click the installed Typer may use: its own copy and/or click.

    Typer >= 0.2x vendors click as ``typer._click``; older ones use the click package. An
    exception is one of them, so checking only one misses usage errors on the other.
    """
    found: list[type[BaseException]] = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            mod = __import__(module, fromlist=[name])
        except ImportError:
            continue
        cls = getattr(mod, name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException) and cls not in found:
            found.append(cls)
    return tuple(found)


def main() -> None:
    """Console entry point: one-line errors for bad input, no tracebacks.

    Usage mistakes print click's usage line and one ``Error:`` line (exit 2); bare
    ``splitbench`` prints the help; bad input prints ``error: ...`` (exit 2); Ctrl-C says
    what was kept (exit 130).
    """
    click_error = _click_types("ClickException")
    no_args_help = _click_types("NoArgsIsHelpError")
    interrupts: tuple[type[BaseException], ...] = (KeyboardInterrupt, typer.Abort)
    interrupts += _click_types("Abort")
    try:
        code = app(standalone_mode=False)
    except SplitbenchError as exc:
        err(f"error: {exc}")
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except interrupts:  # older Typer turns Ctrl-C into Abort
        err(INTERRUPTED)
        sys.exit(130)
    except OSError as exc:  # unreadable, looping or unwritable paths, a full disk
        from splitbench.cli.validate import os_error_line

        err(f"error: {os_error_line(exc)}")
        sys.exit(2)
    except click_error as exc:
        exc.show()  # type: ignore[attr-defined]
        sys.exit(0 if isinstance(exc, no_args_help) else exc.exit_code)  # type: ignore[attr-defined]
    if code == 130:  # Typer >= 0.2x turns Ctrl-C into Exit(130), returned in this mode
        err(INTERRUPTED)
    if isinstance(code, int) and code:
        sys.exit(code)
