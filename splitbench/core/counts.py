"""The raw counts of one unit: the one definition, scored by the protocol and stored in results."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class UnitCounts(BaseModel):
    """Raw counts from which every metric is recomputed.

    Attributes:
        equivalent_correct: Equivalent videos predicted as their fine label.
        equivalent_total: Equivalent videos.
        unrelated_correct_edited: Unrelated videos the edited model gets right.
        unrelated_correct_original: Unrelated videos the original model (c masked) gets right.
        unrelated_changed: Unrelated videos whose prediction differs between the two.
        unrelated_total: Unrelated videos.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    equivalent_correct: int
    equivalent_total: int
    unrelated_correct_edited: int
    unrelated_correct_original: int
    unrelated_changed: int
    unrelated_total: int

    @property
    def generality(self) -> float | None:
        """Fraction in [0, 1]; None without equivalent videos."""
        if self.equivalent_total == 0:
            return None
        return self.equivalent_correct / self.equivalent_total

    @property
    def locality(self) -> float | None:
        """Ratio of edited to original accuracy; None when the original gets none right."""
        if self.unrelated_correct_original == 0:
            return None
        return self.unrelated_correct_edited / self.unrelated_correct_original

    @property
    def mean(self) -> float | None:
        """(generality + locality) / 2, the paper's Table 4 'Mean'."""
        g, loc = self.generality, self.locality
        return None if g is None or loc is None else (g + loc) / 2

    @property
    def changed(self) -> float | None:
        """Fraction of unrelated videos whose prediction the edit changed (None if none)."""
        return self.unrelated_changed / self.unrelated_total if self.unrelated_total else None


Counts = UnitCounts  # the scorer's name for the same model
