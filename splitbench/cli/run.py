"""``splitbench run``: one method on a benchmark, one result per unit, then the leaderboard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from splitbench.cli import options as opt
from splitbench.cli.common import err, parse_kv, parse_subsets, resolve_stores


def run(
    method: Annotated[
        str, opt.METHOD("--method", "-m", help="Method name (see 'splitbench list methods').")
    ],
    benchmark: opt.Benchmark = "synthetic",
    subset: opt.Subset = "all",
    targets: Annotated[
        str | None,
        opt.DATA("--targets", help="Comma-separated coarse indices (or target keys); default all."),
    ] = None,
    text_variant: Annotated[
        str | None,
        opt.DATA(
            "--text-variant",
            help="Rewrite the split targets' fine labels and modifiers: typo:RATE, "
            "case:RATE or punct:RATE, optionally :SEED, or a curated paraphrase, long, fr "
            "or de (docs/robustness.md).",
        ),
    ] = None,
    seeds: Annotated[
        str,
        opt.METHOD(
            "--seeds", help="Comma-separated seeds. Deterministic methods run once, with the first."
        ),
    ] = "0,1,2",
    output_dir: Annotated[
        Path, opt.OUTPUT("--output-dir", "-o", help="Where unit results go (one JSON per unit).")
    ] = Path("splitbench-results"),
    device: Annotated[str, opt.METHOD(help="Torch device for methods that train.")] = "cpu",
    annotations: opt.Annotations = None,
    features: opt.Features = None,
    config: Annotated[
        list[str] | None, opt.METHOD("--config", "-c", help="Method option key=value (repeatable).")
    ] = None,
    config_file: Annotated[
        Path | None, opt.METHOD("--config-file", help="Method options as JSON or TOML.")
    ] = None,
    overwrite_strategy: Annotated[
        str, opt.OUTPUT("--overwrite-strategy", help="only-missing (resume) or always (recompute).")
    ] = "only-missing",
    plugin: Annotated[
        list[Path] | None,
        opt.METHOD(
            "--plugin", help="A Python file defining Method subclasses (unpublished methods)."
        ),
    ] = None,
    per_target: Annotated[
        bool, opt.OUTPUT("--per-target", help="Also print per-target tables.")
    ] = False,
    quiet: Annotated[bool, opt.OUTPUT("--quiet", "-q", help="No progress bar.")] = False,
    log_samples: Annotated[
        bool,
        opt.OUTPUT(
            "--log-samples",
            help="Also write per-video predictions (top-k, before and after the edit) to "
            "seed<S>.samples.parquet next to each result.",
        ),
    ] = False,
    log_top_k: Annotated[
        int, opt.OUTPUT("--log-top-k", help="Classes kept per video by --log-samples.")
    ] = 5,
    unit_timeout: Annotated[
        float | None,
        opt.METHOD(
            "--unit-timeout",
            help="Seconds one method call (prepare, or one unit's edit) may run before its "
            "unit fails and the run goes on. Default: no limit.",
        ),
    ] = None,
    track: Annotated[
        str,
        opt.SESSIONS(
            "--track",
            help="single (one split per unit, the paper's protocol), or batch / sequential "
            "multi-target sessions (docs/sessions.md).",
        ),
    ] = "single",
    session_sizes: Annotated[
        str,
        opt.SESSIONS(
            "--session-sizes",
            help="Targets split in one session, comma-separated; 'all' = every target.",
        ),
    ] = "1,3,all",
    orders: Annotated[
        int, opt.SESSIONS("--orders", help="Seeded target orders per session size.")
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
