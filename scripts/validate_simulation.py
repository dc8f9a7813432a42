"""Put the simulation's numbers next to the paper's: docs/simulation-validation.md.

    python scripts/validate_simulation.py --annotations PATH/TO/Datasets

Runs the paper's methods and baselines through the ordinary CLI on (1) a simulated
SSv2-Split-A store (`splitbench simulate`, default knobs) and (2) the default synthetic
benchmark (both subsets), aggregates them like the leaderboard (mean over targets, then over
seeds), and writes a markdown page with the table, the base models' accuracy, and which of
the paper's orderings hold. Nothing here feeds back into the simulation: the knobs are
calibrated only on the backbone's published top-1 (scripts/calibrate_simulation.py).
Takes several minutes on 2 cores. Every number on the page is printed by this script.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

# The paper's SSv2-Split-A numbers and how far each is trusted (paper-brief §9).
PAPER = {
    "modifier_alignment": (46.3, 98.9, "Table 2 [S-notes]"),
    "modifier_retrieval": (45.0, None, "Table 3 [S-notes]; locality not given"),
    "clip_cascade": (27.6, 100.0, "Table 2 [S-notes]"),
    "lowshot_finetune_coarse": (48.4, 98.4, "Table 4 [S-notes]"),
    "lowshot_finetune": (52.8, 98.2, "Table 4, MA init [S-notes]"),
    "lowshot_finetune_random": (45.0, None, "≈ 52.8 − 7.8, inferred from S-notes' text"),
    "coarse_copy": (None, None, "not in the paper (floor)"),
}
METHODS = list(PAPER)
DETERMINISTIC = {"modifier_retrieval", "clip_cascade", "coarse_copy"}
# (better, worse, what the paper says) on SSv2-Split-A generality.
ORDERINGS = [
    ("modifier_alignment", "modifier_retrieval", "MA > MR (46.3 > 45.0)"),
    ("modifier_alignment", "clip_cascade", "MA > CLIP cascade (46.3 > 27.6)"),
    ("lowshot_finetune", "lowshot_finetune_coarse", "FT MA-init > FT coarse-init (52.8 > 48.4)"),
    (
        "lowshot_finetune_coarse",
        "modifier_alignment",
        "FT coarse-init > MA zero-shot (48.4 > 46.3)",
    ),
    ("lowshot_finetune", "lowshot_finetune_random", "FT MA-init > FT random-init (52.8 > ≈45)"),
    ("lowshot_finetune_random", "coarse_copy", "FT random-init learns (> coarse copy)"),
]


def sb(*args: str) -> None:
    """Run the splitbench CLI of this interpreter; fail loudly."""
    cmd = [sys.executable, "-m", "splitbench", *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")


def run_all(work: Path, annotations: Path) -> pd.DataFrame:
    """Run every method on the simulated SSv2-Split-A store and the synthetic benchmark."""
    from splitbench.results import load

    store = work / "ssv2-sim"
    ssv2_a = ["-b", "ssv2-split", "-s", "A", "--annotations", str(annotations)]
    if not (store / "A" / "store.json").is_file():
        sb("simulate", *ssv2_a, "--output", str(store), "-q")
    for method in METHODS:
        seeds = "0" if method in DETERMINISTIC else "0,1,2"
        common = ["run", "-m", method, "--seeds", seeds, "-q", "-o", str(work / "results")]
        sb(*common, "-b", "synthetic")
        sb(*common, *ssv2_a, "--features", str(store))
    return load(work / "results")


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Mean over targets, then over seeds, per (benchmark, subset, method), in percent."""
    per_seed = df.groupby(["benchmark", "subset", "method", "seed"])[
        ["generality", "locality", "changed"]
    ].mean()
    return 100 * per_seed.groupby(["benchmark", "subset", "method"]).mean()


