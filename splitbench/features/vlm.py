"""VLM feature spaces inside a feature store: video-language embeddings of the val videos.

A base store may hold any number of VLM spaces, each a small feature store of its own in a
sub-folder::

    <store>/vlm/<name>/store.json          model = the VLM's identity, view protocol = its
                                           views, dim = its joint dimension, extra.vlm = the
                                           VLM spec, family and text-encoder spec
    <store>/vlm/<name>/val-NNNNN.arrow     per-view L2-normalised video embeddings
    <store>/vlm/<name>/texts.safetensors   text embeddings of the subset's label texts under
                                           every prompt set (optional; see below)

Being a store of its own, a VLM space gets the same atomic, resumable shards and the same key
check (re-extracting other weights into the same folder is refused) as the base features,
and adding one leaves the base store and its key untouched.

The text side: ``extra.vlm.text_encoder`` is a text-encoder spec (``vlm-text:<VLM spec>``
for a real VLM, ``minilm`` for the synthetic benchmark's simulated VLMs) and
``extra.vlm.text_identity`` its identity. ``texts.safetensors`` holds the raw embeddings of
every text the built-in baselines ask for (the subset's base and subcategory labels, raw and
under each prompt set), written at extraction, so that the baselines run from the store on a
machine without the VLM's weights; other texts fall back to the live text encoder, which
needs the weights and caches its outputs under the same identity.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitbench.atomic import atomic_path
from splitbench.benchmarks.model import Subset
from splitbench.core.identity import data_identity
from splitbench.errors import ConfigError, DataError
from splitbench.features.store import FeatureStore
from splitbench.models.text import TextEncoder
from splitbench.models.vlm import l2_normalise

VLM_DIR = "vlm"
TEXT_TABLE = "texts.safetensors"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def vlm_dir(store_path: Path, name: str) -> Path:
    """Folder of VLM space ``name`` inside the store at ``store_path``.

    Raises:
        ConfigError: for a name that is not a plain folder name.
    """
    if not _NAME.match(name):
        raise ConfigError(
            f"VLM space name {name!r}: use lower-case letters, digits, '.', '-' and '_'"
        )
    return Path(store_path) / VLM_DIR / name


def vlm_names(store: FeatureStore) -> list[str]:
    """Names of the VLM spaces in ``store`` (sorted)."""
    root = store.path / VLM_DIR
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "store.json").is_file())


@dataclass(eq=False)
class VLMSpace:
    """One VLM space of a store.

    Attributes:
        name: Folder name.
        store: The VLM space's own feature store.
        info: ``extra.vlm`` of its store.json (spec, family, text encoder, simulation flag).
    """

    name: str
    store: FeatureStore
    info: dict[str, Any]
    _texts: dict[str, np.ndarray] | None = field(default=None, repr=False)

    @property
    def dim(self) -> int:
        """Joint embedding dimension."""
        return self.store.meta.dim

    @property
    def text_encoder_spec(self) -> str:
        """Text-encoder spec of the VLM's text side."""
        return str(self.info["text_encoder"])

    @property
    def simulation(self) -> bool:
        """Whether the embeddings are simulated."""
        return bool(self.store.meta.simulation)

    def identity(self) -> str:
        """One line naming the VLM, its weights and its views (recorded in results)."""
        m = self.store.meta
        sha = str(m.model.get("weights_sha256", ""))[:16]
        sim = "SIMULATED " if m.simulation else ""
        return (
            f"{sim}{self.info.get('spec', self.name)}"
            + (f" sha256={sha}" if sha else "")
            + f" views={m.splits['val'].views if 'val' in m.splits else 0} key={m.key}"
        )

    def val_features(self, subset: Subset) -> torch.Tensor:
        """``(N_val, V, E)`` float32 unit vectors in the subset's val-table order.

        Raises:
            DataError: when the space lacks val videos of the subset.
        """
        skipped = self.store.skipped("val")
        if skipped:
            raise DataError(
                f"{self.store.path}: VLM extraction skipped {len(skipped)} val videos "
                f"({', '.join(list(skipped)[:3])}); restore them and rerun 'splitbench extract "
                f"--encoder ... --retry-skipped'"
            )
        split = self.store.split("val")
        rows = split.rows_of([str(v) for v in subset.val.videos], store=str(self.store.path))
        return l2_normalise(torch.from_numpy(np.asarray(split.features[rows], dtype=np.float32)))

    def text_table(self) -> dict[str, np.ndarray]:
        """Stored raw text embeddings (empty when the space has none)."""
        if self._texts is None:
            self._texts = read_text_table(self.store.path)
        return self._texts

    def text_encoder(self, live: Callable[[], TextEncoder]) -> TextEncoder:
        """The VLM's text side: stored embeddings first, ``live()`` for the rest."""
        return StoredTextEncoder(self, live)


