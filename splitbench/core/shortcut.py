r"""The per-view weights of a scored edit, and predictions that skip the ``(N, C)`` sum.

With ``A[v, n, y] = exp(l - max_y l)`` of the base head and ``B`` the same for the k new
rows, the scorer's view-averaged masked probability of class y is
``p_y = Σ_v A[v, n, y] · w[v, n]`` with ``w = 1 / (V · (Σ_{y∉c} A + Σ_j B))``, summed view by
view in float32 (:func:`view_sum`). The unedited model has ``w0 = 1 / (V · Σ_{y∉c} A)``.

Why predictions need not form ``p`` for every old class (exact, not approximate):

* Adding new rows only grows the normaliser, and IEEE rounding is monotone, so
  ``w ≤ w0`` elementwise as computed, and so every computed old ``p_y ≤ p0_y``.
* Let ``t`` be the unedited model's masked prediction and ``s`` the largest other
  ``p0``. If the edited ``p_t`` (computed by the same float32 operations as the full sum)
  is still above ``p0_s``, no other old class can reach it: ``t`` leads the old classes.
* Then the prediction is ``t`` unless a new row's probability is larger (old classes win
  ties, as in the full argmax), and the new rows' probabilities are computed in full.
* Whichever old class leads, none is above ``max(p_t, p0_s)``: a new row above that wins.

Videos where ``p_t`` fell to ``p0_s`` or below, or with a view the scorer recomputes in
float64, are scored with the full sum. Element-wise float32 operations give the same bits
whichever rows they run on (checked by the tests against the full argmax), so the result
is the full argmax bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

TINY = 1e-30  # below this a float32 masked normaliser has lost its precision
MAX_LEAD = 80.0  # a new logit this far above every old one would overflow exp in float32


@dataclass(frozen=True)
class OldLead:
    """The unedited model's leading old class per val video, under one mask.

    Attributes:
        index: ``(N,)`` the masked prediction ``t``.
        runner_up: ``(N,)`` the largest masked probability of any other old class.
        a_lead: ``(V, N, 1)`` ``A`` at class ``t``, per view.
    """

    index: torch.Tensor
    runner_up: torch.Tensor
    a_lead: torch.Tensor


def view_weights(
    rest: torch.Tensor, m: torch.Tensor, new_logits: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor]:
    """Per-view weights ``w`` (``(V, N, 1)``), new-row ``B``, new logits ``(V, N, k)``, bad views.

    The new rows are exponentiated against the same reference as the old classes (the
    view's max old logit ``m``) and share one weight per view, so a new row whose logit
    equals an old class's gets the same probability bit for bit and the tie goes to the
    lower (old) index. Bad views, where the masked normaliser underflowed or a new logit
    leads ``m`` by so much that float32 would overflow, get weight 0: the scorer adds
    their exact float64 probabilities separately.

    Args:
        rest: ``(V, N)`` float64 masked normaliser ``Σ_{y∉c} A``.
        m: ``(V, N)`` each view's max old logit.
        new_logits: ``(N, V, k)`` new-row logits, or None for the unedited model.
    """
    b: torch.Tensor | None = None
    nl: torch.Tensor | None = None
    bad = rest < TINY
    z = rest
    if new_logits is not None and new_logits.shape[-1] > 0:
        nl = new_logits.transpose(0, 1)
        # computed in the logits' own (N, V, k) layout, in place: the same values, summed
        # over the same contiguous k, with fewer passes
        bad = bad | ((new_logits.amax(-1).T - m) > MAX_LEAD)
        b_nvk = (new_logits - m.T.unsqueeze(-1)).clamp_(max=MAX_LEAD).exp_()
        b = b_nvk.transpose(0, 1)
        z = rest + sum_float64(b_nvk).T
    if bad.any():
        z = torch.where(bad, torch.full_like(z, torch.inf), z)
    return (1.0 / z / rest.shape[0]).float().unsqueeze(-1), b, nl, bad


def sum_float64(x: torch.Tensor) -> torch.Tensor:
    """``x.sum(-1, dtype=torch.float64)``, bit for bit, faster for a last dim of 2 or 3.

    torch's reduction takes a slow path for 2 or 3 values per row (2.5 ms against 0.09 ms
    for SSv2-Split-A's 148,662 view rows, one thread), so those are added here in the
    order it uses, ``(x0 + x1) + x2`` (a test compares the two for every k).
    """
    k = x.shape[-1]
    if k > 3 or k < 2:
        return x.sum(-1, dtype=torch.float64)
    out = x[..., 0].double() + x[..., 1].double()
    return out + x[..., 2].double() if k == 3 else out


def view_sum(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``Σ_v x[v] · w[v]`` for ``x`` laid out ``(V, N, ·)``, one view after the other.

    View by view on purpose: a reduction kernel may sum one column in another order than
    its neighbours, which would split exact ties between identical rows.
    """
    p = x[0] * w[0]
    for v in range(1, x.shape[0]):
        p.addcmul_(x[v], w[v])
    return p


def old_lead(a: torch.Tensor, p0: torch.Tensor) -> OldLead:
    """The leading old class from the unedited model's masked probabilities ``p0`` (N, C)."""
    index = p0.argmax(1)
    rows = torch.arange(len(index))
    others = p0.clone()
    others[rows, index] = -1.0  # probabilities are ≥ 0
    # a video whose old probabilities all underflowed to 0 (its lead may be a masked
    # column) is never decided here
    runner_up = torch.where(p0.amax(1) > 0, others.amax(1), torch.inf)
    return OldLead(
        index=index,
        runner_up=runner_up,
        a_lead=a[:, rows, index].unsqueeze(-1).contiguous(),
    )


def shortcut_predictions(
    lead: OldLead,
    w: torch.Tensor,
    p_new: torch.Tensor,
    bad: torch.Tensor,
    num_classes: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictions where the leading old class provably stays ahead, and the rest's rows.

    Args:
        lead: The unedited model's lead under the same mask.
        w: ``(V, N, 1)`` the edit's view weights (:func:`view_weights`).
        p_new: ``(N, k)`` the new rows' probabilities (:func:`view_sum` of ``B``).
        bad: ``(V, N)`` views the scorer recomputes in float64.
        num_classes: ``C``; new row j is class ``C + j``.

    Returns:
        ``(predictions, unsure)``: predictions for every video, valid except at the
        ``unsure`` row indices, which must be scored with the full sum.
    """
    p_lead = view_sum(lead.a_lead, w)[:, 0]
    j = p_new.argmax(1)
    best_new = p_new.gather(1, j.unsqueeze(1))[:, 0]
    pred = torch.where(p_lead >= best_new, lead.index, num_classes + j)
    # decided: t still leads the old classes, or a new row beats every old class anyway
    decided = (p_lead > lead.runner_up) | (best_new > torch.maximum(p_lead, lead.runner_up))
    unsure = bad.any(0) | ~decided
    return pred, unsure.nonzero(as_tuple=True)[0]
