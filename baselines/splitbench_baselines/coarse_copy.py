"""``coarse_copy``: every new row is a copy of the coarse row and bias (the floor).

With k identical rows the edited model cannot tell the subcategories apart: it predicts the
first one wherever the coarse class would have won. It is also the official code's default
initialisation of the new rows.
"""

from __future__ import annotations

from splitbench.protocol import (
    Method,
    MethodMeta,
    NewRows,
    SessionSupport,
    SplitTask,
    SubsetContext,
)


class CoarseCopy(Method):
    """New rows ``W_S[j] = w_c``, ``b_S[j] = b_c``."""

    meta = MethodMeta(
        name="coarse_copy",
        display_name="Coarse copy",
        description="Each subcategory row copies the coarse row and bias (knows nothing).",
        shots=0,
        paper="Liu & Doughty, ICLR 2026 (default NewHead initialisation)",
    )
    deterministic = True
    session_support = SessionSupport.both("copies the base coarse row")

    def edit(self, task: SplitTask, ctx: SubsetContext, seed: int) -> NewRows:
        """Repeat the coarse row k times."""
        c = task.coarse_index
        return NewRows(
            weight=ctx.weight[c].repeat(task.k, 1).clone(),
            bias=ctx.bias[c].repeat(task.k).clone(),
        )
