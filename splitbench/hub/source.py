"""Where a hub dataset comes from: ``hf://ORG/NAME[@REVISION]`` or a local folder.

:func:`resolve_folder` turns either into a local folder plus the ``source`` and
``revision`` strings recorded in every result: the repository's commit for ``hf://`` (taken
from the snapshot that ``huggingface_hub.snapshot_download`` returns), a content hash for a
local folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from splitbench.core.hashing import files_sha256
from splitbench.errors import DataError
from splitbench.hub.folder import first_line

HF_PREFIX = "hf://"
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
# Files that never change what a folder means (and that a hub snapshot may or may not have).
_NOT_CONTENT = {".gitattributes", "README.md"}


@dataclass(frozen=True)
class HubRef:
    """A parsed ``hf://ORG/NAME[@REVISION]``.

    Attributes:
        repo_id: ``ORG/NAME``.
        revision: Branch, tag or commit; None for the default branch.
    """

    repo_id: str
    revision: str | None

    def __str__(self) -> str:
        return f"{HF_PREFIX}{self.repo_id}" + (f"@{self.revision}" if self.revision else "")


@dataclass(frozen=True)
class ResolvedFolder:
    """A hub-format folder on local disk and where it came from.

    Attributes:
        path: The folder.
        source: ``hf://ORG/NAME@REVISION`` as asked for, or the folder path.
        revision: ``hf://ORG/NAME@<commit>`` for the hub, ``sha256:<hash>`` for a folder.
        hub: The hub reference, None for a local folder.
    """

    path: Path
    source: str
    revision: str
    hub: HubRef | None = None


def parse_hub_ref(spec: str | Path) -> HubRef | None:
    """Parse ``hf://ORG/NAME[@REVISION]``; None when ``spec`` is not a hub reference.

    A ``Path`` collapses ``hf://`` to ``hf:/``; both spellings are accepted.

    Raises:
        DataError: for an ``hf:`` reference that is not ``ORG/NAME[@REVISION]``.
    """
    text = str(spec)
    for prefix in (HF_PREFIX, "hf:/"):
        if text.startswith(prefix):
            rest = text[len(prefix) :]
            break
    else:
        return None
    repo_id, sep, revision = rest.partition("@")
    if not _REPO_ID.match(repo_id) or (sep and not revision):
        raise DataError(f"{text!r}: expected hf://ORG/NAME or hf://ORG/NAME@REVISION")
    return HubRef(repo_id, revision or None)


def content_hash(folder: Path) -> str:
    """``sha256:<16 hex>`` over the names and bytes of the folder's data files."""
    files = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and rel not in _NOT_CONTENT and not rel.startswith("."):
            files.append((rel, p))
    return f"sha256:{files_sha256(files)[:16]}"


def resolve_folder(spec: str | Path, marker: str, what: str) -> ResolvedFolder:
    """Find the local folder behind ``spec`` (downloading a hub snapshot if needed).

    Args:
        spec: ``hf://ORG/NAME[@REVISION]`` or a folder path.
        marker: The metadata file that a folder of this kind holds.
        what: ``"benchmark"``, ``"feature"`` or ``"results"`` (for messages).

    Raises:
        DataError: one line naming what is missing (folder, marker file, repository,
            revision) or why the download failed.
    """
    ref = parse_hub_ref(spec)
    if ref is None:
        path = Path(spec)
        if not path.is_dir():
            raise DataError(f"{path}: {what} folder does not exist")
        if not (path / marker).is_file():
            raise DataError(f"{path}: not a splitbench hub {what} folder (no {marker})")
        return ResolvedFolder(path, str(path), content_hash(path))
    path = download(ref)
    commit = path.name if _COMMIT.match(path.name) else (ref.revision or "main")
    if not (path / marker).is_file():
        raise DataError(
            f"{ref}: the repository has no {marker}; it is not a splitbench {what} dataset"
        )
    return ResolvedFolder(path, str(ref), f"{HF_PREFIX}{ref.repo_id}@{commit}", ref)


def download(ref: HubRef) -> Path:
    """``snapshot_download`` a dataset repository; errors become one-line DataErrors."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(snapshot_download(ref.repo_id, repo_type="dataset", revision=ref.revision))
    except RevisionNotFoundError:
        raise DataError(
            f"{ref}: revision {ref.revision!r} not found in dataset {ref.repo_id}"
        ) from None
    except (RepositoryNotFoundError, GatedRepoError):
        raise DataError(
            f"{ref}: dataset repository {ref.repo_id} not found, private or gated (log in with "
            f"'hf auth login' or set HF_TOKEN)"
        ) from None
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:
        raise DataError(
            f"{ref}: cannot download it (the Hub is unreachable or HF_HUB_OFFLINE is set) and "
            f"revision {ref.revision or 'main'!r} is not in the local Hugging Face cache "
            f"({_first_line(exc)})"
        ) from None
    except (HfHubHTTPError, OSError) as exc:
        raise DataError(f"{ref}: download failed: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    """``Type: first line`` of the message (just ``Type`` when it is empty)."""
    line = first_line(exc) if str(exc).strip() else ""
    return f"{type(exc).__name__}: {line}".rstrip(": ")
