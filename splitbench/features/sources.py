"""The inputs a store was extracted from: its videos folder and base checkpoint.

Extraction records them under ``store.json`` ``extra.sources`` (absolute paths and whether
the checkpoint needed ``--trust-checkpoint``). Methods that train the backbone declare
``Needs(videos=True, checkpoint=True)``; they can run only where those inputs are still on
disk. A simulated store, or one downloaded from a hub, has none, and says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from splitbench.errors import DataError
from splitbench.features.store import FeatureStore


@dataclass(frozen=True)
class StoreSources:
    """Where a store's inputs are.

    Attributes:
        videos: The folder of videos.
        checkpoint: The base checkpoint file.
        trust_checkpoint: Whether loading it needed full unpickling (``--trust-checkpoint``).
        checkpoint_sha256: The checkpoint's digest in the store's identity.
    """

    videos: Path | None
    checkpoint: Path | None
    trust_checkpoint: bool
    checkpoint_sha256: str


def store_sources(
    store: FeatureStore, *, videos: Path | None = None, checkpoint: Path | None = None
) -> StoreSources:
    """The recorded sources of ``store``, with ``videos``/``checkpoint`` overriding them."""
    raw = store.meta.extra.get("sources") or {}
    v = videos or (Path(raw["videos"]) if raw.get("videos") else None)
    c = checkpoint or (Path(raw["checkpoint"]) if raw.get("checkpoint") else None)
    sha = str(store.meta.model.get("checkpoint_sha256", ""))
    return StoreSources(v, c, bool(raw.get("trust_checkpoint", False)), sha)


def unmet_source_needs(
    store: FeatureStore,
    *,
    videos: bool,
    checkpoint: bool,
    videos_dir: Path | None = None,
    checkpoint_file: Path | None = None,
) -> list[str]:
    """What of the videos and checkpoint ``store`` was made from is not available here."""
    if not (videos or checkpoint):
        return []
    if store.meta.simulation:
        return ["the videos and base checkpoint behind the features (a simulated store has none)"]
    src = store_sources(store, videos=videos_dir, checkpoint=checkpoint_file)
    missing = []
    if videos and (src.videos is None or not src.videos.is_dir()):
        where = f" ({src.videos} is not a folder here)" if src.videos else ""
        missing.append(f"the videos the store was extracted from{where}")
    if checkpoint and (src.checkpoint is None or not src.checkpoint.is_file()):
        where = f" ({src.checkpoint} is not a file here)" if src.checkpoint else ""
        missing.append(f"the base checkpoint the store was extracted from{where}")
    return missing


def require_sources(
    store: FeatureStore, *, videos: Path | None = None, checkpoint: Path | None = None
) -> StoreSources:
    """The store's sources, all present.

    Raises:
        DataError: naming what is missing.
    """
    missing = unmet_source_needs(
        store, videos=True, checkpoint=True, videos_dir=videos, checkpoint_file=checkpoint
    )
    if missing:
        raise DataError(
            f"feature store {store.path}: needs {' and '.join(missing)}; pass "
            f"--config videos=DIR checkpoint=FILE"
        )
    return store_sources(store, videos=videos, checkpoint=checkpoint)
