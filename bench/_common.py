"""Steps shared by the bench scripts: the ``--annotations`` option and its check, a scratch
folder with its own cache, and simulated stores (``--store``, or built once into the cache).

Simulated stores are cached by benchmark revision, subset, simulation config and modifier
table under ``bench-stores/`` of the cache in effect *before* a script points
``$SPLITBENCH_CACHE`` at its scratch folder (``$SPLITBENCH_CACHE`` or
``~/.cache/splitbench``), so a second script or a second run reuses them.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import os
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
    from splitbench.benchmarks.model import Benchmark
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
) -> tuple[FeatureStore, float | None]:
    """``store`` if given, else the simulated store of ``bench``/``subset`` (built on first use).

    Args:
        bench: An official benchmark.
        subset: Subset name.
        space: The script's scratch space (its ``store_cache``).
        config: Simulation config (default: ``simulate_official_store``'s, 384 dims and one
            train view).
        store: A store folder to reuse as it is.

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
        simulate_official_store(bench, subset, build / "store", cfg)
        os.replace(build / "store", out)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return FeatureStore(out), time.perf_counter() - t
