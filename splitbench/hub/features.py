"""Feature stores as Hub datasets: writer, and a loader that materialises a FeatureStore.

Folder (one dataset repository, one store per subset)::

    README.md                       dataset card (model, checkpoint hash, view protocol, ...)
    splitbench-features.json        each subset's store metadata (``store.json`` minus shards)
    <S>/head.safetensors            the base head, as in the store
    <S>/<split>-NNNNN-of-MMMMM.parquet   config ``<S>``, split ``val`` / ``train``: ``video``
                                    and ``features`` (views × dim, float16 or float32)

Loading converts the parquet shards back into a regular :class:`FeatureStore` in the cache
(``<cache>/hub-features/<revision>/<subset>``), once per repository revision or folder
content; later runs memory-map that copy.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from splitbench.atomic import make_temp_dir
from splitbench.errors import DataError
from splitbench.features.store import FeatureStore, StoreMeta
from splitbench.features.store_writer import StoreWriter
from splitbench.hub.digests import digest_checker, record_digests
from splitbench.hub.folder import (
    WrittenFolder,
    config_files,
    features_of,
    prepare_out,
    read_parquet,
    write_parquet,
)
from splitbench.hub.marker import finish_folder, folder_card, open_folder
from splitbench.hub.marker_models import FeaturesMarker, FeatureSubsetEntry, validate_marker
from splitbench.hub.source import parse_hub_ref
from splitbench.locks import folder_lock
from splitbench.paths import cache_dir

FORMAT = "splitbench.hub.features/1"
MARKER = "splitbench-features.json"
_PA_DTYPES = {"float16": pa.float16(), "float32": pa.float32()}


def is_hub_features(spec: str | Path) -> bool:
    """Whether ``--features`` names a hub reference or a hub-format feature folder."""
    return parse_hub_ref(spec) is not None or (Path(spec) / MARKER).is_file()


def features_type(dtype: str, dim: int) -> pa.DataType:
    """Arrow type of the ``features`` column: a list of views of ``dim`` values each.

    The number of views is not part of the type because it differs between splits of one
    config (e.g. 6 val views, 1 train view) and ``datasets`` needs one schema per config.
    """
    return pa.list_(pa.list_(_PA_DTYPES[dtype], dim))


def write_features_folder(
    stores: Mapping[str, FeatureStore],
    out: Path,
    repo_id: str,
    *,
    license: str | None = None,
    shard_mb: float = 256,
) -> WrittenFolder:
    """Write feature stores (one per subset) as a hub dataset folder.

    Args:
        stores: Subset name → store.
        out: Folder to write (emptied first if it holds a previous feature folder).
        repo_id: ``ORG/NAME`` used in the card's snippets.
        license: Card licence id; default ``mit`` for simulated stores, else ``unknown``.
        shard_mb: Target size of one parquet shard.
    """
    prepare_out(out, MARKER)
    layout: dict[str, dict[str, list[str]]] = {}
    meta: dict[str, Any] = {"format": FORMAT, "subsets": {}}
    for name, store in stores.items():
        m = store.meta
        splits: dict[str, list[str]] = {}
        for split in m.splits:
            fs = store.split(split)
            n, views, dim = fs.features.shape
            feats = features_of({"video": pa.string(), "features": features_type(m.dtype, dim)})
            per_row = max(1, views * dim * fs.features.dtype.itemsize)
            rows = max(1, int(shard_mb * 2**20) // per_row)
            count = max(1, math.ceil(n / rows))
            files = []
            for i in range(count):
                part = fs.features[i * rows : (i + 1) * rows]
                flat = pa.array(np.ascontiguousarray(part).reshape(-1), type=_PA_DTYPES[m.dtype])
                offsets = pa.array(np.arange(0, len(part) * views + 1, views, dtype=np.int32))
                column = pa.ListArray.from_arrays(
                    offsets, pa.FixedSizeListArray.from_arrays(flat, dim)
                )
                ids = fs.videos[i * rows : (i + 1) * rows]
                videos = pa.array([str(v) for v in ids], pa.string())
                rel = f"{name}/{split}-{i:05d}-of-{count:05d}.parquet"
                write_parquet(out / rel, pa.table({"video": videos, "features": column}), feats)
                files.append(rel)
            splits[split] = files
        layout[name] = splits
        head = store.path / "head.safetensors"
        if not head.is_file():
            raise DataError(f"{head}: base head file is missing")
        shutil.copyfile(head, out / name / "head.safetensors")
        store_meta = m.model_dump(mode="json", by_alias=True, exclude={"head_digest"})
        store_meta["splits"] = {
            s: {"views": v.views, "count": v.count} for s, v in m.splits.items()
        }
        head_rel = f"{name}/head.safetensors"
        meta["subsets"][name] = {
            "key": m.identity_key,
            "store": store_meta,
            "head": head_rel,
            "digests": record_digests(out, [head_rel, *(f for fs in splits.values() for f in fs)]),
        }
    return finish_folder(out, MARKER, meta, features_card(stores, repo_id, layout, license))


def features_card(
    stores: Mapping[str, FeatureStore],
    repo_id: str,
    layout: Mapping[str, Mapping[str, Sequence[str]]],
    license: str | None,
) -> Any:
    """Render the feature dataset's card."""
    metas = [s.meta for s in stores.values()]
    simulation = any(m.simulation for m in metas)
    first = metas[0]
    model_name = str(first.model.get("name", "unknown model"))
    subsets = []
    for name, store in stores.items():
        m = store.meta
        subsets.append(
            {
                "name": name,
                "key": m.identity_key,
                "meta": m,
                "checkpoint": m.model.get("checkpoint_sha256") or "not recorded",
                "model_json": json.dumps(m.model, indent=2, sort_keys=True, default=str),
                "view_json": json.dumps(m.view_protocol, indent=2, sort_keys=True, default=str),
                "extra_json": json.dumps(m.extra, indent=2, sort_keys=True, default=str),
                "splits": [
                    {"name": s, "views": sm.views, "count": sm.count, "files": len(layout[name][s])}
                    for s, sm in m.splits.items()
                ],
            }
        )
    rows = max((sm.count for m in metas for sm in m.splits.values()), default=0)
    return folder_card(
        "features.md",
        layout,
        rows=rows,
        tags=["splitbench", "feature-store", "video-features", first.benchmark],
        simulation=simulation,
        fields={
            "pretty_name": f"{first.benchmark} features: {model_name}",
            "license": license or ("mit" if simulation else "unknown"),
        },
        context={
            "repo_id": repo_id,
            "simulation": simulation,
            "benchmark": first.benchmark,
            "model_name": model_name,
            "subsets": subsets,
            "license_given": license is not None,
            "format": FORMAT,
        },
    )


