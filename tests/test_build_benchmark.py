"""The benchmark builder: construction rules, partitioner, readers, bad input, the rebuild of
the official benchmarks, and a built benchmark through the whole harness."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from build_support import GROUPS, PARTITION, fine_labels, write_dataset, write_modifiers
from cli_support import sb

from splitbench.benchmarks.builder.check import compare
from splitbench.benchmarks.builder.construct import build
from splitbench.benchmarks.builder.inputs import clean
from splitbench.benchmarks.builder.partition import balance_of, propose_partition
from splitbench.benchmarks.builder.pipeline import build_from_files, videos_per_label
from splitbench.benchmarks.builder.readers import (
    read_exclusions,
    read_gym288_labels,
    read_gym288_videos,
    read_labels,
    read_ssv2_videos,
)
from splitbench.benchmarks.builder.recover import recover_inputs
from splitbench.catalog import load_benchmark
from splitbench.errors import DataError


def _build(tmp_path: Path, **kw):
    paths = write_dataset(tmp_path / "in", **kw)
    return build_from_files("Toy-Split", output=tmp_path / "out", **paths)


# -- construction rules ---------------------------------------------------------------------


def test_build_follows_the_construction_rules(tmp_path):
    report = _build(tmp_path)
    bench = report.benchmark
    labels = fine_labels()
    a = bench.subset("A")
    # Rule 1: base labels in label order, a collapsed group at its first member's place.
    expected: list[str] = []
    for t in labels:
        g = next(g for g, m in GROUPS.items() if t in m)
        base = g if g in PARTITION["A"] else t
        if base not in expected:
            expected.append(base)
    assert list(a.labels) == expected
    # Rule 3: fine indices N + position in the group; unrelated = val videos not of class c.
    for t in a.targets:
        assert t.fine_indices == tuple(range(a.num_labels, a.num_labels + t.k))
        assert len(t.equivalent) == 3 * t.k and len(t.ft) == 8 * t.k
        assert len(t.unrelated) == len(a.val) - len(t.equivalent)
        assert not (a.val.labels[t.unrelated.rows] == t.coarse_index).any()
    # The other subset's groups are the fine groups; singletons stay.
    assert {fg.name for fg in a.fine_groups} == set(PARTITION["B"])
    assert len(a.singletons) == 2
    assert report.built.findings == ()


def test_rebuild_of_a_built_folder_matches_every_file(tmp_path):
    report = _build(tmp_path)
    inputs = recover_inputs(report.folder)
    assert inputs.partition is not None
    rebuilt = build(clean(inputs, inputs.partition))
    checks = compare(rebuilt, report.folder)
    assert len(checks) == 1 + 2 * 3 + 3 * 6 and all(c.matches and c.same_bytes for c in checks)


def test_identically_named_labels_share_an_index_and_are_reported(tmp_path):
    paths = write_dataset(tmp_path / "in")
    scheme = json.loads(paths["groups"].read_text())
    # A target of A named like a fine label of a B group (FineGym-Split A target 134's case).
    scheme["group_scheme"]["Tearing something slowly"] = scheme["group_scheme"].pop(
        "Rolling something"
    )
    scheme["group_scheme"]["Tearing something"] = [
        "Tearing something into two pieces",
        "Tearing something slowly",
    ]
    scheme["A"] = ["Pushing something", "Moving something", "Tearing something slowly"]
    paths["groups"].write_text(json.dumps(scheme))
    report = build_from_files("Toy-Split", output=tmp_path / "out", **paths)
    (finding,) = report.built.findings
    assert "'Tearing something slowly'" in finding and "share index" in finding
    a = report.benchmark.subset("A")
    t = a.target("Tearing something slowly")
    assert len(t.excluded_val) == 3 and len(t.excluded_train) == 8
    # The label kept fine keeps its own place in labels.json (the official files' order).
    i = a.labels.index("Tearing something slowly")
    assert a.labels[i - 1 : i + 2] == (
        "Tearing something into two pieces",
        "Tearing something slowly",
        "Wiping something",
    )
    assert any("identically named" in f for f in a.findings)


def test_empty_labels_are_findings_not_errors(tmp_path):
    paths = write_dataset(tmp_path / "in")
    lines = paths["val"].read_text().splitlines()
    kept = [ln for ln in lines if not ln.startswith("val_000_")]
    paths["val"].write_text("\n".join(kept) + "\n")
    report = build_from_files("Toy-Split", output=tmp_path / "out", **paths)
    assert report.built.findings == (f"fine label {fine_labels()[0]!r} has no val videos",)


# -- partitioner ----------------------------------------------------------------------------


def test_partitioner_is_seeded_balanced_and_written(tmp_path):
    report = _build(tmp_path, partition=False)
    assert report.proposed
    scheme = json.loads((report.folder / "group_scheme.json").read_text())
    assert set(scheme) == {"group_scheme", "A", "B"}
    assert len(scheme["A"]) == len(scheme["B"]) == 3
    again = _build(tmp_path / "again", partition=False)
    assert again.built.partition == report.built.partition
    counts = {t: 11 for t in fine_labels()}
    assert report.balance == balance_of(report.built.partition, GROUPS, counts)
    assert report.balance.subcategories == (8, 8)
    other = propose_partition(GROUPS, counts, seed=1)
    assert balance_of(other, GROUPS, counts).imbalance <= 0.2


def test_partitioner_needs_enough_groups():
    with pytest.raises(DataError, match="multi-member groups; a partition needs at least 4"):
        propose_partition({"g": ["a", "b"], "h": ["c", "d"], "s": ["e"]}, {}, source="x.json")


# -- readers ----------------------------------------------------------------------------------


def test_ssv2_reader(tmp_path):
    labels = {"Putting something on something": "1", "Holding something": "0"}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    items = [
        {
            "id": "7",
            "label": "Holding a cup",
            "template": "Holding [something]",
            "placeholders": ["a cup"],
        },
        {
            "id": "9",
            "label": "x",
            "template": "Putting [something] on [something]",
            "placeholders": [],
        },
    ]
    (tmp_path / "train.json").write_text(json.dumps(items))
    fine = read_labels(tmp_path / "labels.json")
    vl = read_ssv2_videos(tmp_path / "train.json", fine)
    assert vl.videos == ("7.mp4", "9.mp4") and vl.labels == (0, 1)
    items[1]["template"] = "Tossing [something]"
    (tmp_path / "train.json").write_text(json.dumps(items))
    with pytest.raises(DataError, match=r"train.json: row 2: video '9.mp4' has unknown label"):
        read_ssv2_videos(tmp_path / "train.json", fine)


def test_gym288_reader_and_exclusions(tmp_path):
    cats = [
        "Clabel: 0; set: 1; Glabel: 1; (VT) round-off",
        "Clabel: 1; set: 1; Glabel: 2; (BB) salto backward tucked",
        "Clabel: 2; set: 1; Glabel: 3; (BB) salto backward tucked",
    ]
    (tmp_path / "cats.txt").write_text("\n".join(cats) + "\n")
    (tmp_path / "train.txt").write_text("abc_E_1_2_A_0_1 0\nabc_E_1_2_A_1_2 1\nabc_E_3_4_A_0_1 2\n")
    fine = read_gym288_labels(tmp_path / "cats.txt")
    assert [f.text for f in fine] == ["(VT) round-off"] + ["(BB) salto backward tucked"] * 2
    vl = read_gym288_videos(tmp_path / "train.txt", fine)
    assert vl.videos[0] == "abc_E_1_2_A_0_1.mp4" and vl.labels == (0, 1, 2)
    (tmp_path / "ex.json").write_text(
        json.dumps({"labels": [1], "videos": ["abc_E_1_2_A_0_1.mp4"], "note": "duplicate text"})
    )
    ex = read_exclusions(tmp_path / "ex.json", fine)
    assert ex.labels == (1,) and ex.videos == ("abc_E_1_2_A_0_1.mp4",)
    (tmp_path / "ex.json").write_text(json.dumps({"labels": ["(BB) salto backward tucked"]}))
    with pytest.raises(DataError, match="a text several labels share; give its index"):
        read_exclusions(tmp_path / "ex.json", fine)


# -- bad input: one line naming the file and the item -------------------------------------------


def _scheme_edit(edit):
    def apply(paths: dict[str, Path]) -> None:
        raw = json.loads(paths["groups"].read_text())
        edit(raw)
        paths["groups"].write_text(json.dumps(raw))

    return apply


def _append(key: str, line: str):
    def apply(paths: dict[str, Path]) -> None:
        paths[key].write_text(paths[key].read_text() + line + "\n")

    return apply


def _duplicate_label(paths: dict[str, Path]) -> None:
    labels = fine_labels()
    for key in ("train", "val"):  # refer to labels by index only, so the reader accepts them
        lines = paths[key].read_text().splitlines()
        fixed = [lines[0]]
        for ln in lines[1:]:
            video, value = ln.split(",", 1)
            fixed.append(
                f"{video},{labels.index(value.strip(chr(34))) if value[0] == chr(34) else value}"
            )
        paths[key].write_text("\n".join(fixed) + "\n")
    _append("labels", "Wiping something")(paths)


BAD_INPUT = [
    (
        "label in two groups",
        _scheme_edit(lambda r: r["group_scheme"]["Folding something"].append("Wiping something")),
        "groups.json",
        "fine label 'Wiping something' is in groups 'Wiping something' and 'Folding something'",
    ),
    (
        "label in no group",
        _scheme_edit(lambda r: r["group_scheme"].pop("Wiping something")),
        "groups.json",
        "fine label 'Wiping something' is in no group",
    ),
    (
        "partition names an unknown group",
        _scheme_edit(lambda r: r["A"].append("Juggling something")),
        "groups.json",
        "subset A lists 'Juggling something', which is not a group",
    ),
    (
        "empty group",
        _scheme_edit(lambda r: r["group_scheme"].update({"Nothing": []})),
        "groups.json",
        "group 'Nothing' is empty",
    ),
    (
        "group in both subsets",
        _scheme_edit(lambda r: r["B"].append("Pushing something")),
        "groups.json",
        "group 'Pushing something' is listed in both subset A and B",
    ),
    (
        "multi-member group in no subset",
        _scheme_edit(lambda r: r["B"].remove("Spinning something")),
        "groups.json",
        "multi-member group 'Spinning something' is in neither subset",
    ),
    (
        "single-member group as a target",
        _scheme_edit(lambda r: r["B"].append("Folding something")),
        "groups.json",
        "subset B lists 'Folding something', a single-member group",
    ),
    (
        "group lists an unknown label",
        _scheme_edit(lambda r: r["group_scheme"]["Folding something"].append("Folding twice")),
        "groups.json",
        "group 'Folding something' lists 'Folding twice', which is not a fine label",
    ),
    (
        "video with an unknown label text",
        _append("train", "extra.mp4,Juggling something"),
        "train.csv",
        "video 'extra.mp4' has unknown label 'Juggling something'",
    ),
    (
        "video with an unknown label index",
        _append("val", "extra.mp4,99"),
        "val.csv",
        "video 'extra.mp4' has unknown label 99",
    ),
    (
        "video in train and val",
        _append("val", "train_000_0.mp4,0"),
        "val.csv",
        "video 'train_000_0.mp4' is listed also in",
    ),
    (
        "duplicate label text",
        _duplicate_label,
        "labels.txt",
        "have the same text 'Wiping something'; exclude one of them",
    ),
    (
        "video labelled by a shared text",
        _append("labels", "Wiping something"),
        "train.csv",
        "has label 'Wiping something', a text several labels share",
    ),
    (
        "malformed video row",
        _append("train", "extra.mp4"),
        "train.csv",
        "expected 2 columns, got 1",
    ),
]


@pytest.mark.parametrize("case", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_builder_input_names_file_and_item(tmp_path, case):
    _, edit, fname, needle = case
    paths = write_dataset(tmp_path / "in")
    edit(paths)
    with pytest.raises(DataError) as info:
        build_from_files("Toy-Split", output=tmp_path / "out", **paths)
    msg = str(info.value)
    assert "\n" not in msg and fname in msg and needle in msg, msg
    assert not (tmp_path / "out").exists()  # nothing written from bad input


def test_bad_input_on_the_command_line_is_one_line(tmp_path):
    paths = write_dataset(tmp_path / "in")
    _scheme_edit(lambda r: r["A"].append("Juggling something"))(paths)
    out = sb(
        "build-benchmark",
        "Toy-Split",
        *(f"--{k}={v}" for k, v in paths.items()),
        "-o",
        str(tmp_path / "out"),
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "groups.json" in out.stderr, out.stderr


def test_builder_refuses_an_official_name_and_a_foreign_folder(tmp_path):
    paths = write_dataset(tmp_path / "in")
    with pytest.raises(DataError, match="is an official benchmark's"):
        build_from_files("SSv2-Split", output=tmp_path / "out", **paths)
    (tmp_path / "out" / "Toy-Split").mkdir(parents=True)
    (tmp_path / "out" / "Toy-Split" / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match=r"holds no splitbench-build\.json"):
        build_from_files("Toy-Split", output=tmp_path / "out", **paths)


# -- the whole harness on a built benchmark ------------------------------------------------------


def cli(*args: str) -> str:
    """Run a command in-process (torch and the text encoder load once per session)."""
    from typer.testing import CliRunner

    from splitbench.cli.app import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_built_benchmark_runs_through_the_harness(tmp_path):
    paths = write_dataset(tmp_path / "in", partition=False)
    mods = write_modifiers(tmp_path / "in" / "modifiers.csv")
    out = cli(
        "build-benchmark",
        "Toy-Split",
        *(f"--{k}={v}" for k, v in paths.items()),
        "--modifiers",
        str(mods),
        "--output",
        str(tmp_path / "bench"),
    )
    assert "partition proposed (seed 0)" in out
    assert "read back by the official reader: ok" in out
    folder = str(tmp_path / "bench" / "Toy-Split")
    info = cli("info", folder)
    assert "Toy-Split" in info and "splitbench modifier table toy-split" in info
    feats, res = str(tmp_path / "feats"), str(tmp_path / "res")
    cli("simulate", "-s", "A", "-b", folder, "--output", feats, "--dim", "32")
    run = cli(
        "run",
        "-m",
        "modifier_retrieval",
        "-s",
        "A",
        "-b",
        folder,
        "--features",
        feats,
        "-o",
        res,
        "-q",
    )
    assert "modifier_retrieval" in run and "3 units computed" in run and "(simulation)" in run
    assert "modifier_retrieval" in cli("leaderboard", res)
    grid = cli(
        "grid",
        "--preset",
        "table2-ssv2-a",
        "-b",
        folder,
        "--features",
        feats,
        "--seeds",
        "0",
        "-o",
        str(tmp_path / "grid"),
        "-q",
    )
    assert "modifier_alignment" in grid and "3/3 × 1 seed" in grid
    hub = str(tmp_path / "hub")
    cli("hub", "push-benchmark", folder, "--repo-id", "org/toy-split", "--local-dir", hub)
    card = (tmp_path / "hub" / "README.md").read_text()
    assert "Toy-Split" in card and "org/toy-split" in card
    back = load_benchmark(hub)
    built = load_benchmark(folder)
    assert back.name == built.name == "toy-split"
    assert [t.name for t in back.subset("A").targets] == [t.name for t in built.subset("A").targets]


def test_built_stats_match_inputs(tmp_path):
    report = _build(tmp_path)
    cleaned_counts = videos_per_label(clean(recover_inputs(report.folder), report.built.partition))
    assert set(cleaned_counts.values()) == {11}


# -- the proof on the official files -----------------------------------------------------------


@pytest.mark.official
def test_rebuild_of_the_official_benchmarks_matches_every_file(official_root):
    out = sb("build-benchmark", "--from-official", str(official_root), "--check")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "302/302 files match in FineGym-Split, SSv2-Split" in out.stderr
    assert "BAD" not in out.stdout and "differs" not in out.stdout
    # The one finding by rule, not by name: FineGym-Split A's identically named target.
    assert "split target '(BB) salto forward tucked' has the same text" in out.stdout


@pytest.mark.official
def test_ssv2_split_label_order_is_ssv2s_sorted_label_list(official_root):
    # SSv2's own label list is sorted by text. Building from that order (instead of the
    # recovered one, which the files do not pin down fully) must give both labels.json files
    # exactly: the label-order rule checked against the dataset's real label order.
    folder = official_root / "SSv2-Split"
    inputs = recover_inputs(folder)
    rank = {t: i for i, t in enumerate(sorted(lab.text for lab in inputs.labels))}
    old = {lab.index: lab.text for lab in inputs.labels}
    relabel = lambda vl: replace(vl, labels=tuple(rank[old[i]] for i in vl.labels))  # noqa: E731
    sorted_inputs = replace(
        inputs,
        labels=tuple(replace(lab, index=rank[lab.text]) for lab in inputs.labels),
        train=relabel(inputs.train),
        val=relabel(inputs.val),
    )
    assert sorted_inputs.partition is not None
    built = build(clean(sorted_inputs, sorted_inputs.partition))
    checks = compare(built, folder)
    assert [c.path for c in checks if c.kind == "labels" and c.matches and c.same_bytes] == [
        "A/labels.json",
        "B/labels.json",
    ]
    assert all(c.matches for c in checks)
