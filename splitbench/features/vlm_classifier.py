"""A zero-shot vision-language classifier as a base model: a store whose head is text.

:func:`vlm_classifier_store` turns a VLM space of a store into a new base store for the same
subset: its features are the VLM's per-view video embeddings, and its head rows are the
VLM's text embeddings of the subset's label names (a prompt set, L2-normalised, times
``scale``; zero bias), i.e. the zero-shot CLIP/ViCLIP classifier over Y. ``store.json``
declares this under ``model.head_space``, which is what ``text_head`` requires; the VLM
space is copied along, so the cascades and the text embeddings work on the new store too.

On the synthetic benchmark this gives a *simulated* VLM classifier (labelled as such).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from splitbench.benchmarks.model import Subset
from splitbench.errors import DataError
from splitbench.features.store import FeatureStore, StoreMeta
from splitbench.features.store_writer import StoreWriter
from splitbench.features.vlm import VLM_DIR, open_vlm_space
from splitbench.models.prompts import DEFAULT_PROMPTS, class_embeddings
from splitbench.models.text import get_text_encoder

MODEL_NAME = "vlm-zero-shot-classifier"


def vlm_classifier_store(
    store: FeatureStore,
    subset: Subset,
    vlm: str,
    out: Path,
    *,
    prompts: str = DEFAULT_PROMPTS,
    scale: float = 100.0,
) -> FeatureStore:
    """Write the zero-shot classifier of VLM space ``vlm`` of ``store`` as a base store.

    Args:
        store: A subset's feature store holding the VLM space.
        subset: The subset.
        vlm: The VLM space (folder name or family).
        out: An empty folder for the new store.
        prompts: Prompt set for the label names.
        scale: Norm of every head row (CLIP's logit scale is 100).

    Raises:
        DataError: when ``out`` holds a store already, or the space does not fit.
    """
    if (Path(out) / "store.json").exists():
        raise DataError(f"{out}: a feature store already exists here; choose an empty folder")
    space = open_vlm_space(store, vlm)
    text = space.text_encoder(lambda: get_text_encoder(space.text_encoder_spec))
    head = class_embeddings(text, list(subset.labels), prompts) * np.float32(scale)
    vm = space.store.meta
    meta = StoreMeta(
        benchmark=vm.benchmark,
        benchmark_version=vm.benchmark_version,
        benchmark_revision=vm.benchmark_revision,
        subset=vm.subset,
        model={
            "name": MODEL_NAME,
            "vlm": vm.model,
            "vlm_space_key": vm.key,
            "head_space": {
                "kind": "text",
                "text_encoder": space.text_encoder_spec,
                "text_identity": text.identity,
                "vlm": space.name,
                "prompts": prompts,
                "scale": scale,
            },
        },
        view_protocol=vm.view_protocol,
        dtype=vm.dtype,
        dim=vm.dim,
        labels=list(subset.labels),
        simulation=vm.simulation,
        extra={"note": f"zero-shot classifier of VLM space {space.name} of {store.path}"},
    )
    writer = StoreWriter(Path(out), meta)
    writer.write_head(head, np.zeros(len(subset.labels), dtype=np.float32))
    feats = space.val_features(subset).numpy()
    writer.add_shard("val", [str(v) for v in subset.val.videos], feats)
    shutil.copytree(space.store.path, Path(out) / VLM_DIR / space.name)
    return writer.finish(backbone_passes=vm.backbone_passes)
