"""A hub folder named by its marker JSON: opening one to read it, finishing one just written.

Benchmark and feature folders share these steps: find the folder (or download the
snapshot), read the marker and check its ``format``, take its ``subsets`` mapping and the
card's ``configs:`` index; after writing the data files, render the card (video
classification data, a size bucket, splitbench's tags, the configs index) and write the
marker and the card.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splitbench.hub import cards
from splitbench.hub.folder import (
    SplitFiles,
    WrittenFolder,
    configs_card_field,
    read_card_configs,
    read_json,
    write_json,
    written,
)
from splitbench.hub.marker_models import FolderMarker, validate_marker
from splitbench.hub.source import ResolvedFolder, resolve_folder


@dataclass(frozen=True)
class OpenedFolder:
    """A hub folder ready to read.

    Attributes:
        where: The local folder, its source and revision.
        meta_path: The marker file.
        meta: The marker's content (its ``format`` checked).
        subsets: The marker's ``subsets`` mapping.
        configs: The card's config → split → files index.
    """

    where: ResolvedFolder
    meta_path: Path
    meta: dict[str, Any]
    subsets: dict[str, Any]
    configs: dict[str, dict[str, list[str]]]

    @property
    def path(self) -> Path:
        """The local folder."""
        return self.where.path


def open_folder(spec: str | Path, marker: str, fmt: str, what: str) -> OpenedFolder:
    """Resolve ``spec`` and read its marker (format ``fmt``) and card configs.

    Raises:
        DataError: one line naming the missing folder, file or field.
    """
    where = resolve_folder(spec, marker, what)
    meta_path = where.path / marker
    meta = read_json(meta_path, fmt)
    subsets = validate_marker(FolderMarker, meta, meta_path).subsets
    return OpenedFolder(where, meta_path, meta, subsets, read_card_configs(where.path))


def finish_folder(out: Path, marker: str, meta: Mapping[str, Any], card: Any) -> WrittenFolder:
    """Write the marker and the card (a ``huggingface_hub`` card) of a written folder."""
    write_json(out / marker, meta)
    card.save(out / "README.md")
    return written(out)


def folder_card(
    template: str,
    layout: Mapping[str, SplitFiles],
    *,
    rows: int,
    tags: Sequence[str],
    simulation: bool,
    fields: Mapping[str, Any],
    context: Mapping[str, Any],
) -> Any:
    """Render the card ``template`` of a data folder (a ``huggingface_hub.DatasetCard``).

    Args:
        template: Card template under ``hub/data_cards``.
        layout: Config → split → files (the card's ``configs:``).
        rows: The largest table's row count (its size bucket).
        tags: Card tags; ``simulation`` is appended for simulated data.
        simulation: Whether the data are simulated.
        fields: Further card metadata (pretty name, licence, ...).
        context: Template variables.
    """
    data = cards.card_data(
        **fields,
        task_categories=["video-classification"],
        size_categories=[cards.size_category(rows)],
        tags=[*tags, *(["simulation"] if simulation else [])],
        configs=configs_card_field(layout),
    )
    return cards.render_card(template, data, **context)