# -- loading ------------------------------------------------------------------------------


def load_hub_features(spec: str | Path, subsets: Sequence[str]) -> dict[str, FeatureStore]:
    """Feature stores for ``subsets`` from ``hf://ORG/NAME[@REVISION]`` or a local folder.

    The first call converts the parquet shards into a store in the cache; later calls reuse
    it (the cache is keyed by the repository commit or the folder's content hash).

    Raises:
        DataError: one line naming the missing subset, config, file or column, or the
            marker's malformed field.
    """
    opened = open_folder(spec, MARKER, FORMAT, "feature")
    where, meta_path, configs = opened.where, opened.meta_path, opened.configs
    available = validate_marker(FeaturesMarker, opened.meta, meta_path).subsets
    root = cache_dir() / "hub-features" / re.sub(r"[^A-Za-z0-9._-]+", "--", where.revision)
    out: dict[str, FeatureStore] = {}
    for s in subsets:
        if s not in available:
            raise DataError(
                f"{meta_path}: no feature store for subset {s} "
                f"(has {', '.join(available) or 'none'})"
            )
        target = root / s
        if not (target / "store.json").is_file():
            with folder_lock(target):
                if not (target / "store.json").is_file():
                    _materialise(where.path, configs, s, available[s], meta_path, target)
        out[s] = FeatureStore(target)
    return out


def _materialise(
    folder: Path,
    configs: Mapping[str, Mapping[str, Sequence[str]]],
    subset: str,
    entry: FeatureSubsetEntry,
    meta_path: Path,
    target: Path,
) -> None:
    from safetensors.numpy import load_file

    store_raw = {**(entry.store.model_extra or {}), "splits": {}}
    meta = StoreMeta.from_json(json.dumps(store_raw), f"{meta_path} (subset {subset})")
    if entry.key != meta.identity_key:
        raise DataError(
            f"{meta_path}: subset {subset}: store metadata gives key {meta.identity_key}, the file "
            f"records {entry.key!r} (edited or corrupted metadata)"
        )
    head_path = folder / (entry.head or f"{subset}/head.safetensors")
    if not head_path.is_file():
        raise DataError(f"{head_path}: base head file is missing")
    check = digest_checker(folder, entry.digests, f"{meta_path} (subset {subset})", "hub feature")
    check(head_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(target.parent, prefix=f".{target.name}-")
    try:
        writer = StoreWriter(tmp, meta)
        head = load_file(str(head_path))
        if "weight" not in head or "bias" not in head:
            raise DataError(f"{head_path}: expected tensors 'weight' and 'bias'")
        writer.write_head(head["weight"], head["bias"])
        for split, info in entry.store.splits.items():
            views, count = info.views, info.count
            want = features_type(meta.dtype, meta.dim)
            got = 0
            for path in config_files(folder, configs, subset, split):
                check(path)
                table = read_parquet([path], {"video": pa.string(), "features": want})
                col = table.column("features").combine_chunks()
                if col.null_count:
                    raise DataError(f"{path}: column 'features' has {col.null_count} null rows")
                lengths = pc.list_value_length(col).to_numpy(zero_copy_only=False)
                if len(lengths) and (lengths != views).any():
                    i = int(np.flatnonzero(lengths != views)[0])
                    raise DataError(
                        f"{path}: row {i + 1} has {lengths[i]} views, {MARKER} promises {views}"
                    )
                values = col.flatten().flatten().to_numpy(zero_copy_only=False)
                feats = values.reshape(len(table), views, meta.dim)
                writer.add_shard(split, [str(v) for v in table.column("video").to_pylist()], feats)
                got += len(table)
            if got != count:
                raise DataError(
                    f"{meta_path}: subset {subset} split {split!r} promises {count} videos, "
                    f"its parquet files hold {got}"
                )
        writer.finish()
        if target.exists():  # another process materialised it first
            shutil.rmtree(tmp)
            return
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
