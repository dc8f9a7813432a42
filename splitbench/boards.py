"""Building the committed leaderboards: run what is missing, then render the board files.

:func:`build_board` runs every registered method (its default config plus the named
variants it declares, :meth:`splitbench.protocol.Method.leaderboard_configs`) on the
synthetic benchmark through the evaluation facade (:func:`splitbench.evaluate`), reusing
finished units, and renders the files with :func:`splitbench.results.board.render_board`.
:func:`write_changed` writes only the files whose content changed. ``splitbench leaderboard
build`` is a thin wrapper around the two.

This module runs methods, so it lives beside :mod:`splitbench.grids` rather than in
:mod:`splitbench.results`, which only reads and renders results.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from splitbench.errors import ConfigError, SplitbenchError
from splitbench.evaluation import evaluate
from splitbench.protocol import build_config
from splitbench.results.board import Board, BoardEntry, render_board
from splitbench.results.bootstrap import DEFAULT_LEVEL, video_ci
from splitbench.results.io import atomic_write_text

if TYPE_CHECKING:
    import pandas as pd

    from splitbench.benchmarks.model import Benchmark
    from splitbench.evaluation.facade import EvaluatedMethod
    from splitbench.protocol.api import Method
    from splitbench.registry import Registry
    from splitbench.results.aggregate import Cell


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


@dataclass
class BuiltBoard:
    """What :func:`build_board` produced.

    Attributes:
        board: The rendered files and README region.
        benchmark: The benchmark.
        entries: The method configurations on the board.
        cells: Their aggregated cells.
        units: Their unit results (:func:`splitbench.results.load` frame).
        ci: Bootstrap intervals over videos.
    """

    board: Board
    benchmark: Benchmark
    entries: list[BoardEntry]
    cells: list[Cell]
    units: pd.DataFrame
    ci: pd.DataFrame


def build_board(
    registry: Registry[type[Method]],
    results: Path,
    seeds: list[int],
    *,
    replicates: int = 1000,
    quiet: bool = True,
    log: Callable[[str], None] = _stderr,
    jobs: int = 1,
) -> BuiltBoard:
    """Run what is missing for every method of ``registry`` and render the board.

    Args:
        registry: The methods to put on the board.
        results: Where the unit results go (finished units are reused).
        seeds: Seeds of the board (deterministic methods run the first only).
        replicates: Bootstrap resamples of the intervals over videos.
        quiet: No progress bars and no per-method timing lines.
        log: Where progress lines and failed units are reported (default stderr).
        jobs: Worker processes per subset (``--jobs``; the numbers are the same for any).

    Raises:
        ConfigError: for no seeds, a broken or ambiguous method, or failed units.
    """
    if not seeds:
        raise ConfigError("--seeds: give at least one seed")
    configured = _configured(registry)
    by_method = {id(method): entry for entry, method in configured}

    def on_run(run: EvaluatedMethod) -> None:
        report = run.report
        done = report.by_status("done") if report is not None else []
        if report is not None and done and not quiet:
            label = by_method[id(run.method)].label
            log(f"{label}: ran {len(done)} units in {report.wall_s:.1f} s")

    ev = evaluate(
        [method for _, method in configured],
        "synthetic",
        seeds=seeds,
        output_dir=results,
        registry=registry,
        progress=not quiet,
        log_samples=True,
        unmet="skip",
        on_run=on_run,
        jobs=jobs,
    )
    if ev.failures:
        for line in ev.failure_lines(limit=10):
            log(line)
        raise ConfigError(
            f"{len(ev.failures)} leaderboard units failed (details in the .failed.json files "
            f"under {results}); the leaderboard files were not written"
        )
    entries = [by_method[id(r.method)] for r in ev.runs]
    not_applicable = [
        f"{by_method[id(r.method)].method} (needs {'; '.join(sorted(r.unmet))})"
        for r in ev.not_applicable
        if by_method[id(r.method)].variant == "default"
    ]
    units = ev.units()
    labels = {(e.method, e.config_hash): e.label for e in entries}
    ci = video_ci(units, replicates=replicates, seed=0, labels=labels)
    board = render_board(
        name=ev.benchmark.name,
        benchmark=ev.benchmark,
        entries=entries,
        seeds=seeds,
        cells=ev.cells,
        units=units,
        ci=ci,
        bootstrap={"replicates": replicates, "level": DEFAULT_LEVEL, "seed": 0},
        not_applicable=not_applicable,
    )
    return BuiltBoard(board, ev.benchmark, entries, ev.cells, units, ci)


def plan_entries(registry: Registry[type[Method]]) -> list[BoardEntry]:
    """Every registered method's default config and declared variants.

    Raises:
        ConfigError: for a method that cannot be loaded or two variants of one config.
    """
    return [entry for entry, _ in _configured(registry)]


def _configured(registry: Registry[type[Method]]) -> list[tuple[BoardEntry, Method]]:
    """:func:`plan_entries` with the configured method of each entry (built once)."""
    out = []
    for name in sorted(registry.names()):
        try:
            cls = registry.get(name)
        except SplitbenchError as exc:
            raise ConfigError(
                f"method {name!r} cannot be loaded ({exc}); fix or uninstall it before building "
                "the leaderboard"
            ) from None
        variants = {
            "default": {},
            **{str(k): dict(v) for k, v in cls.leaderboard_configs().items()},
        }
        seen: dict[str, str] = {}
        for variant, overrides in variants.items():
            instance = cls(build_config(cls.config_class, overrides))
            h = instance.config_hash()
            if h in seen:
                raise ConfigError(
                    f"method {name}: variant {variant!r} resolves to the same config as "
                    f"{seen[h]!r} ({h})"
                )
            seen[h] = variant
            entry = BoardEntry(
                method=name,
                variant=variant,
                overrides=overrides,
                config_hash=h,
                config=instance.config_dict(),
                shots=cls.meta.shots,
                deterministic=cls.deterministic,
            )
            out.append((entry, instance))
    return out


def write_changed(targets: Mapping[Path, str]) -> list[Path]:
    """Write each file of ``targets`` (path → content) whose content differs; return those."""
    changed = []
    for path, text in targets.items():
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        atomic_write_text(path, text)
        changed.append(path)
    return changed
