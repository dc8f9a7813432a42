"""Generated fine-labelled datasets for the benchmark-builder tests (no real dataset's data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

GROUPS = {
    "Pushing something": [
        "Pushing something left",
        "Pushing something right",
        "Pushing something so it falls",
    ],
    "Dropping something": [
        "Dropping something behind something",
        "Dropping something into something",
    ],
    "Moving something": [
        "Moving something up",
        "Moving something down",
        "Moving something closer",
        "Moving something away",
    ],
    "Tearing something": ["Tearing something into two pieces", "Tearing something slowly"],
    "Rolling something": [
        "Rolling something slowly",
        "Rolling something quickly",
        "Rolling something left",
    ],
    "Spinning something": ["Spinning something fast", "Spinning something slowly"],
    "Wiping something": ["Wiping something"],
    "Folding something": ["Folding something"],
}
PARTITION = {
    "A": ["Pushing something", "Moving something", "Rolling something"],
    "B": ["Dropping something", "Tearing something", "Spinning something"],
}


def fine_labels() -> list[str]:
    """Fine labels in the generated dataset's own order (sorted by text, like SSv2's)."""
    return sorted(m for members in GROUPS.values() for m in members)


def write_dataset(
    root: Path, *, partition: bool = True, seed: int = 0, per_label: tuple[int, int] = (8, 3)
) -> dict[str, Path]:
    """Write labels.txt, train.csv, val.csv and groups.json under ``root``; return the paths.

    Video labels alternate between index and text, the two forms the simple format accepts.
    """
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = fine_labels()
    (root / "labels.txt").write_text("\n".join(labels) + "\n")
    paths = {"labels": root / "labels.txt"}
    for split, n in (("train", per_label[0]), ("val", per_label[1])):
        rows = [(f"{split}_{i:03d}_{j}.mp4", i) for i in range(len(labels)) for j in range(n)]
        order = rng.permutation(len(rows))
        lines = ["video,label"]
        for k, r in enumerate(order):
            video, i = rows[r]
            value = str(i) if k % 2 else f'"{labels[i]}"'
            lines.append(f"{video},{value}")
        (root / f"{split}.csv").write_text("\n".join(lines) + "\n")
        paths[split] = root / f"{split}.csv"
    scheme: dict[str, object] = {"group_scheme": GROUPS}
    if partition:
        scheme.update(PARTITION)
    (root / "groups.json").write_text(json.dumps(scheme, indent=2))
    paths["groups"] = root / "groups.json"
    return paths


def write_modifiers(path: Path) -> Path:
    """A modifier table for :data:`GROUPS`: the words after the group's verb phrase."""
    lines = ["group,fine_label,modifier,source"]
    for g, members in GROUPS.items():
        for m in members:
            mod = m[len(g) :].strip() or m
            lines.append(f'"{g}","{m}","{mod}",curated')
    path.write_text("\n".join(lines) + "\n")
    return path
