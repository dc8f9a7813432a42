"""Calibrate the simulation's video noise on the real backbone's published accuracy.

The reference is a simulated **174-class SSv2** base model: every SSv2 label is a class
(official taxonomy and video lists, read from the annotation files), the features come
from the same generator as every simulated store, and the head is trained by the same
recipe. Two published statistics of the real model are matched: top-1 70.9 % sets the
video noise, top-5 92.8 % sets the modifier scale (how concentrated the errors are among
similar classes); both are video-level, 2 × 3 views, view-averaged softmax, on the 24,777
val videos. Then the top-1 curve over the video noise is measured. The record is written
to ``splitbench/benchmarks/data/simulation_calibration.json``, from which
:func:`~splitbench.benchmarks.calibration.noise_for_accuracy` reads.

Only these two statistics are calibrated on; no method's number enters. Every draw uses the
same seeds at every noise value (common random numbers), so the curve is smooth in the noise.

Run it with ``python scripts/calibrate_simulation.py --annotations PATH``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from splitbench.benchmarks.calibration import (
    CALIBRATION_FILE,
    REFERENCE_SOURCE,
    REFERENCE_TOP1,
    REFERENCE_TOP5,
)
from splitbench.benchmarks.model import Benchmark
from splitbench.benchmarks.synthetic import GENERATOR_VERSION, SyntheticConfig, class_mean
from splitbench.features.sim_geometry import (
    base_model_figures,
    eval_views,
    train_base_head,
    train_views_prenorm,
    view_noise,
)
from splitbench.features.sim_progress import SimProgress
from splitbench.features.sim_taxonomy import official_taxonomy
from splitbench.features.simulate import cap_per_label

CALIBRATION_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / CALIBRATION_FILE


def reference_top1(
    benchmark: Benchmark,
    noise: float,
    config: SyntheticConfig | None = None,
    *,
    progress: bool | None = None,
) -> dict[str, float]:
    """View- and video-level top-1 of the simulated 174-class SSv2 model at ``noise``.

    Args:
        benchmark: SSv2-Split (its subset A's tables give every video's fine label).
        noise: Video noise (per-dimension std, pre-norm).
        config: The other knobs (default: the defaults).
        progress: Progress bar (None: only on a terminal).
    """
    cfg = dataclasses.replace(config or SyntheticConfig(), video_noise=noise)
    subset = benchmark.subset("A")
    tax = official_taxonomy(benchmark, subset)
    if len(tax.keys) != 174:
        raise ValueError(f"expected SSv2's 174 fine classes, found {len(tax.keys)}")
    means = np.stack([class_mean(cfg, *k) for k in tax.keys]).astype(np.float32)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 5]))
    rows = cap_per_label(tax.train_class, cfg.head_train_per_class, rng)
    bar = SimProgress.for_simulation(
        f"reference 174-class model, noise {noise:.3f}",
        cfg,
        len(tax.val_class),
        len(rows),
        heads=1,
        enabled=progress,
    )
    vn = view_noise(cfg)
    pre = train_views_prenorm(means[tax.train_class[rows]], cfg.train_views, vn, rng)
    bar.features(len(rows))
    z = pre.reshape(-1, cfg.dim)
    y = np.repeat(tax.train_class[rows], cfg.train_views)
    w, b = train_base_head(z, y, len(tax.keys), cfg.head, cfg.ln_gain, cfg.seed, bar.advance)
    val = eval_views(
        means[tax.val_class], cfg.segments, cfg.crops, vn, cfg.ln_gain, rng, on_chunk=bar.features
    )
    bar.close()
    return base_model_figures(val, tax.val_class, w, b)


def _secant(f: Callable[[float], float], x0: float, x1: float, target: float, steps: int) -> float:
    """A few secant steps towards ``f(x) = target`` (f is smooth and monotone here)."""
    f0, f1 = f(x0), f(x1)
    for _ in range(steps):
        if f1 == f0:
            break
        x0, f0, x1 = x1, f1, x1 + (target - f1) * (x1 - x0) / (f1 - f0)
        f1 = f(x1)
    return x1


def calibrate(
    benchmark: Benchmark,
    top1: float = REFERENCE_TOP1,
    top5: float = REFERENCE_TOP5,
    *,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Calibrate ``modifier_scale`` on top-5 and ``video_noise`` on top-1, then the curve.

    For a given modifier scale (how far apart the subcategories of one group are, relative
    to the groups), the video noise reaching ``top1`` is found by secant steps; the modifier
    scale is then chosen by secant steps so that, at that noise, the top-5 is ``top5``
    (the share of errors that stay among a few similar classes). Finally the top-1 curve
    over video noise is measured at the chosen modifier scale, for ``base_accuracy``.

    Returns:
        The calibration record (as written by :func:`write_calibration`).
    """
    seen: dict[tuple[float, float], dict[str, float]] = {}

    def measure(ms: float, noise: float) -> dict[str, float]:
        key = (round(float(ms), 4), round(float(noise), 4))
        if key not in seen:
            cfg = SyntheticConfig(modifier_scale=key[0])
            seen[key] = reference_top1(benchmark, key[1], cfg, progress=progress)
        return seen[key]

    def noise_at(ms: float) -> float:
        guess = 2.28 + 3.78 * ms  # a first guess only; the secant steps decide
        return round(
            _secant(lambda n: measure(ms, n)["video_top1"], guess, guess + 0.3, top1, 3), 4
        )

    def top5_at(ms: float) -> float:
        return measure(ms, noise_at(ms))["video_top5"]

    ms = round(_secant(top5_at, 0.7, 0.9, top5, 2), 4)
    noise = noise_at(ms)
    for factor in (0.6, 0.8, 0.9, 1.1, 1.25, 1.5, 1.8):
        measure(ms, noise * factor)
    defaults = dataclasses.asdict(SyntheticConfig())
    for k in ("video_noise", "base_accuracy", "modifier_scale", "vlms"):
        defaults.pop(k)
    return {
        "reference": REFERENCE_SOURCE,
        "statistic": "video-level top-1 and top-5 (view-averaged softmax over segments x "
        "crops) of a simulated 174-class SSv2 base model on the 24,777 SSv2 val videos",
        "target": top1,
        "target_top5": top5,
        "modifier_scale": ms,
        "generator": GENERATOR_VERSION,
        "knobs": defaults,
        "annotations_revision": benchmark.revision,
        "command": "python scripts/calibrate_simulation.py --annotations PATH",
        "search": [{"modifier_scale": m, "video_noise": n, **p} for (m, n), p in seen.items()],
        "points": [{"video_noise": n, **p} for (m, n), p in sorted(seen.items()) if m == ms],
    }


def write_calibration(record: dict[str, Any], path: Path = CALIBRATION_PATH) -> Path:
    """Write the calibration record as indented JSON."""
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path
