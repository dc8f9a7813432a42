"""Benchmark statistics: the paper's Table 1 columns and a per-target table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tabulate import tabulate

from splitbench.benchmarks.model import Benchmark, Subset


@dataclass(frozen=True)
class SubsetStats:
    """Table 1 of the paper, for one subset.

    Attributes:
        base_categories: |labels.json|.
        base_videos: Videos in train.csv.
        targets: Split targets (coarse classes).
        fine_kept: Base categories minus targets (the table's "fine" column).
        avg_generality_videos: Mean equivalent-set size over targets.
        avg_locality_videos: Mean unrelated-set size over targets.
        subcategories: Total subcategories the targets split into.
        val_videos: Videos in val.csv.
    """

    base_categories: int
    base_videos: int
    targets: int
    fine_kept: int
    avg_generality_videos: float
    avg_locality_videos: float
    subcategories: int
    val_videos: int


def subset_stats(subset: Subset) -> SubsetStats:
    """Compute :class:`SubsetStats`."""
    return SubsetStats(
        base_categories=subset.num_labels,
        base_videos=len(subset.train),
        targets=len(subset.targets),
        fine_kept=subset.num_labels - len(subset.targets),
        avg_generality_videos=float(np.mean([len(t.equivalent) for t in subset.targets])),
        avg_locality_videos=float(np.mean([len(t.unrelated) for t in subset.targets])),
        subcategories=sum(t.k for t in subset.targets),
        val_videos=len(subset.val),
    )


def render_info(bench: Benchmark, subsets: Sequence[str], *, per_target: bool = True) -> str:
    """Markdown: Table 1 rows, per-target tables and findings."""
    parts = [f"## {bench.display_name} (benchmark v{bench.version}, data `{bench.revision}`)\n"]
    if bench.simulation:
        parts.append("> **Simulation**: a synthetic benchmark, not SSv2 or FineGym data.\n")
    parts.append(f"Source: {bench.source}. Modifiers: {bench.modifier_source}.\n")
    rows = []
    for name in subsets:
        st = subset_stats(bench.subset(name))
        rows.append(
            [
                name,
                st.base_categories,
                f"{st.base_videos:,}",
                st.targets,
                st.fine_kept,
                f"{st.avg_generality_videos:.1f}",
                f"{st.avg_locality_videos:.1f}",
                st.subcategories,
                f"{st.val_videos:,}",
            ]
        )
    parts.append(
        tabulate(
            rows,
            headers=[
                "Subset",
                "Base categories",
                "Base videos (train)",
                "Coarse (targets)",
                "Fine kept in base",
                "Avg #videos generality",
                "Avg #videos locality",
                "Subcategories",
                "Val videos",
            ],
            tablefmt="github",
            disable_numparse=True,
        )
        + "\n"
    )
    if not bench.simulation and rows:  # the note compares with the paper's Table 1
        avg = str(rows[0][5])
        parts.append(
            f"The paper's Table 1 truncates the averages ({avg} is printed as "
            f"{avg.split('.')[0]}). 'Fine kept in base' is the paper's 'fine' column.\n"
        )
    for name in subsets:
        s = bench.subset(name)
        if per_target:
            trows = [
                [
                    t.coarse_index,
                    t.name if len(t.name) <= 70 else t.name[:67] + "...",
                    t.k,
                    len(t.ft),
                    len(t.equivalent),
                    len(t.unrelated),
                    ", ".join(t.split_types),
                ]
                for t in s.targets
            ]
            parts.append(f"### Subset {name}: split targets\n")
            parts.append(
                tabulate(
                    trows,
                    headers=[
                        "Index",
                        "Coarse target",
                        "k",
                        "ft",
                        "equivalent",
                        "unrelated",
                        "split types",
                    ],
                    tablefmt="github",
                    disable_numparse=True,
                )
                + "\n"
            )
        if s.findings:
            parts.append(f"### Subset {name}: findings\n")
            parts.extend(f"- {f}" for f in s.findings)
            parts.append("")
    return "\n".join(parts)
