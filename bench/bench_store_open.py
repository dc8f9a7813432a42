"""Benchmark: peak memory of opening a multi-shard feature-store split.

Writes one split in several shards (random float16 features of the size of a SSv2-Split
train split's support views; no model, no video), then, each in a fresh process, opens the
split and gathers a few hundred support rows (what a low-shot method reads) with:

* ``view``: the store as it is (:class:`splitbench.features.sharded.ShardedFeatures`);
* ``copy``: the old behaviour, ``np.concatenate`` of the shards on open.

Prints the peak RSS of each and their ratio (measured in the same run).

Usage:
    python bench/bench_store_open.py [--rows 40000] [--views 2] [--dim 768] [--shards 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, resource, sys
import numpy as np
from splitbench.features.store import FeatureStore
store = FeatureStore(sys.argv[1])
split = store.split("train")
feats = np.concatenate(split.features.parts) if sys.argv[2] == "copy" else split.features
rows = np.random.default_rng(0).choice(len(split.videos), 300, replace=False)
picked = np.asarray(feats[rows], dtype=np.float32)
print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "picked": list(picked.shape)}))
"""


def main() -> None:
    """Print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=40000)
    ap.add_argument("--views", type=int, default=2)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--shards", type=int, default=8)
    args = ap.parse_args()

    import numpy as np

    from splitbench.features.store import StoreMeta
    from splitbench.features.store_writer import StoreWriter

    with tempfile.TemporaryDirectory(prefix="splitbench-bench-store-") as tmp:
        meta = StoreMeta(
            benchmark="bench",
            benchmark_version="1",
            benchmark_revision="bench:0",
            subset="A",
            model={"name": "random"},
            view_protocol={},
            dim=args.dim,
            labels=["a", "b"],
            dtype="float16",
            simulation=True,
        )
        writer = StoreWriter(Path(tmp) / "store", meta)
        rng = np.random.default_rng(0)
        per = args.rows // args.shards
        for s in range(args.shards):
            x = rng.standard_normal((per, args.views, args.dim), dtype=np.float32)
            writer.add_shard("train", [f"v{s}-{i}" for i in range(per)], x.astype(np.float16))
        writer.write_head(np.zeros((2, args.dim), np.float32), np.zeros(2, np.float32))
        writer.finish(backbone_passes=0, note="random bench features")
        size = per * args.shards * args.views * args.dim * 2 / 2**20
        print(
            f"split: {per * args.shards} rows × {args.views} views × {args.dim} (float16, "
            f"{size:.0f} MB) in {args.shards} shards"
        )
        rss = {}
        for mode in ("view", "copy"):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(Path(tmp) / "store"), mode],
                check=True,
                capture_output=True,
                text=True,
            )
            rss[mode] = json.loads(out.stdout)["rss_mb"]
            print(f"{mode}: peak RSS {rss[mode]:.0f} MB (open + gather 300 rows)")
        print(f"copy / view: {rss['copy'] / rss['view']:.2f}×")


if __name__ == "__main__":
    main()
