"""The runner: units are method × subset × target × seed, one result file each.

A unit whose result file exists with the same identity (protocol, feature store, benchmark
revision, config hash) is skipped, so an interrupted run resumes where it stopped. A method
that raises fails only its unit: the failure is recorded next to where the result would be,
the run continues, and the next run retries it.
"""

from __future__ import annotations

import json
import logging
import random
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from splitbench.benchmarks.model import Benchmark, SplitTarget, Subset
from splitbench.errors import ConfigError, DataError, MethodError
from splitbench.features.store import FeatureStore
from splitbench.models.text import TextEncoder, get_text_encoder
from splitbench.protocol.api import Method, NewRows, VideoProbabilities
from splitbench.protocol.context import SplitTask, SubsetContext
from splitbench.protocol.determinism import use_deterministic_algorithms
from splitbench.protocol.parallel import effective_jobs
from splitbench.protocol.scoring import PROTOCOL_ID, SubsetScorer, count, mask_coarse
from splitbench.protocol.shared import shared_state
from splitbench.results.io import atomic_write_text, failure_path, unit_path, write_result
from splitbench.results.provenance import environment
from splitbench.results.samples import (
    DEFAULT_TOP_K,
    SamplesMeta,
    build_samples,
    samples_path,
    write_samples,
)
from splitbench.results.schema import (
    FeatureProvenance,
    MetricMeta,
    Timings,
    UnitCounts,
    UnitIdentity,
    UnitMetrics,
    UnitResult,
)

log = logging.getLogger(__name__)
OverwriteStrategy = Literal["only-missing", "always"]
Status = Literal["done", "skipped", "failed"]

METRIC_META = {
    "generality": MetricMeta(
        protocol=PROTOCOL_ID,
        scorer="accuracy_equivalent_fine_labels",
        comparable_group="generality/masked-view-mean",
    ),
    "locality": MetricMeta(
        protocol=PROTOCOL_ID,
        scorer="accuracy_ratio_unrelated_ground_truth_coarse_masked",
        comparable_group="locality/gt-accuracy-ratio",
    ),
    "mean": MetricMeta(
        protocol=PROTOCOL_ID,
        scorer="arithmetic_mean_generality_locality",
        comparable_group="mean/(g+l)/2",
    ),
}


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (called before every prepare and edit)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


@dataclass
class UnitOutcome:
    """What happened to one unit.

    Attributes:
        subset: Subset name.
        target: The target.
        seed: Seed.
        status: ``done`` (computed now), ``skipped`` (already on disk) or ``failed``.
        path: Result file path.
        result: The result, when done.
        error: One-line error, when failed.
    """

    subset: str
    target: SplitTarget
    seed: int
    status: Status
    path: Path
    result: UnitResult | None = None
    error: str | None = None


@dataclass
class RunReport:
    """Summary of one :meth:`Runner.run` call."""

    outcomes: list[UnitOutcome] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    backbone_passes: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    jobs: int = 1

    def by_status(self, status: Status) -> list[UnitOutcome]:
        """Outcomes with the given status."""
        return [o for o in self.outcomes if o.status == status]


