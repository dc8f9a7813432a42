"""Configs of the low-shot finetuning methods (:mod:`splitbench_methods.lowshot_finetune`).

:class:`FinetuneOptions` holds the options every variant shares (shots, shortfall policy and
the training recipe); each variant's config fixes or adds the initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from splitbench.errors import ConfigError
from splitbench.protocol.shots import SHOT_POLICIES, ShotPolicy
from splitbench_methods.modifier_alignment import ModifierAlignmentConfig

InitName = Literal["random", "coarse", "modifier_alignment"]
INITS: tuple[str, ...] = ("random", "coarse", "modifier_alignment")


@dataclass(frozen=True)
class FinetuneOptions:
    """Options shared by every low-shot finetuning variant.

    Attributes:
        shots: Support videos per subcategory (1, 2, 5, 10, …) or ``"all"`` (the whole ft
            set: the full-data head-only reference).
        shot_policy: When a subcategory has fewer ft videos than ``shots``: ``available``
            (use what it has, recorded), ``whole-ft`` (the released code's fallback to the
            whole ft set) or ``strict`` (error naming the subcategory).
        dropout: Feature dropout probability during training.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        batch_size: Samples (views) per step.
        max_epochs: Epoch budget; also the cosine schedule's period.
        min_lr: Learning rate at the end of the cosine schedule.
        ema_beta: Smoothing of the epoch loss for early stopping.
        patience: Epochs without an EMA improvement of more than ``min_delta``.
        min_delta: Smallest EMA improvement that counts.
        val_ratio: Held-out share of each subcategory's ft videos for ``shots=all``.
    """

    shots: int | Literal["all"] = 1
    shot_policy: ShotPolicy = "available"
    dropout: float = 0.25
    lr: float = 1e-3
    weight_decay: float = 1e-3
    batch_size: int = 16
    max_epochs: int = 100
    min_lr: float = 0.0
    ema_beta: float = 0.95
    patience: int = 5
    min_delta: float = 1e-3
    val_ratio: float = 0.1

    @property
    def init(self) -> str:
        """The initialisation (fixed by the variant, or a field of the generic config)."""
        raise NotImplementedError

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise ConfigError(f"init {self.init!r}: expected one of {', '.join(INITS)}")
        if self.shots != "all" and (not isinstance(self.shots, int) or self.shots < 1):
            raise ConfigError(f"shots {self.shots!r}: expected a positive integer or 'all'")
        if self.shot_policy not in SHOT_POLICIES:
            raise ConfigError(
                f"shot_policy {self.shot_policy!r}: expected one of {', '.join(SHOT_POLICIES)}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout {self.dropout}: expected a value in [0, 1)")
        if not 0.0 < self.val_ratio < 1.0:
            raise ConfigError(f"val_ratio {self.val_ratio}: expected a value in (0, 1)")
        if self.batch_size < 1 or self.max_epochs < 1 or self.patience < 1:
            raise ConfigError("batch_size, max_epochs and patience must be at least 1")


@dataclass(frozen=True)
class LowShotFinetuneConfig(FinetuneOptions):
    """Options of ``lowshot_finetune`` (every :class:`FinetuneOptions` field, plus these).

    Attributes:
        init: Initialisation of the new rows: ``random``, ``coarse`` or
            ``modifier_alignment`` (default, the paper's method).
        ma_init: ``paper`` (w_c + Δ, b_c) or ``released-code`` (trunc_normal(0.02) + Δ,
            zero bias); only used with ``init=modifier_alignment``.
        text_encoder: Text encoder of the MA initialisation.
        ma_hidden: Hidden widths of the MA map.
    """

    init: InitName = "modifier_alignment"  # type: ignore[assignment]
    ma_init: Literal["paper", "released-code"] = "paper"
    text_encoder: str = "minilm"
    ma_hidden: tuple[int, ...] = (384,)

    def alignment_config(self) -> ModifierAlignmentConfig:
        """The MA config used for the ``modifier_alignment`` initialisation."""
        return ModifierAlignmentConfig(text_encoder=self.text_encoder, hidden=self.ma_hidden)


@dataclass(frozen=True)
class LowShotCoarseConfig(FinetuneOptions):
    """Options of ``lowshot_finetune_coarse``: init fixed to ``coarse``."""

    init: Literal["coarse"] = "coarse"  # type: ignore[assignment]


@dataclass(frozen=True)
class LowShotRandomConfig(FinetuneOptions):
    """Options of ``lowshot_finetune_random``: init fixed to ``random``."""

    init: Literal["random"] = "random"  # type: ignore[assignment]
