"""Where a unit's outcome goes on disk: its result, its failure record, its per-video log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from splitbench.benchmarks.model import SplitTarget
from splitbench.protocol.context import SubsetContext
from splitbench.protocol.scoring import SubsetScorer
from splitbench.protocol.unit import Scored
from splitbench.results.io import atomic_write_text, failure_path, write_result
from splitbench.results.samples import SamplesMeta, build_samples, samples_path, write_samples
from splitbench.results.schema import UnitResult


@dataclass(frozen=True)
class UnitSink:
    """Writes unit outcomes of one method.

    Attributes:
        method: Method name, recorded in failure files.
        log_samples: Also write each unit's per-video predictions next to its result.
        log_top_k: Classes kept per video in the per-video log.
    """

    method: str
    log_samples: bool
    log_top_k: int

    def result(
        self,
        path: Path,
        result: UnitResult,
        scored: Scored,
        scorer: SubsetScorer,
        ctx: SubsetContext,
        target: SplitTarget,
    ) -> None:
        """Write the per-video log (or drop a stale one), then the result itself."""
        self._samples(path, scorer, ctx, target, scored)
        write_result(path, result)

    def failure(self, path: Path, msg: str, tb: str) -> None:
        """Record a failed unit next to where its result would be."""
        atomic_write_text(
            failure_path(path),
            json.dumps({"method": self.method, "error": msg, "traceback": tb}, indent=2),
        )

    def _samples(
        self,
        path: Path,
        scorer: SubsetScorer,
        ctx: SubsetContext,
        target: SplitTarget,
        scored: Scored,
    ) -> None:
        if not self.log_samples:
            samples_path(path).unlink(missing_ok=True)
            return
        c = target.coarse_index
        labels = (*ctx.subset.labels, *target.fine_labels)
        table = build_samples(
            equivalent_rows=target.equivalent.rows,
            equivalent_labels=target.equivalent.labels,
            unrelated_rows=target.unrelated.rows,
            unrelated_labels=target.unrelated.labels,
            videos=ctx.subset.val.videos,
            probs=scored.probabilities().numpy(),
            probs_original=scorer.probabilities(c).numpy(),
            pred=scored.preds.numpy(),
            pred_original=scored.original.numpy(),
            meta=SamplesMeta(c, target.k, ctx.num_classes, labels, self.log_top_k),
        )
        write_samples(samples_path(path), table)