class Runner:
    """Run one method over subsets, targets and seeds.

    Args:
        method: The configured method instance.
        benchmark: The benchmark.
        stores: Subset name → feature store.
        output_dir: Root of the result files.
        method_origin: Where the method class comes from (distribution or file).
        device: Torch device for methods that train.
        overwrite: ``only-missing`` (resume) or ``always`` (recompute everything).
        progress: Show a progress bar over units.
        text_encoder_factory: Builds text encoders (tests inject cheaper ones).
        on_unit: Called after each unit (the CLI prints a line per finished unit).
        log_samples: Also write each unit's per-video predictions next to its result
            (:mod:`splitbench.results.samples`); a finished unit without them is rerun.
        log_top_k: Classes kept per video in the per-video log.
        jobs: Worker processes per subset (:mod:`splitbench.protocol.parallel`); 1 runs
            serially. Every unit's numbers are the same for any value.
    """

    def __init__(
        self,
        method: Method,
        benchmark: Benchmark,
        stores: Mapping[str, FeatureStore],
        output_dir: Path,
        *,
        method_origin: str = "",
        device: str = "cpu",
        overwrite: OverwriteStrategy = "only-missing",
        progress: bool = True,
        text_encoder_factory: Callable[[str], TextEncoder] = get_text_encoder,
        on_unit: Callable[[UnitOutcome], None] | None = None,
        log_samples: bool = False,
        log_top_k: int = DEFAULT_TOP_K,
        jobs: int = 1,
    ) -> None:
        self.method = method
        self.benchmark = benchmark
        self.stores = stores
        self.output_dir = Path(output_dir)
        self.method_origin = method_origin
        self.device = device
        self.overwrite = overwrite
        self.progress = progress
        self.text_encoder_factory = text_encoder_factory
        self.on_unit = on_unit
        self.log_samples = log_samples
        self.log_top_k = log_top_k
        self.jobs = jobs

    # -- planning -----------------------------------------------------------------------
    def effective_seeds(self, seeds: Sequence[int]) -> list[int]:
        """Deterministic methods run once, with the first seed (as the paper does)."""
        seeds = list(dict.fromkeys(seeds))
        if not seeds:
            raise ConfigError("no seeds given")
        return seeds[:1] if self.method.deterministic else seeds

    def select_targets(self, subset: Subset, targets: Sequence[str] | None) -> list[SplitTarget]:
        """Targets of ``subset`` matching ``targets`` (coarse index, key or name); all if None."""
        if not targets:
            return list(subset.targets)
        chosen = []
        for t in subset.targets:
            if any(k in (str(t.coarse_index), t.key, t.name) for k in targets):
                chosen.append(t)
        return chosen

    def path_for(self, subset: str, target: SplitTarget, seed: int) -> Path:
        """Result path of a unit."""
        return unit_path(
            self.output_dir,
            self.benchmark.name,
            subset,
            self.method.name,
            self.method.config_hash(),
            target.key,
            seed,
        )

    def _is_done(self, path: Path, store: FeatureStore) -> bool:
        if self.overwrite == "always" or not path.is_file():
            return False
        try:
            raw = json.loads(path.read_text())
            same = (
                raw["protocol"] == PROTOCOL_ID
                and raw["features"]["store_key"] == store.meta.key
                and raw["unit"]["benchmark_revision"] == self.benchmark.revision
                and raw["unit"]["config_hash"] == self.method.config_hash()
            )
        except (OSError, ValueError, KeyError, TypeError):
            return False  # unreadable partial file from an older crash: recompute
        if not same:
            raise DataError(
                f"{path} was produced with another protocol, feature store or annotation "
                f"revision; use another --output-dir, or --overwrite-strategy always to replace it"
            )
        return not self.log_samples or samples_path(path).is_file()

    # -- running ------------------------------------------------------------------------
    def run(
        self,
        subsets: Sequence[str],
        seeds: Sequence[int],
        targets: Sequence[str] | None = None,
    ) -> RunReport:
        """Run all pending units; return what happened to each.

        Raises:
            ConfigError: for seeds or targets that select nothing.
            DataError: when a store does not fit its subset.
        """
        from tqdm.auto import tqdm

        start = time.perf_counter()
        seeds = self.effective_seeds(seeds)
        report = RunReport(seeds=seeds)
        plan: list[tuple[Subset, list[SplitTarget]]] = []
        for name in subsets:
            subset = self.benchmark.subset(name)
            chosen = self.select_targets(subset, targets)
            plan.append((subset, chosen))
        if targets and not any(chosen for _, chosen in plan):
            raise ConfigError(
                f"--targets {','.join(targets)} matches no split target of "
                f"{self.benchmark.name} subsets {', '.join(subsets)}"
            )
        use_deterministic_algorithms(True, warn_only=True)
        env = environment(self.device, deterministic=True)
        total = sum(len(ts) for _, ts in plan) * len(seeds)
        from splitbench.protocol.forked_units import run_units_forked

        bar = tqdm(total=total, desc=f"{self.method.name}", unit="unit", disable=not self.progress)
        try:
            for subset, chosen in plan:
                store = self._store_for(subset)
                report.backbone_passes[subset.name] = store.meta.backbone_passes
                pending = {
                    seed: [
                        t
                        for t in chosen
                        if not self._is_done(self.path_for(subset.name, t, seed), store)
                    ]
                    for seed in seeds
                }
                for seed in seeds:
                    for t in chosen:
                        if t not in pending[seed]:
                            o = UnitOutcome(
                                subset.name, t, seed, "skipped", self.path_for(subset.name, t, seed)
                            )
                            report.outcomes.append(o)
                            bar.update(1)
                if not any(pending.values()):
                    continue
                ctx, scorer = self._context(subset, store)
                units = [(seed, t) for seed in seeds for t in pending[seed]]
                # forked workers and an initialised GPU do not mix: accelerators run serially
                jobs = effective_jobs(self.jobs, len(units)) if self.device == "cpu" else 1
                report.jobs = max(report.jobs, jobs)
                if jobs > 1:
                    run_units_forked(self, ctx, scorer, subset, units, jobs, env, report, bar)
                else:
                    for seed in seeds:
                        if pending[seed]:
                            self._run_seed(
                                ctx, scorer, store, subset, seed, pending[seed], env, report, bar
                            )
                del ctx, scorer  # free this subset's state before the next one is built
        finally:
            bar.close()
        report.wall_s = time.perf_counter() - start
        return report

    def _store_for(self, subset: Subset) -> FeatureStore:
        if subset.name not in self.stores:
            raise DataError(f"no feature store for {self.benchmark.name} subset {subset.name}")
        store = self.stores[subset.name]
        meta = store.meta
        if meta.benchmark != self.benchmark.name or meta.subset != subset.name:
            raise DataError(
                f"{store.path}: store is for {meta.benchmark} subset {meta.subset}, not "
                f"{self.benchmark.name} subset {subset.name}"
            )
        skipped = store.skipped("val")
        if skipped:
            raise DataError(
                f"{store.path}: extraction skipped {len(skipped)} val videos of "
                f"{self.benchmark.name}/{subset.name} ({', '.join(list(skipped)[:3])}"
                f"{', ...' if len(skipped) > 3 else ''}: missing or corrupt, see store.json); "
                f"generality and locality are defined over the whole val set, so this store is "
                f"not scored — restore those videos and rerun 'splitbench extract' with "
                f"--retry-skipped"
            )
        if list(meta.labels) != list(subset.labels):
            raise DataError(
                f"{store.path}: the store's head has {len(meta.labels)} labels but "
                f"{self.benchmark.name}/{subset.name} labels.json has {len(subset.labels)}"
                + ("" if len(meta.labels) != len(subset.labels) else " (different texts)")
            )
        return store

    def _context(self, subset: Subset, store: FeatureStore) -> tuple[SubsetContext, SubsetScorer]:
        state = shared_state(subset, store)  # built once per process, shared by methods
        ctx = SubsetContext(
            benchmark=self.benchmark,
            subset=subset,
            store=store,
            weight=state.weight,
            bias=state.bias,
            device=torch.device(self.device),
            text_encoder_factory=self.text_encoder_factory,
            _val=state.features,
        )
        return ctx, state.scorer

    def _run_seed(
        self,
        ctx: SubsetContext,
        scorer: SubsetScorer,
        store: FeatureStore,
        subset: Subset,
        seed: int,
        targets: list[SplitTarget],
        env: object,
        report: RunReport,
        bar: object,
    ) -> None:
        t0 = time.perf_counter()
        seed_everything(seed)
        prepare_error: str | None = None
        try:
            self.method.prepare(ctx, seed)
        except Exception as exc:  # a plugin's bug fails its units, not the run
            prepare_error = f"prepare failed: {type(exc).__name__}: {exc}"
            self._record_failure(
                subset, targets, seed, prepare_error, traceback.format_exc(), report, bar
            )
            return
        prepare_s = time.perf_counter() - t0
        for target in targets:
            path = self.path_for(subset.name, target, seed)
            try:
                seed_everything(seed)
                t1 = time.perf_counter()
                out = self.method.edit(SplitTask(target, subset), ctx, seed)
                t2 = time.perf_counter()
                probs, info = self._probabilities(out, scorer, ctx, target)
                preds = probs.argmax(1)
                original = scorer.original_predictions(target.coarse_index)
                counts = count(
                    preds,
                    original,
                    target.equivalent.rows,
                    target.equivalent.labels,
                    target.unrelated.rows,
                    target.unrelated.labels,
                )
                t3 = time.perf_counter()
                result = self._result(
                    subset,
                    target,
                    seed,
                    store,
                    ctx,
                    counts,
                    info,
                    env,
                    Timings(prepare_s=prepare_s, edit_s=t2 - t1, score_s=t3 - t2),
                )
                self._write_samples(path, scorer, ctx, target, probs, preds, original)
                write_result(path, result)
                outcome = UnitOutcome(subset.name, target, seed, "done", path, result=result)
            except Exception as exc:
                msg = f"{type(exc).__name__}: {exc}"
                self._write_failure(path, msg, traceback.format_exc())
                outcome = UnitOutcome(subset.name, target, seed, "failed", path, error=msg)
            report.outcomes.append(outcome)
            bar.update(1)  # type: ignore[attr-defined]
            if self.on_unit is not None:
                self.on_unit(outcome)

    def _record_failure(
        self,
        subset: Subset,
        targets: list[SplitTarget],
        seed: int,
        msg: str,
        tb: str,
        report: RunReport,
        bar: object,
    ) -> None:
        for target in targets:
            path = self.path_for(subset.name, target, seed)
            self._write_failure(path, msg, tb)
            outcome = UnitOutcome(subset.name, target, seed, "failed", path, error=msg)
            report.outcomes.append(outcome)
            bar.update(1)  # type: ignore[attr-defined]
            if self.on_unit is not None:
                self.on_unit(outcome)

    def _write_failure(self, path: Path, msg: str, tb: str) -> None:
        atomic_write_text(
            failure_path(path),
            json.dumps({"method": self.method.name, "error": msg, "traceback": tb}, indent=2),
        )

    def _write_samples(
        self,
        path: Path,
        scorer: SubsetScorer,
        ctx: SubsetContext,
        target: SplitTarget,
        probs: torch.Tensor,
        preds: torch.Tensor,
        original: torch.Tensor,
    ) -> None:
        """Write the unit's per-video log, or remove a stale one the new result replaces."""
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
            probs=probs.numpy(),
            probs_original=scorer.probabilities(c).numpy(),
            pred=preds.numpy(),
            pred_original=original.numpy(),
            meta=SamplesMeta(c, target.k, ctx.num_classes, labels, self.log_top_k),
        )
        write_samples(samples_path(path), table)

    def _probabilities(
        self, out: object, scorer: SubsetScorer, ctx: SubsetContext, target: SplitTarget
    ) -> tuple[torch.Tensor, dict[str, object]]:
        """Probabilities over Y' (coarse column zero) that the prediction is the argmax of."""
        k, d, c = target.k, ctx.dim, ctx.num_classes
        if isinstance(out, NewRows):
            w, b = out.weight.detach().float().cpu(), out.bias.detach().float().cpu()
            if tuple(w.shape) != (k, d) or tuple(b.shape) != (k,):
                raise MethodError(
                    f"{self.method.name} returned rows of shape {tuple(w.shape)} and bias "
                    f"{tuple(b.shape)}; target {target.coarse_index} needs ({k}, {d}) and ({k},)"
                )
            if not (torch.isfinite(w).all() and torch.isfinite(b).all()):
                raise MethodError(f"{self.method.name} returned non-finite head rows")
            return scorer.probabilities(target.coarse_index, scorer.new_logits(w, b)), dict(
                out.info
            )
        if isinstance(out, VideoProbabilities):
            p = out.probs.detach().float().cpu()
            n = len(ctx.subset.val)
            if tuple(p.shape) != (n, c + k):
                raise MethodError(
                    f"{self.method.name} returned probabilities of shape {tuple(p.shape)}; "
                    f"expected ({n}, {c + k}) (val videos × |Y| + k)"
                )
            if not torch.isfinite(p).all() or (p < 0).any():
                raise MethodError(
                    f"{self.method.name} returned negative or non-finite probabilities"
                )
            return mask_coarse(p, target.coarse_index), dict(out.info)
        raise MethodError(
            f"{self.method.name}.edit returned {type(out).__name__}; expected NewRows or "
            f"VideoProbabilities"
        )

    def _result(
        self,
        subset: Subset,
        target: SplitTarget,
        seed: int,
        store: FeatureStore,
        ctx: SubsetContext,
        counts: object,
        info: dict[str, object],
        env: object,
        timings: Timings,
    ) -> UnitResult:
        from splitbench.protocol.scoring import Counts

        assert isinstance(counts, Counts)
        meta = self.method.meta
        return UnitResult(
            protocol=PROTOCOL_ID,
            unit=UnitIdentity(
                method=meta.name,
                method_version=meta.version,
                method_origin=self.method_origin,
                shots=self.method.shots,
                config=self.method.config_dict(),
                config_hash=self.method.config_hash(),
                benchmark=self.benchmark.name,
                benchmark_version=self.benchmark.version,
                benchmark_revision=self.benchmark.revision,
                simulation=self.benchmark.simulation or store.meta.simulation,
                subset=subset.name,
                subset_targets=len(subset.targets),
                target=target.name,
                target_index=target.coarse_index,
                target_key=target.key,
                k=target.k,
                seed=seed,
            ),
            features=FeatureProvenance(
                store_key=store.meta.key,
                model=store.meta.model,
                view_protocol=store.meta.view_protocol,
                backbone_passes=store.meta.backbone_passes,
                simulation=store.meta.simulation,
            ),
            counts=UnitCounts(**counts.__dict__),
            metrics=UnitMetrics(
                generality=counts.generality, locality=counts.locality, mean=counts.mean
            ),
            metric_meta=METRIC_META,
            resources=dict(ctx.resources),
            method_info=_jsonable(info),
            environment=env,  # type: ignore[arg-type]
            timings=timings,
        )


def _jsonable(obj: object) -> dict[str, object]:
    out: dict[str, object] = json.loads(
        json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
    )
    return out
