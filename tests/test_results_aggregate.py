"""Aggregation without pandas gives the numbers the pandas groupby gave, bit for bit."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest
from test_core_results import make_result

from splitbench.results.aggregate import CELL_KEYS, METRICS, aggregate, group_mean, to_frame


def _pandas_cells(results):  # type: ignore[no-untyped-def]
    """The aggregation as it was written with pandas (the reference)."""
    df = to_frame(results)
    out = []
    for key, g in df.groupby(CELL_KEYS, sort=True, dropna=False):
        n_targets = int(g["subset_targets"].max())
        seeds = sorted(int(s) for s in g["seed"].unique())
        per_seed = {s: int(g.loc[g["seed"] == s, "target_index"].nunique()) for s in seeds}
        per_target = (
            g.groupby(["target_index", "target", "k"], sort=True)[list(METRICS)]
            .mean()
            .reset_index()
        )
        figures: dict[str, float | None] = {}
        complete = all(per_seed[s] == n_targets for s in seeds)
        if complete and not g[["generality", "locality", "mean"]].isna().any().any():
            seed_means = g.groupby("seed")[list(METRICS)].mean()
            for m in METRICS:
                vals = seed_means[m].to_numpy(dtype=float)
                figures[m] = float(vals.mean())
                figures[f"{m}_std"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
        out.append((dict(zip(CELL_KEYS, key, strict=True)), per_seed, per_target, figures))
    return out


@pytest.mark.parametrize("case", range(40))
def test_group_mean_is_pandas_grouped_mean(case: int) -> None:
    rng = np.random.default_rng(case)
    n = int(rng.integers(1, 60))
    scale = 10.0 ** rng.integers(-8, 9, size=n)
    values = rng.standard_normal(n) * scale
    values[rng.random(n) < 0.15] = np.nan
    if case % 7 == 0:
        values[int(rng.integers(n))] = np.inf
    groups = rng.integers(0, 4, size=n)
    expected = pd.DataFrame({"g": groups, "v": values}).groupby("g")["v"].mean()
    for g, want in expected.items():
        got = group_mean(values[groups == g].tolist())
        assert (math.isnan(got) and math.isnan(want)) or got == want


def test_aggregate_matches_the_pandas_groupby() -> None:
    rnd = random.Random(3)
    results = []
    for method in ("alpha", "beta", "gamma"):
        for seed in range(3):
            for target in range(1, 8):
                if method == "gamma" and seed == 2 and target == 7:
                    continue  # an incomplete cell
                eq_total = rnd.randint(1, 997)
                total = rnd.randint(100, 4000)
                results.append(
                    make_result(
                        method,
                        target,
                        seed,
                        (rnd.randint(0, eq_total), eq_total),
                        (rnd.randint(0, total), total, total + 10),
                        n_targets=7,
                    )
                )
    rnd.shuffle(results)  # row order is summation order: both follow the input order
    cells = aggregate(results)
    reference = _pandas_cells(results)
    assert [c.key for c in cells] == [key for key, *_ in reference]
    for cell, (_, per_seed, per_target, figures) in zip(cells, reference, strict=True):
        assert cell.targets_per_seed == per_seed
        pd.testing.assert_frame_equal(cell.per_target, per_target, check_exact=True)
        for name in (*METRICS, *(f"{m}_std" for m in METRICS)):
            assert getattr(cell, name) == figures.get(name), (cell.method, name)
    assert {c.method: c.complete for c in cells} == {"alpha": True, "beta": True, "gamma": False}
