"""The text-robustness report: G and L of text-using methods under each text variant.

For each (method, text encoder, variant) the benchmark is rewritten by the variant
(:mod:`splitbench.benchmarks.text_variants`), evaluated through the one pipeline
(:func:`splitbench.evaluation.evaluate`, each variant in its own results folder because
its data revision differs), and compared with the clean run target by target: the drop
is clean − variant, averaged over targets (and seeds), with a paired percentile bootstrap
interval over targets (:func:`splitbench.results.bootstrap.paired_bootstrap_ci`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from splitbench.benchmarks.model import Benchmark
from splitbench.benchmarks.text_variants import apply_text_variant, parse_text_variant
from splitbench.errors import MethodError

#: The text-using methods and the config that selects the text encoder; the low-shot
#: finetuning row is the paper's 1-shot run with the MA initialisation.
TEXT_METHODS: dict[str, dict[str, str]] = {
    "modifier_retrieval": {},
    "modifier_alignment": {},
    "lowshot_finetune": {"shots": "1", "init": "modifier_alignment"},
}
DEFAULT_VARIANTS = (
    "typo:0.05",
    "typo:0.2",
    "case:0.3",
    "punct:0.3",
    "paraphrase",
    "long",
    "fr",
    "de",
)
DEFAULT_ENCODERS = ("minilm", "use-multilingual")


@dataclass
class RobustnessReport:
    """The report's rows (one per subset × method × encoder × variant) and its units.

    Attributes:
        rows: Columns subset, method, encoder, variant, G, L (percent), dG, dL (clean −
            variant, points) and their bootstrap bounds dG_low/dG_high, dL_low/dL_high.
        simulation: Whether the numbers come from simulated features.
    """

    rows: pd.DataFrame
    simulation: bool


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def _wanted(
    bench: Benchmark, subsets: Sequence[str] | None, targets: Sequence[str] | None
) -> set[tuple[str, int]]:
    """``(subset, coarse index)`` of the units asked for (the folders may hold more)."""
    from splitbench.errors import UnknownNameError

    out = set()
    for name in subsets or list(bench.subsets):
        sub = bench.subset(name)
        for key in targets if targets is not None else [t.coarse_index for t in sub.targets]:
            try:
                out.add((sub.name, sub.target(key).coarse_index))
            except UnknownNameError:
                continue  # a target of another subset
    return out


def _paired(
    frames: Mapping[str, pd.DataFrame], wanted: set[tuple[str, int]], seeds: Sequence[int]
) -> dict[str, Any]:
    """Each variant's units indexed by (subset, target, seed), on the units all share.

    A results folder can hold units of an earlier, wider run; only the units asked for and
    present for every variant are compared, so clean and variant means cover the same
    targets.
    """
    keyed = {}
    for spec, f in frames.items():
        pairs = zip(f["subset"], f["target_index"], strict=True)
        keep = np.array([(s, int(i)) in wanted for s, i in pairs], dtype=bool)
        keep &= f["seed"].isin(list(seeds)).to_numpy()
        keyed[spec] = f[keep].set_index(["subset", "target", "seed"])
    common = None
    for df in keyed.values():
        common = df.index if common is None else common.intersection(df.index)
    return {spec: df.loc[common].sort_index() for spec, df in keyed.items()}


def robustness_report(
    bench: Benchmark,
    *,
    output_dir: Path,
    methods: Mapping[str, Mapping[str, str]] | None = None,
    encoders: Sequence[str] = DEFAULT_ENCODERS,
    variants: Sequence[str] = DEFAULT_VARIANTS,
    subsets: Sequence[str] | None = None,
    targets: Sequence[str] | None = None,
    seeds: Sequence[int] = (0,),
    stores: Any = None,
    progress: bool = False,
) -> RobustnessReport:
    """Evaluate every (method, encoder, variant) and the clean baseline; tabulate drops."""
    from splitbench.evaluation import MethodSpec, evaluate
    from splitbench.results.bootstrap import paired_bootstrap_ci

    chosen = methods if methods is not None else TEXT_METHODS
    specs = ["clean", *variants]
    # every variant is built first: a bad spec or an incomplete curated table fails at once
    benches = {spec: apply_text_variant(bench, parse_text_variant(spec)) for spec in specs}
    rows: list[dict[str, object]] = []
    simulation = bench.simulation
    for method, base_config in chosen.items():
        for encoder in encoders:
            frames: dict[str, pd.DataFrame] = {}
            for spec in specs:
                ev = evaluate(
                    [MethodSpec(method, {**base_config, "text_encoder": encoder})],
                    benches[spec],
                    stores=stores,
                    subsets=subsets,
                    seeds=seeds,
                    targets=targets,
                    output_dir=output_dir / _slug(spec),
                    progress=progress,
                )
                if ev.failures:
                    raise MethodError("; ".join(ev.failure_lines(limit=3)))
                simulation = simulation or ev.simulated
                frames[spec] = ev.units()
            indexed = _paired(frames, _wanted(bench, subsets, targets), seeds)
            clean = indexed["clean"]
            for spec in specs:
                df = indexed[spec]
                for subset in sorted(set(df.index.get_level_values(0))):
                    a = clean.loc[subset]
                    b = df.loc[subset]
                    row: dict[str, object] = {
                        "subset": subset,
                        "method": method,
                        "encoder": encoder,
                        "variant": spec,
                        "G": 100 * float(b["generality"].mean()),
                        "L": 100 * float(b["locality"].mean()),
                    }
                    for m, col in (("G", "generality"), ("L", "locality")):
                        d = 100 * (a[col].to_numpy(float) - b[col].to_numpy(float))
                        lo, hi = paired_bootstrap_ci(d)
                        row |= {f"d{m}": float(np.mean(d)), f"d{m}_low": lo, f"d{m}_high": hi}
                    rows.append(row)
    return RobustnessReport(pd.DataFrame(rows), simulation)


def render_robustness(report: RobustnessReport) -> str:
    """Markdown: one table per subset; drops are clean − variant with a 95 % interval."""
    from tabulate import tabulate

    parts = []
    label = " (simulation: simulated features, real label texts)" if report.simulation else ""
    for subset, g in report.rows.groupby("subset", sort=True):
        table = [
            [
                r.method,
                r.encoder,
                r.variant,
                f"{r.G:.1f}",
                f"{r.L:.1f}",
                f"{r.dG:+.1f} [{r.dG_low:+.1f}, {r.dG_high:+.1f}]",
                f"{r.dL:+.1f} [{r.dL_low:+.1f}, {r.dL_high:+.1f}]",
            ]
            for r in g.itertuples()
        ]
        head = ["Method", "Encoder", "Variant", "G", "L", "G drop [95% CI]", "L drop [95% CI]"]
        parts.append(
            f"### Text robustness — subset {subset}{label}\n\nDrop = clean − variant in "
            "points, mean over targets; interval: paired percentile bootstrap over targets."
            f"\n\n{tabulate(table, headers=head, tablefmt='github')}\n"
        )
    return "\n".join(parts)


def plot_robustness(report: RobustnessReport, path: Path) -> Path:
    """Generality drop per variant (bars with bootstrap intervals), one panel per subset."""
    from splitbench.results.plots import _figure, _save, method_colors

    df = report.rows[report.rows["variant"] != "clean"]
    subsets = sorted(df["subset"].unique())
    fig = _figure(4.2 * max(1, len(subsets)), 3.4)
    series = sorted({(r.method, r.encoder) for r in df.itertuples()})
    colors = method_colors([f"{m} / {e}" for m, e in series])
    variants = list(dict.fromkeys(df["variant"]))
    width = 0.8 / max(1, len(series))
    for i, subset in enumerate(subsets):
        ax = fig.add_subplot(1, len(subsets), i + 1)
        g = df[df["subset"] == subset]
        for j, (m, e) in enumerate(series):
            s = g[(g["method"] == m) & (g["encoder"] == e)].set_index("variant").reindex(variants)
            x = np.arange(len(variants)) + (j - (len(series) - 1) / 2) * width
            err = np.vstack([s["dG"] - s["dG_low"], s["dG_high"] - s["dG"]])
            ax.bar(
                x,
                s["dG"],
                width,
                yerr=err,
                capsize=2,
                color=colors[f"{m} / {e}"],
                label=f"{m} / {e}",
            )
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_xticks(np.arange(len(variants)), variants, rotation=30, fontsize=7)
        ax.set_title(
            f"subset {subset}" + (" (simulation)" if report.simulation else ""), fontsize=9
        )
        ax.set_ylabel("generality drop vs clean (points)", fontsize=8)
        if i == 0:
            ax.legend(fontsize=6)
    return _save(fig, path)
