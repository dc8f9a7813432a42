"""What the paper's own methods and baselines declare alike: its reference and its BibTeX.

Every method and baseline of Liu & Doughty (ICLR 2026) cites the paper the same way, so the
reference's opening and the BibTeX live here once instead of in each plugin's ``MethodMeta``.
"""

from __future__ import annotations

from splitbench.benchmarks.official import PAPER_CITATION
from splitbench.protocol.api import MethodMeta

PAPER = "Liu & Doughty, Let's Split Up, ICLR 2026"


def paper_meta(
    name: str,
    display_name: str,
    description: str,
    *,
    paper: str,
    shots: int | None = 0,
    kind: str = "head-edit",
) -> MethodMeta:
    """The :class:`MethodMeta` of a method or baseline of the paper: it cites the paper.

    Args:
        name: Registry name.
        display_name: Name for tables.
        description: One sentence.
        paper: The reference shown by ``list methods``, usually ``f"{PAPER}, <part>"``.
        shots: Labelled videos per subcategory (``None`` when the config decides).
        kind: ``"head-edit"``, ``"cascade"`` or ``"full-model"`` (informational).
    """
    return MethodMeta(
        name=name,
        display_name=display_name,
        description=description,
        shots=shots,
        kind=kind,
        paper=paper,
        citation=PAPER_CITATION,
    )
