"""Helpers shared by CLI commands."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from splitbench.errors import ConfigError, DataError

if TYPE_CHECKING:
    from splitbench.features.store import FeatureStore


def parse_subsets(value: str, available: Sequence[str]) -> list[str]:
    """``all`` → every subset; otherwise a comma list checked against ``available``."""
    if value.strip().lower() == "all":
        return list(available)
    out = []
    for s in value.split(","):
        s = s.strip()
        match = [a for a in available if a.lower() == s.lower()]
        if not match:
            raise ConfigError(f"--subset {s!r}: expected one of {', '.join(available)} or all")
        out.append(match[0])
    return out


def parse_ints(value: str, option: str) -> list[int]:
    """Parse seeds ``"0,1,2"`` strictly (see :func:`splitbench.cli.validate.parse_seeds`)."""
    from splitbench.cli.validate import parse_seeds

    return parse_seeds(value, option)


def parse_kv(pairs: Sequence[str]) -> dict[str, str]:
    """Parse repeated ``key=value`` options."""
    out = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--config {p!r}: expected key=value")
        out[key.strip()] = value.strip()
    return out


def resolve_stores(
    benchmark_name: str, features: Path | None, subsets: Sequence[str]
) -> dict[str, FeatureStore]:
    """Feature stores for ``subsets``: the synthetic cache, or ``--features``.

    ``--features`` may also be ``hf://ORG/NAME[@REVISION]`` or a hub-format feature folder
    (see :mod:`splitbench.hub.features`).

    Raises:
        ConfigError: when an official benchmark has no features yet (says what to do).
        DataError: when ``--features`` holds no usable store.
    """
    from splitbench.benchmarks.catalog import BENCHMARKS
    from splitbench.features.store import FeatureStore

    if features is None:
        entry = BENCHMARKS.get(benchmark_name)
        if entry.default_stores is not None:
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


def err(msg: str) -> None:
    """Print to stderr."""
    print(msg, file=sys.stderr)
