"""Display labels of (method, config hash) pairs, shared by every table.

Kept apart from :mod:`splitbench.results.frame` so the leaderboard's markdown, printed at the
end of every run, needs no pandas.
"""

from __future__ import annotations

from collections.abc import Iterable


def pair_labels(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The method name when it has one config among ``pairs``, else ``method@<hash prefix>``."""
    unique = sorted(set(pairs))
    out = {}
    for method, h in unique:
        several = sum(m == method for m, _ in unique) > 1
        out[(method, h)] = f"{method}@{h[:6]}" if several else method
    return out
