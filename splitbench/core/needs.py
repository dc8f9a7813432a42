"""What a method declares it needs, and the check of those needs against what a store has.

The harness never checks method names: a method declares :class:`Needs`, a feature store is
summarised as :class:`Available`, and :func:`unmet` lists what is missing, each with how to
provide it. The evaluation facade checks every method against every store before any unit
runs, so an unmet need is one error line, not one failure per unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_LABELS = {
    "text_encoder": "text encoder",
    "support": "support shots",
    "val_features": "val features",
    "vlm": "VLM space",
    "text_space_head": "text-space head",
}


@dataclass(frozen=True)
class Needs:
    """Resources a method declares instead of the core checking method names.

    Attributes:
        text_encoder: Uses label or modifier texts through a text encoder.
        support: Reads support (ft-set) features from the store's ``train`` split.
        val_features: Reads the val features directly (probability-returning methods).
        vlm: Needs video-language features (a VLM space of the store).
        text_space_head: Needs a base model whose head rows are text embeddings (a
            vision-language classifier; ``store.json`` ``model.head_space``).
    """

    text_encoder: bool = False
    support: bool = False
    val_features: bool = False
    vlm: bool = False
    text_space_head: bool = False

    def describe(self) -> str:
        """The needs as a short comma list (for ``splitbench list methods``)."""
        return ", ".join(label for key, label in _LABELS.items() if getattr(self, key)) or "—"


@dataclass(frozen=True)
class Available:
    """What one feature store (and the harness around it) can provide.

    Attributes:
        where: The store, for messages.
        val: The store has a ``val`` split.
        train: The store has a ``train`` split (support-shot features).
        text_space_head: The base head's rows are text embeddings.
        vlm_spaces: Names of the store's VLM spaces.
        text_encoders: Whether a text encoder can be built (the registry has one).
    """

    where: str
    val: bool = True
    train: bool = False
    text_space_head: bool = False
    vlm_spaces: tuple[str, ...] = field(default_factory=tuple)
    text_encoders: bool = True


TEXT_SPACE_HEAD = "a base head in a text-embedding space"
SUPPORT = "support-shot features (a train split)"
VLM = "a VLM space"
VAL = "val features (a val split)"
TEXT_ENCODER = "a text encoder"

#: How to provide each need, appended to the up-front error (kept out of the short phrases,
#: which the committed leaderboard lists).
HOW: dict[str, str] = {
    TEXT_SPACE_HEAD: "use a feature store of a vision-language classifier, whose store.json "
    "declares model.head_space",
    SUPPORT: "extract the train split's support shots into the store ('splitbench extract')",
    VLM: "add one to the store with 'splitbench extract --encoder clip:ARCH/PRETRAINED' or "
    "--encoder viclip:FILE",
    VAL: "rerun 'splitbench extract' for the val split",
    TEXT_ENCODER: "install one ('splitbench list text-encoders')",
}


def unmet(needs: Needs, have: Available) -> list[str]:
    """Declared needs that ``have`` cannot meet, as short phrases (empty when all are met)."""
    checks = (
        (needs.text_space_head and not have.text_space_head, TEXT_SPACE_HEAD),
        (needs.support and not have.train, SUPPORT),
        (needs.vlm and not have.vlm_spaces, VLM),
        (needs.val_features and not have.val, VAL),
        (needs.text_encoder and not have.text_encoders, TEXT_ENCODER),
    )
    return [phrase for missing, phrase in checks if missing]


def explain(phrases: list[str]) -> str:
    """The phrases joined with "; ", each followed by how to provide it where known."""
    return "; ".join(f"{p} ({HOW[p]})" if p in HOW else p for p in phrases)