def base_model_lines(work: Path) -> list[str]:
    """The base models' accuracy as recorded in the stores."""
    import json

    from splitbench.features.calibration import CALIBRATION_PATH
    from splitbench.features.simulate import synthetic_stores
    from splitbench.features.store import FeatureStore

    cal = json.loads(CALIBRATION_PATH.read_text())
    best = min(cal["points"], key=lambda p: abs(p["video_top1"] - cal["target"]))
    lines = [
        f"* Reference (calibrated): a simulated 174-class SSv2 model reaches "
        f"{100 * best['video_top1']:.1f} % video top-1 ({100 * best['view_top1']:.1f} % per view) "
        f"at video noise {best['video_noise']} (target {100 * cal['target']:.1f} %, "
        f"{cal['reference']}).",
    ]
    stores = {("ssv2-split (simulated)", "A"): FeatureStore(work / "ssv2-sim" / "A")}
    stores.update({("synthetic", s): st for s, st in synthetic_stores().items()})
    for (bench, subset), st in stores.items():
        f = st.meta.extra["base_model"]
        lines.append(
            f"* {bench} {subset} base head (reported, not tuned): {100 * f['video_top1']:.1f} % "
            f"video top-1, {100 * f['view_top1']:.1f} % per view; unrelated sets "
            f"{100 * f['unrelated_accuracy_masked_mean']:.1f} % with the coarse class masked; "
            f"coarse recall on the equivalent sets {100 * f['coarse_recall_mean']:.1f} %."
        )
    return lines


def fmt(x: float | None) -> str:
    """One number, or a dash."""
    return "–" if x is None or pd.isna(x) else f"{x:.1f}"


def render(summary: pd.DataFrame, work: Path) -> str:
    """The markdown page: the table, the base models and the paper's orderings."""
    cols = [
        ("ssv2-split", "A", "simulated SSv2-Split-A"),
        ("synthetic", "A", "synthetic A"),
        ("synthetic", "B", "synthetic B"),
    ]
    head = ["method", "paper SSv2-A G / L"] + [f"{c[2]} G / L / Ch" for c in cols]
    rows = []
    for m in METHODS:
        g, loc, _ = PAPER[m]
        cells = [f"`{m}`", f"{fmt(g)} / {fmt(loc)}"]
        for b, s, _ in cols:
            r = summary.loc[(b, s, m)]
            cells.append(f"{fmt(r.generality)} / {fmt(r.locality)} / {fmt(r.changed)}")
        rows.append(cells)
    out = [
        "# Simulation vs paper (generated)",
        "",
        "> **Simulation.** Simulated features, not videos; generated by "
        "`python scripts/validate_simulation.py --annotations PATH`. Do not edit by hand.",
        "",
        "Generality / Locality / Changed in percent, mean over targets then over seeds "
        "(0, 1, 2; deterministic methods seed 0). Paper numbers: SSv2-Split-A, sources and "
        "trust in `docs/simulation.md` (paper-brief §9).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *["| " + " | ".join(r) + " |" for r in rows],
        "",
        "## Base models",
        "",
        *base_model_lines(work),
        "",
        "## The paper's orderings (generality)",
        "",
        "| ordering in the paper | " + " | ".join(c[2] for c in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for better, worse, text in ORDERINGS:
        cells = []
        for b, s, _ in cols:
            gb, gw = summary.loc[(b, s, better)].generality, summary.loc[(b, s, worse)].generality
            cells.append(f"{'holds' if gb > gw else 'does not hold'} ({gb:.1f} vs {gw:.1f})")
        out.append(f"| {text} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main() -> None:
    """Run the script."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--annotations", type=Path, default=os.environ.get("SPLITBENCH_ANNOTATIONS")
    )
    parser.add_argument("--work", type=Path, default=None, help="keep runs here (default: temp)")
    parser.add_argument("--out", type=Path, default=Path("docs/simulation-validation.md"))
    args = parser.parse_args()
    if args.annotations is None:
        sys.exit(
            "needs the official annotation files: --annotations PATH or $SPLITBENCH_ANNOTATIONS"
        )
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        summary = summarise(run_all(work, Path(args.annotations)))
        page = render(summary, work)
    args.out.write_text(page)
    print(page)


if __name__ == "__main__":
    main()
