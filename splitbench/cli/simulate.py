"""``splitbench simulate``: SIMULATED feature stores with an official benchmark's taxonomy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from splitbench.cli import options as opt
from splitbench.cli.common import err, parse_subsets


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
