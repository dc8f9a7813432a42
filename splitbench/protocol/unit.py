"""Executing one unit: check the method's output, score it, build the result.

The scoring is the same for every method (:mod:`splitbench.protocol.scoring`): whatever
``edit`` returns is turned into probabilities over Y', the coarse column masked, and counted.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from splitbench.benchmarks.model import Benchmark, SplitTarget, Subset
from splitbench.core.counts import Counts
from splitbench.core.jsonable import to_jsonable
from splitbench.errors import MethodError
from splitbench.features.store import FeatureStore
from splitbench.protocol.api import Method, NewRows, VideoProbabilities
from splitbench.protocol.context import SubsetContext
from splitbench.protocol.scoring import PROTOCOL_ID, SubsetScorer, count, mask_coarse
from splitbench.results.schema import (
    Environment,
    FeatureProvenance,
    MetricMeta,
    RunIdentity,
    Timings,
    UnitIdentity,
    UnitMetrics,
    UnitResult,
)

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
    if torch.cuda.is_available() or torch.backends.mps.is_available() or torch.xpu.is_available():
        torch.manual_seed(seed)  # also seeds (or queues the seeding of) the accelerators'
    else:
        # the same CPU generator state; torch.manual_seed would also queue lazy seeding for
        # accelerators this machine does not have, at 0.3 ms a call (≈ 1,500 calls a protocol)
        torch.default_generator.manual_seed(seed)


@dataclass(frozen=True)
class Scored:
    """A scored edit: predictions, the original's, the counts, and how to get probabilities.

    The probabilities over Y' are formed only when asked for (the per-video sample log):
    the predictions of head rows come from the scorer's shortcut, which is the same
    argmax without the full ``(N, C + k)`` table.
    """

    preds: torch.Tensor
    original: torch.Tensor
    counts: Counts
    info: dict[str, object]
    probabilities: Callable[[], torch.Tensor]


def predictions(
    method: Method, out: object, scorer: SubsetScorer, ctx: SubsetContext, target: SplitTarget
) -> tuple[torch.Tensor, Callable[[], torch.Tensor], dict[str, object]]:
    """Predictions over Y', a function giving the probabilities they are the argmax of, info.

    Raises:
        MethodError: for output of the wrong type, shape or with non-finite values.
    """
    k, d, c = target.k, ctx.dim, ctx.num_classes
    coarse = target.coarse_index
    if isinstance(out, NewRows):
        w, b = out.weight.detach().float().cpu(), out.bias.detach().float().cpu()
        if tuple(w.shape) != (k, d) or tuple(b.shape) != (k,):
            raise MethodError(
                f"{method.name} returned rows of shape {tuple(w.shape)} and bias "
                f"{tuple(b.shape)}; target {coarse} needs ({k}, {d}) and ({k},)"
            )
        if not (torch.isfinite(w).all() and torch.isfinite(b).all()):
            raise MethodError(f"{method.name} returned non-finite head rows")
        new = scorer.new_logits(w, b, coarse)
        return (
            scorer.predictions(coarse, new),
            lambda: scorer.probabilities(coarse, new),
            dict(out.info),
        )
    if isinstance(out, VideoProbabilities):
        p = out.probs.detach().float().cpu()
        n = len(ctx.subset.val)
        if tuple(p.shape) != (n, c + k):
            raise MethodError(
                f"{method.name} returned probabilities of shape {tuple(p.shape)}; "
                f"expected ({n}, {c + k}) (val videos × |Y| + k)"
            )
        if not torch.isfinite(p).all() or (p < 0).any():
            raise MethodError(f"{method.name} returned negative or non-finite probabilities")
        masked = mask_coarse(p, coarse)
        return masked.argmax(1), lambda: masked, dict(out.info)
    raise MethodError(
        f"{method.name}.edit returned {type(out).__name__}; expected NewRows or VideoProbabilities"
    )


def score(
    method: Method, out: object, scorer: SubsetScorer, ctx: SubsetContext, target: SplitTarget
) -> Scored:
    """Score one edit output against the target's video sets."""
    preds, probs, info = predictions(method, out, scorer, ctx, target)
    original = scorer.original_predictions(target.coarse_index)
    counts = count(
        preds,
        original,
        target.equivalent.rows,
        target.equivalent.labels,
        target.unrelated.rows,
        target.unrelated.labels,
    )
    return Scored(preds, original, counts, info, probs)


def run_identity(
    method: Method, method_origin: str, benchmark: Benchmark, subset: Subset, store: FeatureStore
) -> RunIdentity:
    """The method and benchmark-subset part of a result's identity (units and sessions)."""
    meta = method.meta
    return RunIdentity(
        method=meta.name,
        method_version=meta.version,
        method_origin=method_origin,
        shots=method.shots,
        config=method.config_dict(),
        config_hash=method.config_hash(),
        benchmark=benchmark.name,
        benchmark_version=benchmark.version,
        benchmark_revision=benchmark.revision,
        simulation=benchmark.simulation or store.meta.simulation,
        subset=subset.name,
        subset_targets=len(subset.targets),
    )


def provenance(store: FeatureStore) -> FeatureProvenance:
    """Which feature store a result was scored on."""
    shared = store.meta.model_dump(
        include={"model", "view_protocol", "backbone_passes", "simulation"}
    )
    return FeatureProvenance(store_key=store.meta.key, **shared)


def build_result(
    *,
    method: Method,
    method_origin: str,
    benchmark: Benchmark,
    ctx: SubsetContext,
    store: FeatureStore,
    target: SplitTarget,
    seed: int,
    scored: Scored,
    env: Environment,
    timings: Timings,
) -> UnitResult:
    """The unit result: identity, provenance, counts, metrics and timings."""
    counts = scored.counts
    return UnitResult(
        protocol=PROTOCOL_ID,
        unit=UnitIdentity(
            **run_identity(method, method_origin, benchmark, ctx.subset, store).model_dump(),
            target=target.name,
            target_index=target.coarse_index,
            target_key=target.key,
            k=target.k,
            seed=seed,
        ),
        features=provenance(store),
        counts=counts,
        metrics=UnitMetrics(
            generality=counts.generality, locality=counts.locality, mean=counts.mean
        ),
        metric_meta=METRIC_META,
        resources=dict(ctx.resources),
        method_info=to_jsonable(scored.info),
        environment=env,
        timings=timings,
    )
