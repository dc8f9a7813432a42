"""What the simulation reports about itself: the oracle bound and the base model's accuracy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from tabulate import tabulate

from splitbench.benchmarks.synthetic import SyntheticConfig, build_world, synthetic_benchmark
from splitbench.features.sim_geometry import layer_norm
from splitbench.features.simulate import synthetic_stores
from splitbench.features.store import FeatureStore


def synthetic_oracle(config: SyntheticConfig | None = None) -> dict[str, float]:
    """An upper bound on generality for the synthetic benchmark, from its ground truth.

    For each target, every equivalent video is assigned to the nearest true class mean
    (after the features' LayerNorm) among the target's k subcategories, using its
    view-averaged features. Before the LayerNorm the noise is isotropic Gaussian and this is
    the Bayes-optimal choice among the k subcategories; the norm removes only a vector's
    mean and scale, which carry almost no class information in D dimensions, so no method
    (head edit or not) can expect materially higher generality. Returns the mean over
    targets per subset.
    """
    config = config or SyntheticConfig()
    world = build_world(config)
    bench = synthetic_benchmark(config)
    stores = synthetic_stores(config)
    out: dict[str, float] = {}
    normed = layer_norm(world.means.astype(np.float32), config.ln_gain)
    for name, subset in bench.subsets.items():
        feats = stores[name].split("val").features.astype(np.float32).mean(1)
        accs = []
        for t in subset.targets:
            members = [fc.index for fc in world.classes if fc.label in t.fine_labels]
            x = feats[t.equivalent.rows]
            dist = ((x[:, None, :] - normed[members][None]) ** 2).sum(-1)
            pred = dist.argmin(1) + t.fine_indices[0]
            accs.append(float((pred == t.equivalent.labels).mean()))
        out[name] = float(np.mean(accs))
    return out


def render_base_model(stores: Mapping[str, FeatureStore], per_target: bool = True) -> str:
    """Markdown: each simulated store's base-model accuracy (as recorded in ``store.json``)."""
    out: list[str] = []
    for name, store in stores.items():
        fig: dict[str, Any] | None = store.meta.extra.get("base_model")
        if not fig:
            out.append(f"Subset {name}: the store records no base-model figures.")
            continue
        cal = fig.get("calibration", {})
        target = cal.get("target")
        how = (
            f"video noise {cal.get('video_noise')} calibrated so that a simulated 174-class "
            f"SSv2 model reaches {100 * target:.1f} % ({cal.get('source')})"
            if target is not None
            else f"video noise {cal.get('video_noise')} set directly (not calibrated)"
        )
        out.append(
            f"Base model of subset {name} (simulation; {how}): top-1 "
            f"{_pct(fig.get('view_top1'))} per view, {_pct(fig.get('video_top1'))} per video; "
            f"on the unrelated sets (mean over targets) {_pct(fig.get('unrelated_accuracy_mean'))} "
            f"unmasked, {_pct(fig.get('unrelated_accuracy_masked_mean'))} with the coarse class "
            f"masked; coarse recall on the equivalent sets {_pct(fig.get('coarse_recall_mean'))}."
        )
        if per_target:
            rows = [
                [
                    v.get("coarse_index"),
                    key,
                    _pct(v.get("coarse_recall")),
                    _pct(v.get("unrelated_accuracy_masked")),
                ]
                for key, v in fig.get("per_target", {}).items()
            ]
            out.append(
                tabulate(
                    rows,
                    headers=["coarse", "target", "coarse recall", "unrelated acc. (c masked)"],
                    tablefmt="github",
                )
            )
    return "\n\n".join(out)


def _pct(x: object) -> str:
    return f"{100 * float(x):.1f} %" if isinstance(x, (int, float)) else "n/a"
