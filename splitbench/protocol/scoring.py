"""Scoring, re-exported for plugins and the runner.

The scoring rules are pure (NumPy and torch over logits and labels), so they live in the
leaf :mod:`splitbench.core.scoring`, where feature extraction's sanity figures and
``rescore`` use the same code as the runner.
"""

from splitbench.core.counts import Counts
from splitbench.core.scoring import (
    PROTOCOL_ID,
    Masked,
    SubsetScorer,
    count,
    mask_coarse,
    masked_classes,
    predictions_from_probabilities,
    reference_probabilities,
)

__all__ = [
    "PROTOCOL_ID",
    "Counts",
    "Masked",
    "SubsetScorer",
    "count",
    "mask_coarse",
    "masked_classes",
    "predictions_from_probabilities",
    "reference_probabilities",
]
