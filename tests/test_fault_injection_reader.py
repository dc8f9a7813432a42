"""Fault injection for the benchmark readers: official-layout folders and hub benchmark folders.

The same style as ``test_fault_injection.py``: one table of (mutation, expected exit code,
expected text). A mutation receives a scratch folder holding the synthetic benchmark written
in the official layout (``layout/Tiny-Split``) and as a hub benchmark folder (``hub/``),
damages one of them and returns the command's arguments. Exit 2 must come with exactly one
``error:`` line containing the expected text (never a traceback); exit 0 with the text on
stdout. The hub cases marked ``legacy`` drop the folder's recorded digests first (a folder
pushed before digests existed), so that the shared structural checks are what refuses them.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from extract_helpers import cli
from fault_helpers import assert_one_named_line

from splitbench.benchmarks.export import write_official_layout
from splitbench.hub.benchmark import MARKER, write_benchmark_folder

LAYOUT = Path("layout") / "Tiny-Split"
HUB = Path("hub")


def _info(where: Path) -> Callable[[Path], list[str]]:
    return lambda root: ["info", str(root / where), "--no-targets"]


def _target(root: Path) -> tuple[Path, str]:
    """Subset A's first split-target folder and its name."""
    scheme = json.loads((root / LAYOUT / "group_scheme.json").read_text())
    return root / LAYOUT / "A" / scheme["A"][0], scheme["A"][0]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _write_lines(path: Path, lines: list[str], newline: str = "\n") -> None:
    path.write_bytes((newline.join(lines) + newline).encode())


def _relabel_first(name: str, label: str) -> Callable[[Path], list[str]]:
    """Set the label of the first row of the first target's ``name`` file."""

    def mutate(root: Path) -> list[str]:
        path = _target(root)[0] / name
        lines = _lines(path)
        lines[0] = lines[0].split(",")[0] + "," + label
        _write_lines(path, lines)
        return _info(LAYOUT)(root)

    return mutate


def _labels_json(change: Callable[[dict], None]) -> Callable[[Path], list[str]]:
    def mutate(root: Path) -> list[str]:
        path = root / LAYOUT / "A" / "labels.json"
        raw = json.loads(path.read_text())
        change(raw)
        path.write_text(json.dumps(raw))
        return _info(LAYOUT)(root)

    return mutate


def _first_label_true(raw: dict) -> None:
    raw[next(text for text, i in raw.items() if i == 1)] = True


def _val_label_of_equivalent(root: Path) -> list[str]:
    """Give the first equivalent video of the first target another base label in val.csv."""
    tdir, _ = _target(root)
    video = _lines(tdir / "equivalent_set.csv")[0].split(",")[0]
    path = root / LAYOUT / "A" / "val.csv"
    lines = [f"{video},0" if line.split(",")[0] == video else line for line in _lines(path)]
    _write_lines(path, lines)
    return _info(LAYOUT)(root)


def _empty_equivalent(root: Path) -> list[str]:
    tdir, _ = _target(root)
    (tdir / "equivalent_set.csv").write_bytes(b"")
    return _info(LAYOUT)(root)


def _crlf_and_bom(root: Path) -> list[str]:
    """The official files' own form: CRLF line endings (and a BOM) still load."""
    for path in (root / LAYOUT).rglob("*.csv"):
        data = path.read_bytes().replace(b"\n", b"\r\n")
        path.write_bytes(b"\xef\xbb\xbf" + data if path.name == "val.csv" else data)
    return _info(LAYOUT)(root)


def _swap_fine_index(root: Path) -> list[str]:
    """A fine index inside the target's range, but naming the wrong sibling."""
    tdir, _ = _target(root)
    path = tdir / "equivalent_set.csv"
    lines = _lines(path)
    labels = sorted({int(line.split(",")[1]) for line in lines})
    video, label = lines[0].split(",")
    other = labels[1] if int(label) == labels[0] else labels[0]
    lines[0] = f"{video},{other}"
    _write_lines(path, lines)
    return _info(LAYOUT)(root)


# -- hub folders ------------------------------------------------------------------------


def _legacy(root: Path) -> None:
    path = root / HUB / MARKER
    raw = json.loads(path.read_text())
    del raw["digests"]
    path.write_text(json.dumps(raw))


def _parquet(rel: str, change: Callable[[pa.Table], pa.Table], *, legacy: bool = True):
    def mutate(root: Path) -> list[str]:
        if legacy:
            _legacy(root)
        path = root / HUB / rel
        pq.write_table(change(pq.read_table(path)), path)
        return _info(HUB)(root)

    return mutate


def _set_column(table: pa.Table, column: str, change: Callable[[list], list]) -> pa.Table:
    i = table.schema.get_field_index(column)
    values = change(table.column(column).to_pylist())
    return table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type))


def _first_of(table: pa.Table, kind: str) -> int:
    return table.column("set").to_pylist().index(kind)


def _hub_val_label_of_equivalent(root: Path, *, legacy: bool) -> list[str]:
    sets = pq.read_table(root / HUB / "A" / "sets.parquet")
    video = sets.column("video")[_first_of(sets, "equivalent")].as_py()

    def change(table: pa.Table) -> pa.Table:
        videos = table.column("video").to_pylist()
        return _set_column(
            table,
            "label",
            lambda ls: [0 if v == video else x for v, x in zip(videos, ls, strict=True)],
        )

    return _parquet("A/val.parquet", change, legacy=legacy)(root)


