"""Hand-made unit results (no method or scoring involved) for the result and hub tests."""

from __future__ import annotations

from typing import Any

from splitbench.results.schema import (
    Environment,
    FeatureProvenance,
    MetricMeta,
    Timings,
    UnitCounts,
    UnitIdentity,
    UnitMetrics,
    UnitResult,
)


def hand_made_result(
    counts: UnitCounts,
    *,
    protocol: str,
    identity: dict[str, Any],
    features: dict[str, Any],
    metric_meta: dict[str, MetricMeta],
    environment: dict[str, Any],
) -> UnitResult:
    """A unit result with ``counts`` and metrics computed from them.

    Args:
        counts: The raw counts.
        protocol: Protocol id.
        identity: The :class:`UnitIdentity` fields that vary (method, benchmark, subset,
            target, seed, ...); version ``1``, origin ``tests``, zero shots and a config hash
            made from the method name are filled in.
        features: The :class:`FeatureProvenance` fields but ``backbone_passes`` (0).
        metric_meta: The metrics' meta.
        environment: ``splitbench_version``, ``python``, ``platform`` and ``date``.
    """
    method = identity["method"]
    unit = UnitIdentity(
        method_version="1",
        method_origin="tests",
        shots=0,
        config_hash=f"{method[:4]}00000000",
        benchmark_version="1",
        **identity,
    )
    g, loc = counts.generality, counts.locality
    assert g is not None and loc is not None
    env = Environment(
        git_hash=None,
        git_dirty=None,
        libraries={},
        device="cpu",
        deterministic_algorithms=True,
        **environment,
    )
    return UnitResult(
        protocol=protocol,
        unit=unit,
        features=FeatureProvenance(backbone_passes=0, **features),
        counts=counts,
        metrics=UnitMetrics(generality=g, locality=loc, mean=(g + loc) / 2),
        metric_meta=metric_meta,
        environment=env,
        timings=Timings(prepare_s=0.0, edit_s=0.0, score_s=0.0),
    )
