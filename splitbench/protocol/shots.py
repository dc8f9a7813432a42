"""Support-shot sampling, re-exported for plugins.

The sampler is part of the benchmark's data (which ft videos a (target, seed) uses), so it
lives in :mod:`splitbench.benchmarks.shots`, where feature extraction can use it too.
"""

from splitbench.benchmarks.shots import (
    SHOT_POLICIES,
    ShotPolicy,
    ShotSample,
    parse_shots,
    sample_shots,
    shot_pool_union,
)

__all__ = [
    "SHOT_POLICIES",
    "ShotPolicy",
    "ShotSample",
    "parse_shots",
    "sample_shots",
    "shot_pool_union",
]
