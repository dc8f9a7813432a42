"""``modifier_retrieval`` (MR): zero-shot splitting by retrieving modifier vectors.

Paper-brief §5.1–5.2. The base model already separates the members of the groups that stay
fine-grained ("pseudo-coarse" groups c̃). For each member y of such a group,

    v_c̃ = mean of the group's weight rows,   v_m(y) = w_y − v_c̃

is a *modifier vector* with label text t_y and modifier text t_m. For a target subcategory j
with label text t_s and modifier text t_m*, every dictionary entry e is scored

    score[j, e] = α · cos(φ(t_m*), φ(t_m(e))) + β · cos(φ(t_s), φ(t_y(e)))

with L2-normalised text embeddings φ, and entries are assigned greedily one-to-one: take the
global maximum (j*, e*), set W_S[j*] = w_c + v_e*, then remove row j* and column e*. Biases
stay b_c. Deterministic, so it runs once (seed 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from splitbench.protocol import (
    PAPER,
    Method,
    Needs,
    NewRows,
    SessionSupport,
    SplitTask,
    SubsetContext,
    paper_meta,
)


@dataclass(frozen=True)
class ModifierRetrievalConfig:
    """Options of modifier retrieval.

    Attributes:
        text_encoder: Text encoder spec (``minilm`` default; ``clip-vit-l-14`` for parity).
        alpha: Weight of the modifier-text similarity.
        beta: Weight of the label-text similarity.
    """

    text_encoder: str = "minilm"
    alpha: float = 0.5
    beta: float = 0.5


@dataclass
class ModifierDictionary:
    """Dictionary entries built from a base head's fine groups.

    Attributes:
        labels: Label text t_y per entry.
        modifiers: Modifier text t_m per entry.
        groups: Pseudo-coarse group per entry.
        indices: Base index y per entry.
        vectors: ``(E, D)`` modifier vectors v_m(y) = w_y − v_c̃.
    """

    labels: list[str] = field(default_factory=list)
    modifiers: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    vectors: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 0))


def build_dictionary(ctx: SubsetContext) -> ModifierDictionary:
    """Build modifier vectors from every multi-member fine group of the subset's base head."""
    d = ModifierDictionary()
    rows = []
    for group in ctx.subset.fine_groups:
        if len(group.indices) < 2:
            continue
        w = ctx.weight[list(group.indices)]
        proto = w.mean(0)
        for text, mod, idx, row in zip(
            group.members, group.modifiers, group.indices, w, strict=True
        ):
            d.labels.append(text)
            d.modifiers.append(mod)
            d.groups.append(group.name)
            d.indices.append(int(idx))
            rows.append(row - proto)
    d.vectors = torch.stack(rows) if rows else torch.zeros(0, ctx.dim)
    return d


def greedy_assignment(scores: np.ndarray) -> list[tuple[int, int, float]]:
    """One-to-one greedy matching: repeatedly take the global maximum of ``scores``.

    Args:
        scores: ``(k, E)`` score matrix.

    Returns:
        ``(row, column, score)`` triples, at most ``min(k, E)`` of them, in pick order. Ties
        go to the lowest flat index (row-major), as ``argmax`` does.
    """
    s = np.array(scores, dtype=np.float64, copy=True)
    out: list[tuple[int, int, float]] = []
    for _ in range(min(s.shape)):
        flat = int(np.argmax(s))
        j, e = divmod(flat, s.shape[1])
        out.append((j, e, float(s[j, e])))
        s[j, :] = -np.inf
        s[:, e] = -np.inf
    return out


def _normalise(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.asarray(x / np.maximum(norm, 1e-12), dtype=np.float32)


class ModifierRetrieval(Method[ModifierRetrievalConfig]):
    """Zero-shot edit ``W_S[j] = w_c + v_m*`` with greedily retrieved modifier vectors."""

    meta = paper_meta(
        "modifier_retrieval",
        "Modifier retrieval (MR)",
        "Zero-shot: add the base model's best-matching modifier vector to the "
        "coarse row (greedy one-to-one matching on modifier and label texts).",
        paper=f"{PAPER}, §3 (MR)",
    )
    config_class = ModifierRetrievalConfig
    needs = Needs(text_encoder=True)
    deterministic = True
    session_support = SessionSupport.both(
        "the dictionary comes from the base head's fine groups, so a sequential "
        "session's rows equal the batch session's",
    )

    def __init__(self, config: ModifierRetrievalConfig | None = None) -> None:
        super().__init__(config)
        self._dict: ModifierDictionary | None = None
        self._dict_emb: tuple[np.ndarray, np.ndarray] | None = None

    def prepare(self, ctx: SubsetContext, seed: int) -> None:
        """Build the dictionary and embed its texts (once per subset)."""
        enc = ctx.text_encoder(self.config.text_encoder)
        self._dict = build_dictionary(ctx)
        self._dict_emb = (
            _normalise(enc.encode(self._dict.modifiers)),
            _normalise(enc.encode(self._dict.labels)),
        )

    def edit(self, task: SplitTask, ctx: SubsetContext, seed: int) -> NewRows:
        """Retrieve one modifier vector per subcategory and add it to the coarse row."""
        assert self._dict is not None and self._dict_emb is not None, "prepare() was not called"
        c = task.coarse_index
        weight = ctx.weight[c].repeat(task.k, 1)
        bias = ctx.bias[c].repeat(task.k)
        assignments: list[dict[str, object]] = []
        if len(self._dict.labels):
            enc = ctx.text_encoder(self.config.text_encoder)
            mod_emb = _normalise(enc.encode(task.modifiers))
            lab_emb = _normalise(enc.encode(task.fine_labels))
            scores = (
                self.config.alpha * mod_emb @ self._dict_emb[0].T
                + self.config.beta * lab_emb @ self._dict_emb[1].T
            )
            for j, e, score in greedy_assignment(scores):
                weight[j] += self._dict.vectors[e]
                assignments.append(
                    {
                        "subcategory": task.fine_labels[j],
                        "entry": self._dict.labels[e],
                        "entry_group": self._dict.groups[e],
                        "entry_index": self._dict.indices[e],
                        "score": round(score, 6),
                    }
                )
        unassigned = task.k - len(assignments)
        info: dict[str, object] = {"assignments": assignments}
        if unassigned:
            info["unassigned_rows_keep_coarse_weight"] = unassigned
        return NewRows(weight=weight, bias=bias, info=info)
