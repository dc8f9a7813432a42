"""Finding the feature stores of a run: a benchmark's default stores, a folder or the hub."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from splitbench.errors import ConfigError, DataError

if TYPE_CHECKING:
    from splitbench.features.store import FeatureStore


def resolve_stores(
    benchmark_name: str, features: Path | None, subsets: Sequence[str]
) -> dict[str, FeatureStore]:
    """Feature stores for ``subsets``: the benchmark's default stores, or ``features``.

    ``--features`` may also be ``hf://ORG/NAME[@REVISION]`` or a hub-format feature folder
    (see :mod:`splitbench.hub.features`).

    Raises:
        ConfigError: when an official benchmark has no features yet (says what to do).
        DataError: when ``--features`` holds no usable store.
    """
    from splitbench.catalog import BENCHMARKS
    from splitbench.features.store import FeatureStore

    if features is None:
        entry = BENCHMARKS.get(benchmark_name) if benchmark_name in BENCHMARKS else None
        if entry is not None and entry.default_stores is not None:
            return dict(entry.default_stores())
        raise ConfigError(
            f"{benchmark_name} has no features yet: extract them once with 'splitbench extract "
            f"--benchmark {benchmark_name} --videos DIR --checkpoint FILE ...' and pass "
            f"--features DIR, or make a simulated store for a dry run with 'splitbench simulate "
            f"--benchmark {benchmark_name} --annotations PATH --output DIR'"
        )
    from splitbench.hub.features import is_hub_features, load_hub_features

    if is_hub_features(features):
        return load_hub_features(features, subsets)
    if (features / "store.json").is_file():
        store = FeatureStore(features)
        return {store.meta.subset: store}
    stores: dict[str, FeatureStore] = {}
    for s in subsets:
        if (features / s / "store.json").is_file():
            stores[s] = FeatureStore(features / s)
    missing = [s for s in subsets if s not in stores]
    if missing:
        raise DataError(
            f"{features}: no feature store for subset {', '.join(missing)} (expected "
            f"{features}/<subset>/store.json or a store.json in the folder itself)"
        )
    return stores
