"""The identity of a merged CLIP (``splitbench vlm merge``): its manifest, read and written.

Separate from :mod:`splitbench.models.merge` (the merge itself) so that
:class:`~splitbench.models.clip_video.OpenClipVideo` can read a merged file's identity
without importing the merge, and the merge can build the model without a cycle.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from splitbench.errors import DataError

MANIFEST_KEY = "splitbench_merge"
METHOD = "task_arithmetic"


@dataclass(frozen=True)
class MergeInput:
    """One input file of a merge.

    Attributes:
        file: File name (not the path, so identities do not depend on where files live).
        sha256: Hex SHA-256 of the file's bytes.
        tag: open_clip pretrained tag (base only), or None.
    """

    file: str
    sha256: str
    tag: str | None = None


@dataclass(frozen=True)
class MergeManifest:
    """The identity of a merged model (stored in the merged file's metadata).

    Attributes:
        model: open_clip architecture.
        quick_gelu: Whether the architecture runs QuickGELU (from the base's tag or name).
        base: The base model θ₀.
        checkpoints: The finetuned models θᵢ, in order.
        lambdas: λᵢ per checkpoint (a single λ is repeated).
        method: ``task_arithmetic``.
        open_clip: open_clip's version at merge time.
    """

    model: str
    quick_gelu: bool
    base: MergeInput
    checkpoints: tuple[MergeInput, ...]
    lambdas: tuple[float, ...]
    method: str = METHOD
    open_clip: str = ""
    formula: str = field(default="theta = theta_0 + sum_i lambda_i * (theta_i - theta_0)")

    def to_json(self) -> str:
        """Canonical JSON (sorted keys)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str) -> MergeManifest:
        """Parse :meth:`to_json` output.

        Raises:
            DataError: for a manifest without the expected fields.
        """
        try:
            return _manifest_adapter().validate_json(text)
        except ValidationError as exc:
            e = exc.errors()[0]
            loc = ".".join(str(p) for p in e["loc"]) or "manifest"
            raise DataError(
                f"{where}: metadata {MANIFEST_KEY} is not a merge manifest ({loc}: {e['msg']})"
            ) from None


@functools.cache
def _manifest_adapter() -> TypeAdapter[MergeManifest]:
    return TypeAdapter(MergeManifest)


def read_manifest(path: Path) -> MergeManifest | None:
    """The merge manifest of a ``.safetensors`` file (None for any other file or none).

    Raises:
        DataError: for a manifest that does not parse.
    """
    path = Path(path)
    if path.suffix != ".safetensors" or not path.is_file():
        return None
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types
        raise DataError(f"{path}: cannot read safetensors header ({exc})") from None
    text = meta.get(MANIFEST_KEY)
    return MergeManifest.from_json(text, str(path)) if text else None


def merge_identity(manifest: MergeManifest) -> dict[str, Any]:
    """The manifest as a JSON dict (lists, not tuples; for identities and results)."""
    out: dict[str, Any] = json.loads(manifest.to_json())
    return out
