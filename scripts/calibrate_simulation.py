"""Calibrate the simulation on MVD ViT-S's published SSv2 top-1 / top-5 (70.9 / 92.8 %).

    python scripts/calibrate_simulation.py --annotations PATH/TO/Datasets

Writes splitbench/benchmarks/data/simulation_calibration.json and prints the curve. Needs the
official annotation files (the SSv2 taxonomy and video lists); a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from splitbench.catalog import load_benchmark
from splitbench.features.calibration import calibrate, write_calibration


def main() -> None:
    """Run the script."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--annotations", type=Path, default=os.environ.get("SPLITBENCH_ANNOTATIONS")
    )
    args = parser.parse_args()
    bench = load_benchmark("ssv2-split", Path(args.annotations) if args.annotations else None)
    record = calibrate(bench)
    path = write_calibration(record)
    print(f"wrote {path}")
    print(f"modifier scale {record['modifier_scale']} (calibrated on top-5)")
    print("| modifier scale | video noise | view top-1 | video top-1 | video top-5 |")
    print("|---|---|---|---|---|")
    for p in record["search"]:
        print(
            f"| {p['modifier_scale']:.4f} | {p['video_noise']:.4f} | {100 * p['view_top1']:.1f} "
            f"| {100 * p['video_top1']:.1f} | {100 * p['video_top5']:.1f} |"
        )


if __name__ == "__main__":
    main()
