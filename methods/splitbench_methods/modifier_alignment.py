"""``modifier_alignment`` (MA): zero-shot splitting with a learned text → head-space map.

Paper-brief §5.3. The base head already contains fine-grained groups ("pseudo-coarse"
categories c̃) whose members differ by a modifier. MA learns a small MLP g from text
embeddings φ(t) to head space on pairs built from the base head alone:

* modifier pairs   (φ(modifier of y), w_y − v_c̃)  for every member y of a fine group c̃;
* category pairs   (φ(label of y), w_y)  for the same members,
                   (φ(label of c̃), v_c̃)  with v_c̃ the mean of the group's rows (prototype),
                   (φ(label), w_i)  for every single-index base class (the subset's coarse
                   targets and the singletons).

φ is the text encoder's raw output (not normalised again) and the targets are raw rows and
differences, as in the released code. g is ``Linear → GELU → … → Linear``, trained with MSE,
AdamW and a cosine schedule; training stops when an EMA of the epoch-mean cosine similarity
between g(φ(t)) and its target stops improving, and the best state is restored. The map
depends only on the base head, the base modifiers and the seed, so it is trained once per
(subset, seed) in :meth:`ModifierAlignment.prepare`. The edit is

    W_S[j] = w_c + g(φ(modifier_j)),   b_S[j] = b_c.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from splitbench.errors import ConfigError
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
from splitbench.protocol.artefacts import Artefact, shared_artefact
from splitbench_methods._mlp_fit import (
    LibraryRegressionStep,
    MLPRegressionStep,
    cosine_annealing_lrs,
)
from splitbench_methods._training import (
    EmaEarlyStopping,
    StateKeeper,
    head_digest,
    seeded_generator,
    single_thread,
)
from splitbench_methods.modifier_retrieval import build_dictionary

PAIR_KINDS = ("modifier", "fine", "pseudo-coarse", "single-index")


@dataclass(frozen=True)
class ModifierAlignmentConfig:
    """Options of modifier alignment.

    Attributes:
        text_encoder: Text encoder spec (``minilm`` default; ``clip-vit-l-14`` for parity).
        hidden: Hidden layer widths of the MLP (the paper: one layer of 384).
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay (unknown in the paper; torch's default).
        batch_size: Pairs per step.
        max_epochs: Epoch budget; also the cosine schedule's period.
        min_lr: Learning rate at the end of the cosine schedule.
        ema_beta: Smoothing of the epoch-mean cosine similarity for early stopping.
        patience: Epochs without an EMA improvement of more than ``min_delta`` before stopping.
        min_delta: Smallest EMA improvement that counts.
    """

    text_encoder: str = "minilm"
    hidden: tuple[int, ...] = (384,)
    lr: float = 1e-3
    weight_decay: float = 1e-2
    batch_size: int = 10
    max_epochs: int = 100
    min_lr: float = 0.0
    ema_beta: float = 0.95
    patience: int = 5
    min_delta: float = 1e-3

    def __post_init__(self) -> None:
        if any(h < 1 for h in self.hidden):
            raise ConfigError(f"hidden {self.hidden}: widths must be positive")
        if self.batch_size < 1 or self.max_epochs < 1 or self.patience < 1:
            raise ConfigError("batch_size, max_epochs and patience must be at least 1")
        if not 0.0 <= self.ema_beta < 1.0:
            raise ConfigError(f"ema_beta {self.ema_beta}: expected a value in [0, 1)")


@dataclass
class TrainingPairs:
    """The fixed list of (text, target vector) pairs MA is trained on.

    Attributes:
        texts: Text per pair.
        kinds: One of :data:`PAIR_KINDS` per pair.
        targets: ``(P, D)`` target vectors (raw head rows or differences).
    """

    texts: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    targets: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 0))

    def counts(self) -> dict[str, int]:
        """Pairs per kind."""
        return {k: self.kinds.count(k) for k in PAIR_KINDS}


def build_training_pairs(ctx: SubsetContext) -> TrainingPairs:
    """Modifier, fine, pseudo-coarse and single-index pairs from the subset's base head.

    The modifier pairs are the entries of
    :func:`~splitbench_methods.modifier_retrieval.build_dictionary`. Groups with fewer than
    two members contribute no modifier pairs (their modifier vector would be zero); they are
    single-index classes instead.
    """
    w = ctx.weight
    modifier_dict = build_dictionary(ctx)
    pairs = TrainingPairs(
        texts=list(modifier_dict.modifiers), kinds=["modifier"] * len(modifier_dict.modifiers)
    )
    rows: list[torch.Tensor] = list(modifier_dict.vectors)

    def add(text: str, kind: str, row: torch.Tensor) -> None:
        pairs.texts.append(text)
        pairs.kinds.append(kind)
        rows.append(row)

    for g in ctx.subset.fine_groups:
        if len(g.indices) < 2:
            continue
        members = w[list(g.indices)]
        for text, row in zip(g.members, members, strict=True):
            add(text, "fine", row)
        add(g.name, "pseudo-coarse", members.mean(0))
    single: list[tuple[str, int]] = [(t.name, t.coarse_index) for t in ctx.subset.targets]
    single += [(ctx.subset.labels[i], i) for i in ctx.subset.singletons]
    single += [(g.members[0], g.indices[0]) for g in ctx.subset.fine_groups if len(g.indices) == 1]
    for text, idx in single:
        add(text, "single-index", w[idx])
    pairs.targets = torch.stack(rows) if rows else torch.zeros(0, ctx.dim)
    return pairs


def make_mlp(
    in_dim: int, hidden: tuple[int, ...], out_dim: int, generator: torch.Generator
) -> nn.Sequential:
    """``Linear → GELU → … → Linear`` initialised like ``nn.Linear`` from ``generator``."""
    dims = [in_dim, *hidden, out_dim]
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        lin = nn.Linear(dims[i], dims[i + 1])
        nn.init.kaiming_uniform_(lin.weight, a=math.sqrt(5), generator=generator)
        bound = 1.0 / math.sqrt(dims[i])
        nn.init.uniform_(lin.bias, -bound, bound, generator=generator)
        layers.append(lin)
        if i < len(dims) - 2:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


@dataclass
class AlignmentMap:
    """A trained map g from text embeddings to head space.

    Attributes:
        mlp: The MLP (eval mode, frozen).
        summary: JSON-ready description of the training run.
    """

    mlp: nn.Sequential
    summary: dict[str, Any]

    def __call__(self, embeddings: np.ndarray) -> torch.Tensor:
        """Map ``(n, T)`` raw text embeddings to ``(n, D)`` head-space vectors.

        On one thread, as the map was trained: the products' last bits depend on the
        thread count, which differs between a serial run and ``--jobs`` workers.
        """
        with torch.no_grad(), single_thread():
            out: torch.Tensor = self.mlp(torch.from_numpy(np.asarray(embeddings, dtype=np.float32)))
        return out


#: Bump when :func:`fit_alignment` changes what it computes (keys cached maps).
TRAINING_VERSION = "1"


def train_alignment(ctx: SubsetContext, seed: int, config: ModifierAlignmentConfig) -> AlignmentMap:
    """The map g for the subset's pairs under ``seed`` (deterministic for a given seed).

    Trained once per process and cache (:func:`splitbench.protocol.artefacts.shared_artefact`),
    keyed by the training pairs and their text embeddings (so by the base head and the
    modifiers), the seed, the config and the torch version: the MA method and low-shot
    finetuning's MA initialisation share one map.

    Raises:
        ConfigError: when the base head has no training pairs.
    """
    pairs = build_training_pairs(ctx)
    if not pairs.texts:
        raise ConfigError(
            f"{ctx.benchmark.name}/{ctx.subset.name}: the base head has no classes to build "
            f"modifier-alignment pairs from"
        )
    enc = ctx.text_encoder(config.text_encoder)
    x = torch.from_numpy(np.asarray(enc.encode(pairs.texts), dtype=np.float32))
    y = pairs.targets.float().contiguous()
    parts = {
        "version": TRAINING_VERSION,
        "torch": torch.__version__,
        "where": (ctx.benchmark.name, ctx.subset.name),
        "seed": seed,
        "config": dataclasses.asdict(config),
        "encoder": enc.identity,
        "texts": pairs.texts,
        "kinds": pairs.kinds,
        "x": x,
        "y": y,
    }

    def build() -> Artefact:
        amap = fit_alignment(ctx, seed, config, pairs, x, y)
        return Artefact(dict(amap.mlp.state_dict()), amap.summary)

    art = shared_artefact("modifier_alignment", parts, build)
    gen = seeded_generator("modifier_alignment", ctx.benchmark.name, ctx.subset.name, seed)
    mlp = make_mlp(x.shape[1], tuple(config.hidden), y.shape[1], gen)
    mlp.load_state_dict(art.tensors)
    mlp.eval()
    mlp.requires_grad_(False)
    return AlignmentMap(mlp, dict(art.record))


def fit_alignment(
    ctx: SubsetContext,
    seed: int,
    config: ModifierAlignmentConfig,
    pairs: TrainingPairs,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    library: bool = False,
) -> AlignmentMap:
    """Train g on ``pairs`` (text embeddings ``x``, targets ``y``) under ``seed``.

    ``library=True`` takes the steps through autograd and ``torch.optim.AdamW`` instead of
    :class:`~splitbench_methods._mlp_fit.MLPRegressionStep` (same result bit for bit,
    slower; the tests and ``bench/bench_ma_map.py`` compare them).
    """
    gen = seeded_generator("modifier_alignment", ctx.benchmark.name, ctx.subset.name, seed)
    with single_thread():
        mlp = make_mlp(x.shape[1], tuple(config.hidden), y.shape[1], gen)
        step_class = LibraryRegressionStep if library else MLPRegressionStep
        trainer = step_class(mlp, config.weight_decay)
        lrs = cosine_annealing_lrs(config.lr, config.min_lr, config.max_epochs, config.max_epochs)
        stopper = EmaEarlyStopping(config.ema_beta, config.patience, config.min_delta, "max")
        best = StateKeeper(trainer.params)
        n, bs = len(pairs.texts), config.batch_size
        stop = "max_epochs"
        for lr in lrs:
            perm = torch.randperm(n, generator=gen)
            xs, ys = x[perm], y[perm]  # one gather per epoch; batches are slices
            for i in range(0, n, bs):
                trainer.step(xs[i : i + bs], ys[i : i + bs], lr)
            with torch.no_grad():
                cos = float(nn.functional.cosine_similarity(trainer.forward(x), y, dim=1).mean())
            if stopper.update(cos):
                best.save()
            elif stopper.should_stop:
                stop = "early_stopping"
                break
        best.restore()
        mlp.eval()
        mlp.requires_grad_(False)
        with torch.no_grad():
            final_cos = nn.functional.cosine_similarity(mlp(x), y, dim=1)
    summary = {
        "pairs": pairs.counts(),
        "epochs": stopper.epoch,
        "best_epoch": stopper.best_epoch,
        "stop": stop,
        "best_ema_cosine": round(stopper.best, 6),
        "train_cosine": {
            kind: round(float(final_cos[[k == kind for k in pairs.kinds]].mean()), 6)
            for kind in PAIR_KINDS
            if kind in pairs.kinds
        },
        "text_dim": int(x.shape[1]),
    }
    return AlignmentMap(mlp, summary)


class ModifierAlignment(Method[ModifierAlignmentConfig]):
    """Zero-shot edit ``W_S[j] = w_c + g(φ(modifier_j))`` with a learned alignment map g."""

    meta = paper_meta(
        "modifier_alignment",
        "Modifier alignment (MA)",
        "Zero-shot: map each subcategory's modifier text to a head-space offset "
        "with an MLP trained on the base head's modifier and category pairs.",
        paper=f"{PAPER}, §3 (MA)",
    )
    config_class = ModifierAlignmentConfig
    needs = Needs(text_encoder=True)
    prepare_ahead = True  # the map is a shared artefact (cached on disk)
    session_support = SessionSupport.both(
        "the map is trained once per seed on the base head (earlier targets' rows are "
        "not training pairs), so a sequential session's rows equal the batch session's",
    )

    def __init__(self, config: ModifierAlignmentConfig | None = None) -> None:
        super().__init__(config)
        self._maps: dict[tuple[str, str, str, int], AlignmentMap] = {}

    def alignment(self, ctx: SubsetContext, seed: int) -> AlignmentMap:
        """The map for (subset, base head, seed), trained on first use."""
        # keyed by the base rows only: in a sequential session the head also holds earlier
        # targets' rows, which the map does not train on
        n = ctx.subset.num_labels
        key = (ctx.benchmark.name, ctx.subset.name, head_digest(ctx.weight[:n], ctx.bias[:n]), seed)
        if key not in self._maps:
            self._maps[key] = train_alignment(ctx, seed, self.config)
        return self._maps[key]

    def prepare(self, ctx: SubsetContext, seed: int) -> None:
        """Train the alignment map once for this subset and seed."""
        ctx.resources["modifiers"] = ctx.benchmark.modifier_source
        self.alignment(ctx, seed)

    def deltas(
        self, task: SplitTask, ctx: SubsetContext, seed: int
    ) -> tuple[torch.Tensor, AlignmentMap]:
        """The mapped modifiers g(φ(modifier_j)), ``(k, D)``, and the map g they came from."""
        amap = self.alignment(ctx, seed)
        return amap(ctx.text_encoder(self.config.text_encoder).encode(task.modifiers)), amap

    def edit(self, task: SplitTask, ctx: SubsetContext, seed: int) -> NewRows:
        """Add the mapped modifier of each subcategory to the coarse row."""
        deltas, amap = self.deltas(task, ctx, seed)
        c = task.coarse_index
        weight = ctx.weight[c].unsqueeze(0) + deltas
        bias = ctx.bias[c].repeat(task.k)
        info = {
            "modifiers": list(task.modifiers),
            "delta_norms": [round(float(v), 6) for v in deltas.norm(dim=1)],
            "alignment": amap.summary,
        }
        return NewRows(weight=weight, bias=bias, info=info)
