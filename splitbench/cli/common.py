"""Helpers shared by CLI commands."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from splitbench.errors import ConfigError

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
    """Feature stores for ``subsets`` (see :func:`splitbench.evaluation.resolve_stores`)."""
    from splitbench.evaluation.stores import resolve_stores as resolve

    return resolve(benchmark_name, features, subsets)


def err(msg: str) -> None:
    """Print to stderr."""
    print(msg, file=sys.stderr)
