"""The rows of ``splitbench list methods``, cached so that listing imports no plugin.

Listing a method means importing its class, and the plugin modules import torch (more than
a second). The rows are therefore kept in ``<cache>/method-listing.json`` under a stamp of
everything they are computed from: the interpreter and splitbench's version, every entry
point of the method group (name, target, distribution and version, where it is installed),
and the size and modification time of each Python file of the packages those entry points
name and of splitbench itself. Installing, removing, upgrading or editing a plugin (editable
installs included) changes the stamp, and the rows are computed again. A listing with a
broken plugin is never stored, so the next call tries to import it again.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

from splitbench.atomic import atomic_path
from splitbench.core.hashing import sha256_hex
from splitbench.core.plugins import ENTRY_POINT_GROUP
from splitbench.errors import SplitbenchError
from splitbench.paths import cache_dir
from splitbench.registry import entry_point_origin
from splitbench.version import __version__

HEADERS = ("method", "shots", "kind", "needs", "from", "description")
LISTING_FILE = "method-listing.json"
_FORMAT = 1
_BROKEN = "BROKEN: "


def method_rows(*, use_cache: bool = True) -> list[list[str]]:
    """One row per registered method, cells as :data:`HEADERS` (broken plugins included).

    Args:
        use_cache: Read and write ``<cache>/method-listing.json``; False always imports.
    """
    if not use_cache:
        return compute_rows()
    path = cache_dir() / LISTING_FILE
    key = listing_stamp()
    cached = _read(path, key)
    if cached is not None:
        return cached
    rows = compute_rows()
    if not any(row[-1].startswith(_BROKEN) for row in rows):
        try:
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps({"format": _FORMAT, "key": key, "rows": rows}))
        except OSError:  # a read-only cache only costs the next listing its speed
            pass
    return rows


def compute_rows() -> list[list[str]]:
    """Import every registered method and describe it (what the cache stores)."""
    from splitbench.protocol import build_config, load_methods

    reg = load_methods()
    rows = []
    for name in reg.names():
        try:
            cls = reg.get(name)
            shots: object = cls.meta.shots
            if shots is None:  # the config decides: show the default config's count
                n = cls(build_config(cls.config_class, {})).shots
                shots = f"{'all' if n is None else n} (configurable)"
            cells: list[object] = [
                name,
                shots,
                cls.meta.kind,
                cls.needs.describe(),
                reg.origin(name),
                cls.meta.description,
            ]
        except SplitbenchError as exc:
            cells = [name, "?", "?", "?", reg.origin(name), f"{_BROKEN}{exc}"]
        rows.append([str(c) for c in cells])
    return rows


def listing_stamp() -> str:
    """A digest of everything :func:`compute_rows` depends on (see the module docstring)."""
    parts = [f"format {_FORMAT}", sys.version, sys.prefix, f"splitbench {__version__}"]
    packages = {"splitbench"}
    eps = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value))
    for ep in eps:
        dist = getattr(ep, "dist", None)
        where = str(dist.locate_file("")) if dist is not None else "?"
        parts.append(f"ep {ep.name}={ep.value} from {entry_point_origin(ep)} at {where}")
        packages.add(ep.value.partition(":")[0].split(".")[0])
    for package in sorted(packages):
        parts.append(f"package {package}")
        parts.extend(_source_files(package))
    return sha256_hex("\n".join(parts))


def _source_files(package: str) -> Iterator[str]:
    """``path size mtime`` of each Python file of a top-level module, without importing it."""
    try:
        spec = importlib.util.find_spec(package)  # top-level: runs no code of the package
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        yield "not found"
        return
    roots = list(spec.submodule_search_locations or [])
    files = [spec.origin] if not roots and spec.origin else []
    for root in roots:
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
            files.extend(os.path.join(folder, n) for n in sorted(names) if n.endswith(".py"))
    for f in files:
        try:
            st = os.stat(f)
        except OSError:
            yield f"{f} missing"
            continue
        yield f"{f} {st.st_size} {st.st_mtime_ns}"


def _read(path: Path, key: str) -> list[list[str]] | None:
    """The cached rows when ``path`` holds a listing stored under ``key``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != _FORMAT or data.get("key") != key:
        return None
    rows = data.get("rows")
    ok = isinstance(rows, list) and all(
        isinstance(r, list) and len(r) == len(HEADERS) and all(isinstance(c, str) for c in r)
        for r in rows
    )
    return rows if ok else None
