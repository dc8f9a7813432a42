"""The one JSON helper: turn method output and configs into plain JSON data.

Results record a method's ``info`` and resolved config; both may hold tuples, NumPy arrays,
tensors or paths. :func:`to_jsonable` maps them to JSON types the same way everywhere, and
:func:`canonical_json` is the byte-stable text that hashes are taken of.
"""

from __future__ import annotations

import json
from typing import Any


def to_jsonable(obj: Any) -> Any:
    """``obj`` as JSON data: mappings with string keys, lists, numbers, strings, None.

    Tuples and sets become lists (sets sorted by their text), objects with ``tolist`` (NumPy
    arrays and scalars, tensors) their ``tolist()``, anything else its ``str``.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return [to_jsonable(v) for v in sorted(obj, key=str)]
    if isinstance(obj, (str, bool, int)) or obj is None:
        return obj
    if isinstance(obj, float):
        return obj
    if hasattr(obj, "tolist"):
        return to_jsonable(obj.tolist())
    return str(obj)


def canonical_json(obj: Any) -> str:
    """Compact, key-sorted JSON of ``obj`` (non-JSON values as their ``str``).

    The text hashes are computed over: the same data gives the same bytes on every machine.
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
