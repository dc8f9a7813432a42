"""``splitbench grid``: run a paper table's full grid (methods × targets × seeds) at once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from splitbench.cli import options as opt
from splitbench.cli.common import err, parse_ints, parse_kv

if TYPE_CHECKING:
    from splitbench.evaluation.facade import EvaluatedMethod

_PARITY = opt.in_panel("Parity")


def grid(
    preset: Annotated[
        str | None, typer.Option("--preset", "-p", help="Grid preset (see --list).")
    ] = None,
    list_presets: Annotated[
        bool, typer.Option("--list", help="List the presets and exit.")
    ] = False,
    benchmark: Annotated[
        str | None,
        opt.DATA(
            "--benchmark",
            "-b",
            help="Override the preset's benchmark (e.g. synthetic for a dry run).",
        ),
    ] = None,
    subset: Annotated[
        str | None, opt.DATA("--subset", "-s", help="Override the preset's subsets (A, B or all).")
    ] = None,
    annotations: opt.Annotations = None,
    features: opt.Features = None,
    seed_set: Annotated[
        str,
        _PARITY(
            "--seed-set",
            help="scripts: the released script's seeds for this table ({0,1,3} for Table 2 "
            "SSv2-A and Table 3, {0,1,2} elsewhere); uniform: {0,1,2}.",
        ),
    ] = "scripts",
    seeds: Annotated[
        str | None, _PARITY("--seeds", help="Explicit seeds (overrides --seed-set).")
    ] = None,
    released_code: Annotated[
        bool,
        _PARITY(
            "--released-code",
            help="Released-code parity: ma_init=released-code (random + Δ, zero bias) and "
            "shot_policy=whole-ft for every method that has them.",
        ),
    ] = False,
    text_encoder: Annotated[
        str | None,
        _PARITY(
            "--text-encoder",
            help="Text encoder for every method that uses one (clip-vit-l-14 for parity).",
        ),
    ] = None,
    config: Annotated[
        list[str] | None,
        typer.Option("--config", "-c", help="key=value for every method that has the option."),
    ] = None,
    extra_method: Annotated[
        list[str] | None, typer.Option("--extra-method", help="Also run this method (repeatable).")
    ] = None,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-o", help="Where unit results go.")
    ] = Path("splitbench-results"),
    device: Annotated[str, typer.Option(help="Torch device for methods that train.")] = "cpu",
    jobs: opt.Jobs = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the resolved grid and exit.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Run a paper table's full grid (all targets × seeds × methods) with one preset."""
    from tabulate import tabulate

    from splitbench.errors import ConfigError
    from splitbench.grids import PRESETS, get_preset, plan_grid, run_grid
    from splitbench.progress import silence

    if quiet:
        silence()

    if list_presets or preset is None:
        rows = [
            [
                p.name,
                p.benchmark,
                ",".join(p.subsets),
                " ".join(r.method for r in p.runs),
                ",".join(map(str, p.script_seeds)),
                p.description,
            ]
            for p in PRESETS.values()
        ]
        print(
            tabulate(
                rows,
                headers=[
                    "preset",
                    "benchmark",
                    "subsets",
                    "methods",
                    "script seeds",
                    "description",
                ],
                tablefmt="github",
            )
        )
        if preset is None and not list_presets:
            raise ConfigError("grid: pass --preset NAME (presets listed above)")
        return
    p = get_preset(preset)
    subsets = None
    if subset is not None and subset.lower() != "all":
        subsets = [s.strip() for s in subset.split(",") if s.strip()]
    elif subset is not None:
        subsets = ["A", "B"]
    plan = plan_grid(
        p,
        benchmark=benchmark,
        subsets=subsets,
        seed_set=seed_set,
        seeds=parse_ints(seeds, "--seeds") if seeds else None,
        released_code=released_code,
        text_encoder=text_encoder,
        config=parse_kv(config or []),
        extra_methods=extra_method or [],
    )
    sim = " (a simulation)" if plan.benchmark == "synthetic" else ""
    err(
        f"grid {p.name}: {plan.benchmark}{sim} subsets {','.join(plan.subsets)}, seeds "
        f"{','.join(map(str, plan.seeds))} (seed set {plan.seed_set}), "
        f"{len(plan.runs)} method runs"
    )
    for m, cfg in plan.runs:
        err(f"  {m} {' '.join(f'{k}={v}' for k, v in cfg.items())}".rstrip())
    if dry_run:
        return

    from splitbench.catalog import load_benchmark
    from splitbench.cli.common import resolve_stores
    from splitbench.protocol.parallel import default_jobs

    def on_run(run: EvaluatedMethod) -> None:
        rep = run.report
        assert rep is not None
        done, skipped, failed = (rep.by_status(s) for s in ("done", "skipped", "failed"))
        err(f"{run.label}: {len(done)} computed, {len(skipped)} already done, {len(failed)} failed")

    bench = load_benchmark(plan.benchmark, annotations)
    plan.benchmark = bench.name  # a path or hf:// reference resolves to the benchmark's name
    for s in plan.subsets:
        bench.subset(s)
    stores = resolve_stores(bench.name, features, list(plan.subsets))
    outcome = run_grid(
        plan,
        bench,
        stores,
        output_dir,
        device=device,
        progress=not quiet,
        on_run=on_run,
        jobs=jobs if jobs is not None else default_jobs(),
    )
    ev = outcome.evaluation
    for line in ev.failure_lines():
        err(line)
    print(ev.leaderboard().to_markdown())
    err(f"grid manifest: {outcome.manifest}")
    if ev.failures:
        raise typer.Exit(1)
