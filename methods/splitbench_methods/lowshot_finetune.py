"""``lowshot_finetune``: train only the k new head rows on a few labelled videos.

Paper-brief §6. The backbone and the old head rows stay frozen; only ``W_S`` (k × D) and
``b_S`` (k) are trained, on the store's ``train``-split features of the sampled support
shots. Every stored view of a shot video is one (augmented) training sample. Features pass
through dropout (p = 0.25) before the head, as in the paper's ``NewHead``; the loss is
cross-entropy over **all** |Y| + k logits, the coarse logit included, with the fine index as
target. AdamW (lr 1e-3, weight decay 1e-3), batch 16, cosine annealing over ``max_epochs``.

Early stopping follows the released code: with k shots there is no validation data, so an
EMA (β 0.95) of the epoch's training loss decides (patience 5, min-delta 1e-3) and the last
weights are kept; with ``shots=all`` a stratified ``val_ratio`` split of the ft set is held
out, the EMA runs on its loss and the best state is restored.

Initialisations:

* ``random``: trunc-normal (std 0.02) weights, zero bias;
* ``coarse``: a copy of (w_c, b_c) — the released code's default;
* ``modifier_alignment``: the zero-shot MA edit. ``ma_init="paper"`` (default) starts from
  (w_c + g(φ(m)), b_c) as the paper describes; ``ma_init="released-code"`` reproduces the
  released code, whose ``--weight_init ma`` falls into the random branch:
  (trunc_normal(0.02) + g(φ(m)), 0).

Shots are drawn with :func:`splitbench.protocol.shots.sample_shots`, seeded per (target,
seed) and independent of the method, and recorded in the unit result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn

from splitbench.core.hashing import sha256_hex
from splitbench.errors import ConfigError, DataError
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
from splitbench.protocol.shots import SHOT_POLICIES, ShotPolicy, ShotSample, sample_shots
from splitbench_methods._lowshot_fit import (
    SupportData,
    fit_new_rows,
    holdout_split,
    views_as_samples,
)
from splitbench_methods._training import seeded_generator, single_thread
from splitbench_methods.modifier_alignment import (
    AlignmentMap,
    ModifierAlignment,
    ModifierAlignmentConfig,
)

# The training loop lives in _lowshot_fit; re-exported here, where its users import it from.
__all__ = [
    "INITS",
    "FinetuneOptions",
    "InitName",
    "LowShotCoarseConfig",
    "LowShotFinetune",
    "LowShotFinetuneCoarse",
    "LowShotFinetuneConfig",
    "LowShotFinetuneRandom",
    "LowShotRandomConfig",
    "SupportData",
    "fit_new_rows",
    "holdout_split",
]

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


def _trunc_normal(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    out = torch.empty(shape)
    nn.init.trunc_normal_(out, std=0.02, a=-2.0, b=2.0, generator=generator)
    return out


class LowShotFinetune(Method[FinetuneOptions]):
    """Train the k new rows on a few support shots (head only), from a chosen init."""

    meta = paper_meta(
        "lowshot_finetune",
        "Low-shot finetuning (head only)",
        "Train only the k new rows on sampled support shots (CE over all "
        "logits, feature dropout, EMA early stopping); init random | coarse | "
        "modifier_alignment (default).",
        paper=f"{PAPER}, §4 (low-shot finetuning)",
        shots=None,
    )
    config_class: ClassVar[type[Any]] = LowShotFinetuneConfig
    needs = Needs(text_encoder=True, support=True)
    prepare_ahead = True  # the MA initialisation's map is a shared artefact
    session_support = SessionSupport.both(
        "trains each target's rows on its own shots, with cross-entropy over the current "
        "head (base rows and earlier targets' rows, all frozen)",
    )

    def __init__(self, config: FinetuneOptions | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self._ma = (
            ModifierAlignment(cfg.alignment_config())
            if isinstance(cfg, LowShotFinetuneConfig) and cfg.init == "modifier_alignment"
            else None
        )

    @property
    def shots(self) -> int | None:
        """Shots per subcategory from the config (None for ``all``)."""
        return None if self.config.shots == "all" else int(self.config.shots)

    # -- preparation --------------------------------------------------------------------
    def prepare(self, ctx: SubsetContext, seed: int) -> None:
        """Train the MA map for this (subset, seed) when the init needs it."""
        if self._ma is not None:
            self._ma.prepare(ctx, seed)

    def _alignment(self, ctx: SubsetContext, seed: int) -> AlignmentMap:
        assert self._ma is not None, "init is not modifier_alignment"
        return self._ma.alignment(ctx, seed)

    # -- one unit -----------------------------------------------------------------------
    def edit(self, task: SplitTask, ctx: SubsetContext, seed: int) -> NewRows:
        """Sample shots, initialise the k rows and train them."""
        cfg = self.config
        sample = sample_shots(task.subset, task.target, self.shots, seed, cfg.shot_policy)
        gen = seeded_generator(
            "lowshot_finetune", ctx.benchmark.name, task.subset.name, task.coarse_index, seed
        )
        weight, bias, init_info = self.initial_rows(task, ctx, seed, gen)
        info: dict[str, Any] = {
            "init": cfg.init,
            **init_info,
            "support": self._shot_record(sample),
        }
        if not sample.videos:
            info["training"] = {"skipped": "no support videos (every subcategory is empty)"}
            return NewRows(weight=weight, bias=bias, info=info)
        data = self.support_data(task, ctx, sample, gen)
        weight, bias, train_info = self.train_rows(ctx, data, weight, bias, gen)
        info["training"] = train_info
        return NewRows(weight=weight, bias=bias, info=info)

    def initial_rows(
        self, task: SplitTask, ctx: SubsetContext, seed: int, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        """The k starting rows and biases for ``config.init``."""
        cfg = self.config
        c, k, d = task.coarse_index, task.k, ctx.dim
        if cfg.init == "random":
            return _trunc_normal((k, d), gen), torch.zeros(k), {}
        if cfg.init == "coarse":
            return ctx.weight[c].repeat(k, 1), ctx.bias[c].repeat(k), {}
        assert isinstance(cfg, LowShotFinetuneConfig) and self._ma is not None
        deltas, amap = self._ma.deltas(task, ctx, seed)
        extra: dict[str, Any] = {
            "ma_init": cfg.ma_init,
            "modifiers": list(task.modifiers),
            "alignment": amap.summary,
        }
        if cfg.ma_init == "released-code":
            return _trunc_normal((k, d), gen) + deltas, torch.zeros(k), extra
        return ctx.weight[c].unsqueeze(0) + deltas, ctx.bias[c].repeat(k), extra

    def support_data(
        self, task: SplitTask, ctx: SubsetContext, sample: ShotSample, gen: torch.Generator
    ) -> SupportData:
        """Features of the sampled shots, every stored view as one sample.

        Raises:
            DataError: when the store lacks a train split or a shot video.
        """
        feats = ctx.support_features(list(sample.videos))
        labels = np.asarray(sample.labels, dtype=np.int64)
        if feats.shape[0] != len(labels):  # pragma: no cover - guarded by the store
            raise DataError("support features and labels differ in length")
        views = int(feats.shape[1])
        if self.config.shots != "all":
            x, y = views_as_samples(feats, labels)
            return SupportData(x, y, None, None, views)
        tr, va = holdout_split(labels, self.config.val_ratio, gen)
        x, y = views_as_samples(feats[torch.from_numpy(tr)], labels[tr])
        if len(va) == 0:
            return SupportData(x, y, None, None, views)
        xv, yv = views_as_samples(feats[torch.from_numpy(va)], labels[va])
        return SupportData(x, y, xv, yv, views)

    def train_rows(
        self,
        ctx: SubsetContext,
        data: SupportData,
        weight: torch.Tensor,
        bias: torch.Tensor,
        gen: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Train the new rows with CE over all logits; return them and a training record."""
        with single_thread():
            return fit_new_rows(
                data, ctx.weight.float(), ctx.bias.float(), weight, bias, self.config, gen
            )

    @staticmethod
    def _shot_record(sample: ShotSample) -> dict[str, object]:
        rec = sample.record()
        if sample.shots is None or (sample.policy_applied and sample.policy == "whole-ft"):
            videos = list(sample.videos)
            rec["videos"] = f"{len(videos)} videos (the whole ft set)"
            rec["videos_sha256"] = sha256_hex("\n".join(videos), 16)
            rec.pop("labels", None)
        rec["count"] = len(sample.videos)
        return rec


class LowShotFinetuneCoarse(LowShotFinetune):
    """Low-shot finetuning from the coarse row (the released code's default init)."""

    meta = paper_meta(
        "lowshot_finetune_coarse",
        "Low-shot finetuning, coarse init",
        "lowshot_finetune with init=coarse: the new rows start as copies of (w_c, b_c).",
        paper=LowShotFinetune.meta.paper,
        shots=None,
    )
    config_class = LowShotCoarseConfig
    needs = Needs(support=True)
    prepare_ahead = False  # nothing to prepare


class LowShotFinetuneRandom(LowShotFinetune):
    """Low-shot finetuning from random rows (trunc-normal 0.02, zero bias)."""

    meta = paper_meta(
        "lowshot_finetune_random",
        "Low-shot finetuning, random init",
        "lowshot_finetune with init=random: trunc-normal(0.02) rows, zero bias.",
        paper=LowShotFinetune.meta.paper,
        shots=None,
    )
    config_class = LowShotRandomConfig
    needs = Needs(support=True)
    prepare_ahead = False  # nothing to prepare
