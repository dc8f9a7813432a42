"""The session track behind ``splitbench run --track batch|sequential``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import typer

from splitbench.benchmarks.model import Benchmark
from splitbench.cli.common import err
from splitbench.errors import ConfigError
from splitbench.features.store import FeatureStore
from splitbench.protocol.api import Method

TRACK_CHOICES = ("single", "batch", "sequential")


def check_track(track: str) -> None:
    """Refuse an unknown ``--track`` in one line."""
    if track not in TRACK_CHOICES:
        raise ConfigError(f"--track {track!r}: expected one of {', '.join(TRACK_CHOICES)}")


def run_sessions(
    instance: Method,
    origin: str,
    bench: Benchmark,
    stores: Mapping[str, FeatureStore],
    subsets: Sequence[str],
    *,
    track: str,
    sizes: str,
    orders: int,
    seeds: Sequence[int],
    output_dir: Path,
    device: str,
    overwrite: str,
    unit_timeout: float | None = None,
) -> None:
    """Run the method's sessions, print the session table and write its plot."""
    from splitbench.protocol.session import parse_sizes
    from splitbench.protocol.session_runner import SessionRunner
    from splitbench.results.sessions import (
        aggregate_sessions,
        load_sessions,
        plot_sessions,
        render_sessions,
    )

    n_min = min(len(bench.subset(s).targets) for s in subsets)
    size_list = parse_sizes(sizes, n_min)
    runner = SessionRunner(
        instance,
        bench,
        stores,
        output_dir,
        track,  # type: ignore[arg-type]
        method_origin=origin,
        device=device,
        overwrite=overwrite,  # type: ignore[arg-type]
        unit_timeout=unit_timeout,
    )
    report = runner.run(subsets, size_list, orders, seeds)
    done, skipped, failed = (report.by_status(s) for s in ("done", "skipped", "failed"))
    err(
        f"{instance.name} ({track} sessions, m = {', '.join(map(str, size_list))}, {orders} "
        f"orders): {len(done)} sessions computed, {len(skipped)} already done, {len(failed)} "
        f"failed in {report.wall_s:.1f} s"
    )
    for o in failed:
        err(
            f"  failed: subset {o.subset} m={o.size} order {o.order} seed {o.seed}: {o.error} "
            f"(details: {o.path.with_name(o.path.stem + '.failed.json')})"
        )
    results = [
        r
        for r in load_sessions(output_dir)
        if r.session.benchmark == bench.name
        and r.session.subset in subsets
        and r.session.method == instance.name
        and r.session.config_hash == instance.config_hash()
        and r.session.track == track
    ]
    cells = aggregate_sessions(results)
    print(render_sessions(cells))
    for path in plot_sessions(cells, output_dir / bench.name):
        err(f"plot: {path}")
    if failed:
        raise typer.Exit(1)
