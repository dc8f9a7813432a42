"""Steps shared by the bench scripts: the ``--annotations`` option and its check, a scratch
folder with its own cache, simulated stores (``--store``, or built once into the cache), the
set-up of a script timing one simulated SSv2-Split subset, and the peak-memory line.

Simulated stores are cached by benchmark revision, subset, simulation config and modifier
table under ``bench-stores/`` of the cache in effect *before* a script points
``$SPLITBENCH_CACHE`` at its scratch folder (``$SPLITBENCH_CACHE`` or
``~/.cache/splitbench``), so a second script or a second run reuses them.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import multiprocessing as mp
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from splitbench.benchmarks.official import SSV2_SPLIT
from splitbench.catalog import annotations_path

if TYPE_CHECKING:
    from splitbench.benchmarks.model import Benchmark, Subset
    from splitbench.benchmarks.synthetic import SyntheticConfig
    from splitbench.features.store import FeatureStore

#: The Category-Splitting ``Datasets`` folder beside the project checkout.
SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "category-splitting" / "Datasets"


def add_annotations_option(
    parser: argparse.ArgumentParser, fallback: Path | None = SHARED_DATASETS
) -> None:
    """``--annotations PATH``: default ``$SPLITBENCH_ANNOTATIONS``, else ``fallback``."""
    parser.add_argument("--annotations", type=Path, default=annotations_path(None) or fallback)


def has_annotations(root: Path | None) -> bool:
    """Whether ``root`` is an official ``Datasets`` folder (has SSv2-Split/group_scheme.json)."""
    return root is not None and (Path(root) / SSV2_SPLIT.folder / "group_scheme.json").is_file()


def require_annotations(root: Path | None) -> Path:
    """``root``, or exit with a message when it is not an official ``Datasets`` folder."""
    if root is None or not has_annotations(root):
        sys.exit(
            f"needs the official annotation files; --annotations {root} has no "
            f"{SSV2_SPLIT.folder}/group_scheme.json"
        )
    return Path(root)


@dataclass(frozen=True)
class Scratch:
    """A script's scratch space.

    Attributes:
        tmp: Temp folder, removed when the script exits.
        store_cache: Where simulated stores are cached (kept between runs).
    """

    tmp: Path
    store_cache: Path


def scratch(prefix: str, *, own_cache: bool = True) -> Scratch:
    """Make a temp folder (removed at exit) and set ``TQDM_DISABLE=1``.

    Call it before importing tqdm (through splitbench's runner): tqdm reads ``TQDM_*`` at
    import.

    Args:
        prefix: Temp folder name prefix.
        own_cache: Point ``$SPLITBENCH_CACHE`` (unless set) at ``<tmp>/cache``, so text
            embeddings start cold; simulated stores still go to the cache in effect before.
    """
    from splitbench.paths import cache_dir

    store_cache = cache_dir() / "bench-stores"
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    os.environ.setdefault("TQDM_DISABLE", "1")
    if own_cache:
        os.environ.setdefault("SPLITBENCH_CACHE", str(tmp / "cache"))
    return Scratch(tmp, store_cache)


def simulated_store(
    bench: Benchmark,
    subset: str,
    space: Scratch,
    config: SyntheticConfig | None = None,
    store: Path | str | None = None,
    *,
    in_child: bool = False,
) -> tuple[FeatureStore, float | None]:
    """``store`` if given, else the simulated store of ``bench``/``subset`` (built on first use).

    Args:
        bench: An official benchmark.
        subset: Subset name.
        space: The script's scratch space (its ``store_cache``).
        config: Simulation config (default: ``simulate_official_store``'s, 384 dims and one
            train view).
        store: A store folder to reuse as it is.
        in_child: Build in a forked child process, so that the simulation's arrays (about
            2 GB for SSv2-Split) never count in this process's peak memory.

    Returns:
        ``(store, seconds the simulation took)``; the seconds are None when nothing was built.
    """
    from splitbench.benchmarks.modifiers import table_paths
    from splitbench.benchmarks.synthetic import SyntheticConfig
    from splitbench.features.simulate import simulate_official_store
    from splitbench.features.store import FeatureStore

    if store is not None:
        return FeatureStore(Path(store)), None
    cfg = config or SyntheticConfig(dim=384, train_views=1)
    tag = hashlib.sha256(
        f"{bench.revision}|{cfg.key()}|{table_paths(bench.name)[0].read_bytes()!r}".encode()
    ).hexdigest()[:12]
    out = space.store_cache / f"{bench.name}-{subset}-{tag}"
    if (out / "store.json").is_file():
        return FeatureStore(out), None
    t = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(dir=out.parent, prefix=".build-"))
    try:
        if in_child:
            child = mp.get_context("fork").Process(
                target=simulate_official_store, args=(bench, subset, build / "store", cfg)
            )
            child.start()
            child.join()
            if child.exitcode != 0:
                raise RuntimeError(f"simulating {bench.name}/{subset} failed ({child.exitcode})")
        else:
            simulate_official_store(bench, subset, build / "store", cfg)
        os.replace(build / "store", out)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return FeatureStore(out), time.perf_counter() - t


def subset_parser(description: str) -> argparse.ArgumentParser:
    """A parser with ``--annotations``, ``--subset`` (default A) and ``--store`` (a folder)."""
    parser = argparse.ArgumentParser(description=description)
    add_annotations_option(parser)
    parser.add_argument("--subset", default="A")
    parser.add_argument("--store", default=None, help="reuse a simulated store folder")
    return parser


@dataclass(frozen=True)
class SimulatedSubset:
    """One SSv2-Split subset on a simulated store, as :func:`open_simulated_subset` opens it.

    Attributes:
        space: The script's scratch space.
        bench: SSv2-Split with only this subset loaded.
        subset: The subset.
        store: Its simulated feature store.
    """

    space: Scratch
    bench: Benchmark
    subset: Subset
    store: FeatureStore


def open_simulated_subset(args: argparse.Namespace, prefix: str) -> SimulatedSubset:
    """The common start of a script parsed by :func:`subset_parser`.

    Exits unless ``--annotations`` is an official ``Datasets`` folder, makes the scratch
    space (before anything imports tqdm), prints torch's threads and the machine's CPUs,
    loads subset ``--subset`` of SSv2-Split and its simulated store (``--store``, or built
    once), and prints the store's size and, when it was built, how long that took.

    Args:
        args: Parsed arguments of :func:`subset_parser`.
        prefix: Scratch folder name prefix.
    """
    annotations = require_annotations(args.annotations)
    space = scratch(prefix)

    import torch

    from splitbench.catalog import load_benchmark

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, cpus {os.cpu_count()}")
    bench = load_benchmark("ssv2-split", annotations, subsets=[args.subset])
    store, build_s = simulated_store(bench, args.subset, space, store=args.store or None)
    if build_s is not None:
        print(f"simulate the store (once, not part of the protocol): {build_s:.1f} s")
    val = store.meta.splits["val"]
    print(f"store: {val.count} val videos × {val.views} views × {store.meta.dim} dims (simulated)")
    return SimulatedSubset(space, bench, bench.subset(args.subset), store)


def print_peak_memory() -> None:
    """Print this process's peak resident memory (max RSS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS of this process): {rss:.0f} MB")
