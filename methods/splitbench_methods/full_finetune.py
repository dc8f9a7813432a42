"""``full_finetune``: finetune the whole ViT (backbone + head) on the support shots.

The paper's Table 4 full-model rows: one-shot full finetuning with coarse initialisation,
and full-data finetuning (``shots=all``, the whole ft set). Unlike every head edit these
change the backbone, so they cannot run from a fixed feature store. The method declares
``Needs(videos=True, checkpoint=True)``: it reloads the base checkpoint and decodes the
videos that the subset's store was extracted from (``store.json`` ``extra.sources``, or
``--config videos=DIR checkpoint=FILE``), and runs only where they are on disk.

One unit (target, seed):

1. draw the support shots with :func:`~splitbench.protocol.shots.sample_shots` (the same
   draw every low-shot method gets) and sample their augmented training views with the
   store's own view protocol (``train``: ``views`` random-frame, random-resized-crop views);
2. grow the head to |Y| + k rows, the k new ones a copy of the coarse row (``init=coarse``)
   or trunc-normal (``init=random``), and train **every** parameter with AdamW
   (cross-entropy over all |Y| + k logits, fine index as target, under the extraction's
   autocast);
3. extract the val features with the finetuned backbone into a new feature store (the
   extraction's loader, chunks and atomic shards; under the cache's ``finetuned-stores/``,
   keyed by base store, config, target and seed, so a rerun reuses a finished one);
4. return the edited model's view-averaged masked probabilities over Y', computed by the
   harness's :class:`~splitbench.protocol.scoring.SubsetScorer` on that store with the
   finetuned head. The harness takes the argmax and counts generality and locality (against
   the original model on the base store) exactly as for every other method.

Cost: each unit is a full val pass (SSv2-Split A: 24,777 × 6 clips) plus the training; on a
GPU that is minutes per unit, on CPU only tiny models are practical (the tests).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from splitbench.atomic import atomic_path
from splitbench.errors import ConfigError, DataError
from splitbench.features.extract_config import ExtractConfig, resolve_device
from splitbench.features.extract_plan import plan_extraction
from splitbench.features.extract_records import finish_run, store_meta
from splitbench.features.extract_run import run_extraction
from splitbench.features.sources import unmet_source_needs
from splitbench.features.store import FeatureStore
from splitbench.features.store_writer import StoreWriter
from splitbench.features.view_loader import encode_views, view_batches
from splitbench.models.base_model import BaseModel, ModelOverrides, build_base_model
from splitbench.models.checkpoint import file_sha256, read_checkpoint
from splitbench.paths import cache_dir
from splitbench.protocol import (
    Method,
    Needs,
    SplitTask,
    SubsetContext,
    VideoProbabilities,
    paper_meta,
)
from splitbench.protocol.scoring import SubsetScorer
from splitbench.protocol.shots import SHOT_POLICIES, ShotPolicy, ShotSample, sample_shots
from splitbench.video.decode import VideoFolder
from splitbench.video.views import ViewProtocol, protocol_from_record, to_model_input
from splitbench_methods._training import seeded_generator

NEW_ROWS = "new_rows.safetensors"


@dataclass(frozen=True)
class FullFinetuneConfig:
    """Options of ``full_finetune``.

    Attributes:
        shots: Support videos per subcategory, or ``"all"`` (the whole ft set).
        shot_policy: Shortfall policy of the shot sampler.
        init: New rows from the coarse row (``coarse``, the paper's row) or ``random``.
        lr: AdamW learning rate (every parameter).
        weight_decay: AdamW weight decay.
        epochs: Passes over the support views.
        batch_size: Views per step (whole videos: ``batch_size // train views``, at
            least one video).
        extract_batch: Videos per forward pass when extracting the val features.
        workers: Decoding processes (0 = in this process).
        dtype: Compute precision: ``auto`` (bfloat16 on CUDA, float32 on CPU), ``float32``,
            ``bfloat16`` or ``float16``; the extraction's setting.
        videos: The videos folder, when not the one recorded in the store.
        checkpoint: The base checkpoint, when not the one recorded in the store.
    """

    shots: int | Literal["all"] = 1
    shot_policy: ShotPolicy = "available"
    init: Literal["coarse", "random"] = "coarse"
    lr: float = 1e-4
    weight_decay: float = 0.05
    epochs: int = 10
    batch_size: int = 8
    extract_batch: int = 8
    workers: int = 0
    dtype: str = "auto"
    videos: str = ""
    checkpoint: str = ""

    def __post_init__(self) -> None:
        if self.shots != "all" and (not isinstance(self.shots, int) or self.shots < 1):
            raise ConfigError(f"shots {self.shots!r}: expected a positive integer or 'all'")
        if self.shot_policy not in SHOT_POLICIES:
            raise ConfigError(f"shot_policy {self.shot_policy!r}: expected one of {SHOT_POLICIES}")
        if self.epochs < 1 or self.batch_size < 1 or self.extract_batch < 1 or self.workers < 0:
            raise ConfigError("epochs, batch_size and extract_batch ≥ 1, workers ≥ 0")

    def overrides(self) -> tuple[Path | None, Path | None]:
        """The ``videos`` and ``checkpoint`` overrides as paths (None = the store's)."""
        return (Path(self.videos) if self.videos else None), (
            Path(self.checkpoint) if self.checkpoint else None
        )


class FullFinetune(Method[FullFinetuneConfig]):
    """Finetune the whole ViT on the support shots, re-extract val, score the new store."""

    meta = paper_meta(
        "full_finetune",
        "Full finetuning (backbone + head)",
        "Train every ViT parameter and k new head rows (coarse init) on the "
        "support shots or the whole ft set, re-extract the val features; needs the videos.",
        paper="Liu & Doughty, ICLR 2026 (Table 4, full-model rows)",
        shots=None,
        kind="full-model",
    )
    config_class: ClassVar[type[Any]] = FullFinetuneConfig
    needs = Needs(videos=True, checkpoint=True)

    @property
    def shots(self) -> int | None:
        """The configured shots (None for ``all``)."""
        return None if self.config.shots == "all" else int(self.config.shots)

    @classmethod
    def leaderboard_configs(cls) -> dict[str, dict[str, Any]]:
        """The full-data row besides the one-shot default."""
        return {"all-shot": {"shots": "all"}}

    def unmet_requirements(self, store: FeatureStore) -> list[str]:
        """The declared needs, checked with the config's path overrides."""
        videos, checkpoint = self.config.overrides()
        return unmet_source_needs(
            store, videos=True, checkpoint=True, videos_dir=videos, checkpoint_file=checkpoint
        )

    def edit(self, task: SplitTask, ctx: SubsetContext, seed: int) -> VideoProbabilities:
        """Finetune, re-extract val into a new store and return the edited probabilities."""
        cfg = self.config
        sample = sample_shots(task.subset, task.target, self.shots, seed, cfg.shot_policy)
        out = self._store_dir(task, ctx, seed)
        info: dict[str, Any] = {"init": cfg.init, "support": sample.record(), "store": str(out)}
        if not (out / NEW_ROWS).is_file():
            base, protocol = self._load(ctx)
            gen = seeded_generator(
                "full_finetune", ctx.benchmark.name, task.subset.name, task.coarse_index, seed
            )
            t0 = time.perf_counter()
            net = self._grow_head(base, task, gen)
            info["training"] = self._train(net, ctx, protocol, sample, gen)
            info["training"]["train_s"] = round(time.perf_counter() - t0, 3)
            self._extract(net, base, ctx, protocol, out, task, seed)
        else:
            info["reused_store"] = True
        return VideoProbabilities(probs=self._probabilities(out, task, ctx), info=info)

    # -- pieces -------------------------------------------------------------------------
    def _ecfg(self, ctx: SubsetContext) -> ExtractConfig:
        cfg = self.config
        return ExtractConfig(
            device=str(ctx.device),
            batch_size=cfg.extract_batch,
            workers=cfg.workers,
            dtype=cfg.dtype,
            progress=False,
        )

    def _load(self, ctx: SubsetContext) -> tuple[BaseModel, ViewProtocol]:
        videos, checkpoint = self.config.overrides()
        src = ctx.sources(videos=videos, checkpoint=checkpoint)
        assert src.checkpoint is not None
        # hashed before loading: the store's "trusted" applies to that exact file only
        digest = file_sha256(src.checkpoint)
        if digest != src.checkpoint_sha256:
            raise DataError(
                f"{src.checkpoint}: SHA-256 {digest[:12]}… is not the checkpoint the store "
                f"{ctx.store_info.path} was extracted with ({src.checkpoint_sha256[:12]}…)"
            )
        contents = read_checkpoint(src.checkpoint, trust=src.trust_checkpoint)
        arch = ctx.store_info.model["architecture"]
        overrides = ModelOverrides(
            num_heads=int(arch["num_heads"]),
            num_frames=int(arch["num_frames"]),
            img_size=int(arch["img_size"]),
            pos_embed=str(arch["pos_embed"]),
        )
        return build_base_model(contents, overrides), protocol_from_record(
            ctx.store_info.view_protocol
        )

    def _grow_head(self, base: BaseModel, task: SplitTask, gen: torch.Generator) -> nn.Module:
        """The base ViT with a |Y| + k row head (new rows per ``init``)."""
        net = base.model
        old = net.head
        assert old is not None
        c, k = task.coarse_index, task.k
        head = nn.Linear(old.in_features, old.out_features + k)
        with torch.no_grad():
            head.weight[: old.out_features] = old.weight
            head.bias[: old.out_features] = old.bias
            if self.config.init == "coarse":
                head.weight[old.out_features :] = old.weight[c]
                head.bias[old.out_features :] = old.bias[c]
            else:
                new = torch.randn((k, old.in_features), generator=gen) * 0.02
                head.weight[old.out_features :] = new.clamp(-0.04, 0.04)
                head.bias[old.out_features :] = 0.0
        net.head = head
        return net

    def _support_items(
        self, ctx: SubsetContext, sample: ShotSample
    ) -> tuple[list[tuple[str, str, Path]], np.ndarray]:
        """``(split, video, file)`` rows of the support videos and their fine labels."""
        videos, _ = self.config.overrides()
        folder = VideoFolder(ctx.sources(videos=videos).videos or Path())
        items = []
        for v in sample.videos:
            path = folder.resolve(str(v))
            if path is None:
                raise DataError(f"support video {v!r}: no file in {folder.root}")
            items.append(("train", str(v), path))
        return items, np.asarray(sample.labels, dtype=np.int64)

    def _train(
        self,
        net: nn.Module,
        ctx: SubsetContext,
        protocol: ViewProtocol,
        sample: ShotSample,
        gen: torch.Generator,
    ) -> dict[str, Any]:
        """AdamW on every parameter; views are decoded per step, so ``shots=all`` fits."""
        cfg = self.config
        if not len(sample.videos):
            return {"skipped": "no support videos (every subcategory is empty)"}
        ecfg = self._ecfg(ctx)
        device = resolve_device(ecfg)
        dtype = ecfg.compute_dtype(device)
        items, labels = self._support_items(ctx, sample)
        per_step = max(1, cfg.batch_size // protocol.train.views)  # videos per step
        net.to(device).train()
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        losses = []
        for _ in range(cfg.epochs):
            order = torch.randperm(len(items), generator=gen).tolist()
            steps = [order[i : i + per_step] for i in range(0, len(order), per_step)]
            total, seen = 0.0, 0
            loader = view_batches(items, steps, protocol, workers=cfg.workers)
            for step, batch in zip(steps, loader, strict=True):
                if batch["failed"]:
                    raise DataError(next(iter(batch["failed"].values())))
                views: torch.Tensor = batch["views"]  # (b, V, T, S, S, 3) uint8
                x = to_model_input(views.to(device), protocol.mean, protocol.std)
                y = torch.from_numpy(np.repeat(labels[step], views.shape[1])).to(device)
                with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
                    loss = nn.functional.cross_entropy(net(x).float(), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
                total += float(loss.detach()) * len(y)
                seen += len(y)
            losses.append(round(total / seen, 6))
        net.eval()
        return {
            "videos": len(items),
            "views_per_step": per_step * protocol.train.views,
            "epochs": cfg.epochs,
            "loss": losses,
        }

    def _store_dir(self, task: SplitTask, ctx: SubsetContext, seed: int) -> Path:
        key = f"{ctx.store_info.key}-{self.config_hash()}-{task.target.key}-seed{seed}"
        return cache_dir() / "finetuned-stores" / key.replace("/", "_")

    def _extract(
        self,
        net: nn.Module,
        base: BaseModel,
        ctx: SubsetContext,
        protocol: ViewProtocol,
        out: Path,
        task: SplitTask,
        seed: int,
    ) -> None:
        ecfg = self._ecfg(ctx)
        device = resolve_device(ecfg)
        dtype = ecfg.compute_dtype(device)
        videos, _ = self.config.overrides()
        folder = VideoFolder(ctx.sources(videos=videos).videos or Path())
        identity = {
            **base.identity(),
            "finetuned": {
                "method": self.name,
                "config_hash": self.config_hash(),
                "target": task.target.key,
                "seed": seed,
            },
        }
        dim = ctx.store_info.dim
        meta = store_meta(ctx.benchmark, task.subset, identity, protocol, dim, ecfg, dtype)
        writer = StoreWriter(out, meta)
        head = net.head
        assert isinstance(head, nn.Linear)
        c = ctx.num_classes
        w, b = head.weight.detach().float().cpu(), head.bias.detach().float().cpu()
        writer.write_head(w[:c].numpy(), b[:c].numpy())
        plan = plan_extraction(task.subset, folder, ecfg, splits=("val",))
        start = time.perf_counter()

        def encode(views: torch.Tensor) -> np.ndarray:
            return encode_views(net, views, protocol, device, dtype)

        desc = f"full_finetune {task.target.key} seed {seed}"
        report = run_extraction(writer, plan, folder, protocol, encode, ecfg, device, desc=desc)
        finish_run(writer, report, plan, ecfg, device, dtype, start)
        with atomic_path(out / NEW_ROWS) as tmp:  # written last: the store is complete
            save_file({"weight": w[c:].contiguous(), "bias": b[c:].contiguous()}, str(tmp))

    def _probabilities(self, out: Path, task: SplitTask, ctx: SubsetContext) -> torch.Tensor:
        store = FeatureStore(out)
        split = store.split("val")
        rows = split.rows_of([str(v) for v in task.subset.val.videos], store=str(out))
        feats = torch.from_numpy(np.asarray(split.features[rows], dtype=np.float32))
        w, b = (torch.from_numpy(a) for a in store.head())
        new = load_file(str(out / NEW_ROWS))
        scorer = SubsetScorer(feats, w, b)
        return scorer.probabilities(
            task.coarse_index, scorer.new_logits(new["weight"], new["bias"])
        )
