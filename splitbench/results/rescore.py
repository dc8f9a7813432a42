"""Recompute every metric of a results folder from its per-video logs, without rerunning.

For each unit result that has a ``seed<S>.samples.parquet`` next to it, the raw counts are
recounted from the logged predictions and the metrics recomputed with the scorer's own
formulas (:class:`splitbench.core.counts.Counts`). The rescored results can be
aggregated like the originals, and every difference from the stored numbers is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from splitbench.errors import DataError
from splitbench.results.aggregate import changed_fraction
from splitbench.results.io import read_results_folder
from splitbench.results.samples import counts_from_samples, read_samples, samples_path
from splitbench.results.schema import UnitMetrics, UnitResult


@dataclass
class RescoreReport:
    """What :func:`rescore` found.

    Attributes:
        results: The rescored unit results (stored identity, recounted counts and metrics).
        checked: Paths of the results that had logs.
        without_samples: Paths of results with no per-video log (not rescored).
        mismatches: One line per number that differs from the stored result.
    """

    results: list[UnitResult] = field(default_factory=list)
    checked: list[Path] = field(default_factory=list)
    without_samples: list[Path] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)


def rescore_unit(result: UnitResult, samples: Path) -> tuple[UnitResult, list[str]]:
    """Recount one unit from its log; return the rescored result and its differences.

    Raises:
        DataError: when the log is unreadable or belongs to another target.
    """
    df, meta = read_samples(samples)
    if meta.coarse_index != result.unit.target_index or meta.k != result.unit.k:
        raise DataError(
            f"{samples}: log is for coarse class {meta.coarse_index} with k={meta.k}, the "
            f"result for {result.unit.target_index} with k={result.unit.k}"
        )
    counts = counts_from_samples(df)
    metrics = UnitMetrics(generality=counts.generality, locality=counts.locality, mean=counts.mean)
    rescored = result.model_copy(update={"counts": counts, "metrics": metrics})
    diffs = []
    for name, stored, new in (
        *((f"counts.{k}", v, getattr(counts, k)) for k, v in result.counts.model_dump().items()),
        *((f"metrics.{k}", v, getattr(metrics, k)) for k, v in result.metrics.model_dump().items()),
        ("changed", changed_fraction(result), changed_fraction(rescored)),
    ):
        if stored != new:
            diffs.append(f"{samples}: {name} stored {stored!r}, from the log {new!r}")
    return rescored, diffs


def rescore(root: Path) -> RescoreReport:
    """Rescore every unit under ``root`` that has a per-video log.

    Raises:
        DataError: if ``root`` does not exist, or a result or log is malformed.
    """
    report = RescoreReport()
    for path, result in zip(*read_results_folder(root), strict=True):
        sp = samples_path(path)
        if not sp.is_file():
            report.without_samples.append(path)
            continue
        rescored, diffs = rescore_unit(result, sp)
        report.results.append(rescored)
        report.checked.append(path)
        report.mismatches.extend(diffs)
    return report