class StoredTextEncoder:
    """A VLM's text encoder that answers from the space's stored table where it can.

    Args:
        space: The VLM space.
        live: Builds the live text encoder (called only for texts not in the table).
    """

    def __init__(self, space: VLMSpace, live: Callable[[], TextEncoder]) -> None:
        self.space = space
        self.name = space.text_encoder_spec
        self.identity = str(space.info.get("text_identity", ""))
        self.dim = space.dim
        self._live_factory = live
        self._live: TextEncoder | None = None
        self.stored_hits = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Raw embeddings ``(len(texts), E)``.

        Raises:
            ConfigError: when texts are missing from the table and the live encoder cannot
                be built, or its identity differs from the one the space was made with.
        """
        table = self.space.text_table()
        todo = [t for t in dict.fromkeys(texts) if t not in table]
        found = {t: table[t] for t in texts if t in table}
        self.stored_hits += len(found)
        if todo:
            live = self._live_encoder(len(todo))
            found.update(zip(todo, np.asarray(live.encode(todo), dtype=np.float32), strict=True))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[t] for t in texts]).astype(np.float32)

    def _live_encoder(self, missing: int) -> TextEncoder:
        if self._live is None:
            try:
                enc = self._live_factory()
            except ConfigError as exc:
                raise ConfigError(
                    f"{self.space.store.path}: {missing} texts are not in the stored text table "
                    f"and the VLM text encoder {self.name!r} cannot be built here ({exc})"
                ) from None
            if self.identity and enc.identity != self.identity:
                raise ConfigError(
                    f"{self.space.store.path}: the VLM space was made with text encoder "
                    f"{self.identity!r}, but {self.name!r} is now {enc.identity!r}; re-extract "
                    f"the space (or, for the synthetic benchmark, delete its cache folder)"
                )
            self._live = enc
        return self._live


def open_vlm_space(store: FeatureStore, name: str) -> VLMSpace:
    """Open VLM space ``name`` of ``store``.

    ``name`` is an exact folder name, or a family (``clip``, ``viclip``) that exactly one
    space belongs to.

    Raises:
        DataError: when there is no such space (listing those there are), when a family is
            ambiguous, or when the space belongs to another benchmark, subset or revision.
    """
    names = vlm_names(store)
    chosen = name if name in names else None
    if chosen is None and name:
        family = [n for n in names if _family(store, n) == name]
        if len(family) > 1:
            raise DataError(
                f"{store.path}: {len(family)} VLM spaces of family {name!r} ({', '.join(family)});"
                f" choose one with --config vlm=NAME"
            )
        chosen = family[0] if family else None
    if chosen is None:
        have = ", ".join(names) if names else "none"
        raise DataError(
            f"{store.path}: no VLM space {name!r} (has {have}); add one with 'splitbench extract "
            f"--encoder clip:ViT-L-14/openai ...' or --encoder viclip:FILE"
            if name
            else f"{store.path}: no VLM space chosen (has {have}); pass --config vlm=NAME"
        )
    vstore = FeatureStore(store.path / VLM_DIR / chosen)
    m, b = vstore.meta, store.meta
    if data_identity(m) != data_identity(b):
        raise DataError(
            f"{vstore.path}: VLM space is for {m.benchmark}/{m.subset} ({m.benchmark_revision}), "
            f"its store for {b.benchmark}/{b.subset} ({b.benchmark_revision})"
        )
    info = dict(m.extra.get("vlm", {}))
    if "text_encoder" not in info:
        raise DataError(f"{vstore.path}/store.json: extra.vlm.text_encoder is missing")
    return VLMSpace(chosen, vstore, info)


def _family(store: FeatureStore, name: str) -> str:
    try:
        raw = json.loads((store.path / VLM_DIR / name / "store.json").read_text())
        return str(raw.get("extra", {}).get("vlm", {}).get("family", ""))
    except (OSError, ValueError):
        return ""


def write_text_table(folder: Path, texts: Sequence[str], embeddings: np.ndarray) -> Path:
    """Write ``texts.safetensors`` (atomically): raw embeddings plus the texts in order."""
    from safetensors.numpy import save_file

    emb = np.ascontiguousarray(embeddings, dtype=np.float32)
    if emb.shape[0] != len(texts):
        raise DataError(f"text table: {len(texts)} texts but {emb.shape[0]} embeddings")
    out = Path(folder) / TEXT_TABLE
    with atomic_path(out) as tmp:
        save_file({"embeddings": emb}, str(tmp), metadata={"texts": json.dumps(list(texts))})
    return out


def read_text_table(folder: Path) -> dict[str, np.ndarray]:
    """Read ``texts.safetensors`` (empty dict when absent).

    Raises:
        DataError: for a table whose texts and embeddings disagree.
    """
    from safetensors import safe_open

    path = Path(folder) / TEXT_TABLE
    if not path.is_file():
        return {}
    with safe_open(str(path), framework="np") as f:
        meta = f.metadata() or {}
        emb = f.get_tensor("embeddings")
    texts = json.loads(meta.get("texts", "[]"))
    if len(texts) != len(emb):
        raise DataError(f"{path}: {len(texts)} texts but {len(emb)} embeddings")
    return {str(t): np.asarray(e, dtype=np.float32) for t, e in zip(texts, emb, strict=True)}


def subset_texts(subset: Subset, prompt_sets: Sequence[str]) -> list[str]:
    """Every text the built-in baselines embed for ``subset``.

    Those are the base labels and every target's subcategory labels, under each prompt set
    (deduplicated, in a stable order).
    """
    from splitbench.models.prompts import prompt_texts

    labels = list(subset.labels)
    for t in subset.targets:
        labels.extend(t.fine_labels)
    labels = list(dict.fromkeys(labels))
    out: list[str] = []
    for p in prompt_sets:
        out.extend(prompt_texts(labels, p))
    return list(dict.fromkeys(out))
