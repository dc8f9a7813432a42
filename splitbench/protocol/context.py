"""What a method sees: the subset context and one split task."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from splitbench.benchmarks.model import Benchmark, SplitTarget, Subset
from splitbench.errors import DataError
from splitbench.features.sharded import ShardedFeatures
from splitbench.features.sources import StoreSources, require_sources
from splitbench.features.store import FeatureStore
from splitbench.models.text import DEFAULT_TEXT_ENCODER, TextEncoder, get_text_encoder
from splitbench.protocol.needs import text_head_space

if TYPE_CHECKING:
    from splitbench.features.vlm import VLMSpace


@dataclass(frozen=True, eq=False)
class SplitTask:
    """One split target, as handed to :meth:`Method.edit`.

    Attributes:
        target: The target (coarse index, fine labels and indices, modifiers, video sets).
        subset: The subset it belongs to.
    """

    target: SplitTarget
    subset: Subset

    @property
    def coarse_index(self) -> int:
        """Index of the coarse class in the base label space."""
        return self.target.coarse_index

    @property
    def k(self) -> int:
        """Number of subcategories."""
        return self.target.k

    @property
    def fine_labels(self) -> tuple[str, ...]:
        """Subcategory texts, in fine-index order."""
        return self.target.fine_labels

    @property
    def modifiers(self) -> tuple[str, ...]:
        """Modifier phrase per subcategory."""
        return self.target.modifiers

    def support_pool(self) -> tuple[np.ndarray, np.ndarray]:
        """The ft set: ``(video ids, fine labels)`` — the pool low-shot methods draw from."""
        ft = self.target.ft
        return self.subset.train.videos[ft.rows], ft.labels


@dataclass(frozen=True)
class StoreInfo:
    """What a method may know of the subset's feature store.

    A copy: changing it changes nothing the harness uses.

    Attributes:
        path: The store's folder (for messages and for methods that write stores of their
            own next to it).
        key: The store's identity key.
        dim: Feature dimension D.
        model: The base model's record in ``store.json`` (name, architecture, head space).
        view_protocol: The view protocol the features were extracted with.
    """

    path: Path
    key: str
    dim: int
    model: dict[str, Any]
    view_protocol: dict[str, Any]


@dataclass(eq=False)
class SubsetContext:
    """Everything shared by the units of one subset.

    The feature store itself is not handed to methods: they read features through
    :meth:`val_features`, :meth:`support_features` and :meth:`vlm`, the store's identity
    through :attr:`store_info` and its recorded inputs through :meth:`sources`.

    Attributes:
        benchmark: The benchmark.
        subset: The subset.
        _store: Its feature store (the harness's; methods use the accessors above).
        weight: Base head weight ``(C, D)`` (treat as read-only).
        bias: Base head bias ``(C,)``.
        device: Torch device for methods that train.
        resources: Identities of resources used (text encoders), recorded in results.
    """

    benchmark: Benchmark
    subset: Subset
    _store: FeatureStore
    weight: torch.Tensor
    bias: torch.Tensor
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    resources: dict[str, str] = field(default_factory=dict)
    text_encoder_factory: Callable[[str], TextEncoder] = get_text_encoder
    _encoders: dict[str, TextEncoder] = field(default_factory=dict)
    _val: torch.Tensor | None = None
    _vlms: dict[str, VLMSpace] = field(default_factory=dict)

    @property
    def store_info(self) -> StoreInfo:
        """The feature store's identity: path, key, dimension, base model, view protocol."""
        meta = self._store.meta
        return StoreInfo(
            path=self._store.path,
            key=meta.key,
            dim=int(meta.dim),
            model=copy.deepcopy(meta.model),
            view_protocol=copy.deepcopy(meta.view_protocol),
        )

    def sources(
        self, *, videos: Path | None = None, checkpoint: Path | None = None
    ) -> StoreSources:
        """The videos and checkpoint the store was extracted from, all present.

        ``videos``/``checkpoint`` override the recorded paths (e.g. on another machine).

        Raises:
            DataError: naming what is missing.
        """
        return require_sources(self._store, videos=videos, checkpoint=checkpoint)

    @property
    def dim(self) -> int:
        """Feature dimension D."""
        return int(self.weight.shape[1])

    @property
    def num_classes(self) -> int:
        """Size of the base label space |Y|."""
        return int(self.weight.shape[0])

    def text_encoder(self, spec: str = DEFAULT_TEXT_ENCODER) -> TextEncoder:
        """The (cached) text encoder for ``spec``; its identity is recorded in results."""
        if spec not in self._encoders:
            self._encoders[spec] = self.text_encoder_factory(spec)
        enc = self._encoders[spec]
        self.resources[f"text_encoder:{spec}"] = enc.identity
        return enc

    def vlm(self, name: str) -> VLMSpace:
        """A VLM space of the store (video-language embeddings of the val videos).

        ``name`` is a space's folder name or a family (``clip``, ``viclip``) with exactly
        one space; the space's identity is recorded in results. See
        :mod:`splitbench.features.vlm`.

        Raises:
            DataError: when the store has no such space.
        """
        from splitbench.features.vlm import open_vlm_space  # local: only VLM methods pay it

        if name not in self._vlms:
            self._vlms[name] = open_vlm_space(self._store, name)
        space = self._vlms[name]
        self.resources[f"vlm:{space.name}"] = space.identity()
        return space

    def vlm_text_encoder(self, space: VLMSpace) -> TextEncoder:
        """The text side of ``space``: its stored embeddings, else its live text encoder."""
        enc = space.text_encoder(lambda: self.text_encoder(space.text_encoder_spec))
        self.resources[f"text_encoder:{space.text_encoder_spec}"] = enc.identity
        return enc

    def head_text_space(self) -> dict[str, Any] | None:
        """How the base head's rows were made, when they are text embeddings, else None.

        A store whose base model is a vision-language classifier (head rows = scaled text
        embeddings of the label names) says so in ``store.json`` under ``model.head_space``:
        ``{"kind": "text", "text_encoder": spec, "prompts": name, "vlm": space or null}``.
        """
        return text_head_space(self._store)

    def val_features(self) -> torch.Tensor:
        """``(N_val, V, D)`` float32 features in the subset's val-table order."""
        if self._val is None:
            self._val = load_val_features(self.subset, self._store)
        return self._val

    def support_features(self, videos: np.ndarray | list[str]) -> torch.Tensor:
        """``(n, V_train, D)`` float32 features of train videos from the store.

        Raises:
            DataError: if the store has no train split or lacks one of the videos.
        """
        if not self._store.has_split("train"):
            raise DataError(
                f"feature store {self._store.path} has no 'train' split; extract support-shot "
                f"features for this subset first"
            )
        split = self._store.split("train")
        rows = split.rows_of([str(v) for v in videos], store=str(self._store.path))
        return torch.from_numpy(np.asarray(split.features[rows], dtype=np.float32))


def load_val_features(subset: Subset, store: FeatureStore) -> torch.Tensor:
    """``(N_val, V, D)`` float32 features of ``store`` in ``subset``'s val-table order.

    A float16 store is widened by torch's vectorised conversion straight from the memory
    map (shard by shard, into one NumPy-allocated array), which is exact, like NumPy's
    ``astype`` it replaces, and 3–10× faster on an SSv2-size split.
    """
    split = store.split("val")
    rows = split.rows_of(subset.val.videos.tolist(), store=str(store.path))
    feats = split.features
    if not (len(rows) == len(feats) and np.array_equal(rows, np.arange(len(rows)))):
        feats = feats[rows]  # the store's order differs from val.csv: reorder (copy)
    if feats.dtype != np.float16:
        return torch.from_numpy(np.asarray(feats, dtype=np.float32))
    return widen_half(feats.parts if isinstance(feats, ShardedFeatures) else [feats])


def widen_half(parts: Sequence[np.ndarray]) -> torch.Tensor:
    """Float16 arrays (stacked along axis 0) as one float32 tensor, bit-exact.

    The output is allocated by NumPy, as ``np.asarray(..., dtype=np.float32)`` allocated
    it, so what the scorer's matmuls see (memory layout and alignment) is unchanged.
    """
    n = sum(len(p) for p in parts)
    out = np.empty((n, *parts[0].shape[1:]), dtype=np.float32)
    dst, start = torch.from_numpy(out), 0
    with warnings.catch_warnings():  # a read-only memory map: only read, never written
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        for part in parts:
            dst[start : start + len(part)].copy_(torch.from_numpy(part))
            start += len(part)
    return dst