def _hub_fine_label(delta: int) -> Callable[[Path], list[str]]:
    def change(table: pa.Table) -> pa.Table:
        i = _first_of(table, "equivalent")
        return _set_column(table, "label", lambda ls: [*ls[:i], ls[i] + delta, *ls[i + 1 :]])

    return _parquet("A/sets.parquet", change)


def _hub_swap_fine(table: pa.Table) -> pa.Table:
    kinds = table.column("set").to_pylist()
    coarse = table.column("coarse_index").to_pylist()
    labels = table.column("label").to_pylist()
    i = kinds.index("equivalent")
    j = next(
        j
        for j in range(len(labels))
        if kinds[j] == "equivalent" and coarse[j] == coarse[i] and labels[j] != labels[i]
    )
    return _set_column(table, "label", lambda ls: [*ls[:i], ls[j], *ls[i + 1 :]])


def _hub_target_field(column: str, change: Callable[[object], object]):
    return _parquet(
        "A/targets.parquet", lambda t: _set_column(t, column, lambda vs: [change(vs[0]), *vs[1:]])
    )


def _hub_duplicate_val(table: pa.Table) -> pa.Table:
    videos = table.column("video").to_pylist()
    return _set_column(table, "video", lambda vs: [*vs[:-1], videos[0]])


def _hub_empty_equivalent(table: pa.Table) -> pa.Table:
    kinds = table.column("set").to_pylist()
    coarse = table.column("coarse_index").to_pylist()
    c = coarse[kinds.index("equivalent")]
    keep = [not (k == "equivalent" and x == c) for k, x in zip(kinds, coarse, strict=True)]
    return table.filter(pa.array(keep))


CASES: list[tuple[str, Callable[[Path], list[str]], int, str]] = [
    # -- official layout: lenient parsing and real causes -----------------------------
    ("labels-json-true", _labels_json(_first_label_true), 2, "has index true; expected an object"),
    (
        "labels-json-string-index",
        _labels_json(lambda raw: raw.update({next(iter(raw)): "0"})),
        2,
        'has index "0"; expected an object mapping label text to integer index',
    ),
    (
        "csv-superscript-label",
        _relabel_first("ft_set.csv", "²"),
        2,
        "ft_set.csv: line 1: expected 'video_path,label_index' with an integer label, got",
    ),
    (
        "csv-label-too-long-for-int64",
        _relabel_first("ft_set.csv", "9" * 30),
        2,
        "ft_set.csv: line 1: expected 'video_path,label_index'",
    ),
    (
        "equivalent-set-empty",
        _empty_equivalent,
        2,
        "equivalent_set.csv: no videos; target",
    ),
    (
        "val-label-of-equivalent-edited",
        _val_label_of_equivalent,
        2,
        "equivalent_set.csv: row 1:",
    ),
    (
        "fine-index-out-of-range",
        _relabel_first("equivalent_set.csv", "2"),
        2,
        "equivalent_set.csv: row 1: label index 2 is unknown; expected a fine index",
    ),
    ("fine-index-names-wrong-sibling", _swap_fine_index, 2, "has fine index"),
    ("crlf-and-bom-still-load", _crlf_and_bom, 0, "Table 1"),
    # -- hub folders: digests, then the same checks as the official files ----------------
    (
        "hub-val-label-edited",
        lambda r: _hub_val_label_of_equivalent(r, legacy=False),
        2,
        "A/val.parquet: hub benchmark file content does not match the digest",
    ),
    (
        "hub-val-label-edited-legacy",
        lambda r: _hub_val_label_of_equivalent(r, legacy=True),
        2,
        "in val.parquet, expected coarse index",
    ),
    (
        "hub-fine-label-out-of-range-legacy",
        _hub_fine_label(100),
        2,
        "sets.parquet (target",
    ),
    (
        "hub-fine-label-wrong-sibling-legacy",
        _parquet("A/sets.parquet", _hub_swap_fine),
        2,
        "has fine index",
    ),
    (
        "hub-fine-label-text-edited-legacy",
        _hub_target_field("fine_labels", lambda v: ["something else", *v[1:]]),
        2,
        "targets.parquet: row 1: target",
    ),
    (
        "hub-coarse-label-edited-legacy",
        _hub_target_field("coarse_label", lambda v: "something else"),
        2,
        "field 'coarse_label' is 'something else'",
    ),
    (
        "hub-val-duplicate-video-legacy",
        _parquet("A/val.parquet", _hub_duplicate_val),
        2,
        "val.parquet: row",
    ),
    (
        "hub-equivalent-set-empty-legacy",
        _parquet("A/sets.parquet", _hub_empty_equivalent),
        2,
        "no videos; target",
    ),
]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, synthetic) -> Path:
    root = tmp_path_factory.mktemp("reader-faults")
    write_official_layout(synthetic, root / "layout", "Tiny-Split")
    write_benchmark_folder(synthetic, root / HUB, "splitbench/synthetic")
    return root


@pytest.fixture()
def case_root(pristine: Path, tmp_path: Path) -> Path:
    """A private copy of the pristine folders for one case."""
    root = tmp_path / "case"
    shutil.copytree(pristine, root)
    return root


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_reader_fault_ends_in_one_named_line(
    case: tuple[str, Callable[[Path], list[str]], int, str],
    case_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, mutate, code, expected = case
    assert_one_named_line(code, expected, *cli(monkeypatch, capsys, *mutate(case_root)))


def test_case_names_are_unique() -> None:
    assert len(CASES) == len({c[0] for c in CASES})
