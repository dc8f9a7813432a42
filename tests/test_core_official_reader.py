"""The official-layout reader: Table 1 on the real files, and one-line errors on bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from splitbench.benchmarks.export import write_official_layout
from splitbench.benchmarks.official import (
    FINEGYM_SPLIT,
    SSV2_SPLIT,
    OfficialSpec,
    read_official,
)
from splitbench.benchmarks.stats import subset_stats
from splitbench.errors import DataError

# Paper Table 1 (paper-brief §2.2): base categories, base videos (thousands), targets,
# "fine", avg generality videos, avg locality videos (the paper truncates the averages),
# and the subcategory totals recomputed in the brief.
TABLE1 = {
    ("ssv2-split", "A"): (119, 169, 27, 92, 429, 24347, 82),
    ("ssv2-split", "B"): (121, 169, 27, 94, 403, 24373, 80),
    ("finegym-split", "A"): (178, 23, 23, 155, 173, 7988, 129),
    ("finegym-split", "B"): (162, 23, 19, 143, 204, 7957, 142),
}
K_DISTRIBUTION = {
    ("ssv2-split", "A"): {2: 14, 3: 7, 4: 2, 5: 2, 6: 1, 9: 1},
    ("ssv2-split", "B"): {2: 17, 3: 3, 4: 2, 5: 1, 6: 4},
    ("finegym-split", "A"): {2: 5, 3: 1, 4: 2, 5: 5, 6: 1, 7: 4, 8: 1, 10: 3, 11: 1},
    ("finegym-split", "B"): {
        2: 1,
        3: 3,
        4: 2,
        5: 2,
        6: 1,
        7: 1,
        8: 3,
        9: 2,
        12: 1,
        13: 1,
        14: 1,
        19: 1,
    },
}


@pytest.fixture(scope="module")
def official(official_root: Path):
    return {
        "ssv2-split": read_official(SSV2_SPLIT, official_root),
        "finegym-split": read_official(FINEGYM_SPLIT, official_root),
    }


@pytest.mark.official
@pytest.mark.parametrize("key", sorted(TABLE1))
def test_table1_reproduced(official, key):
    bench, subset = key
    st = subset_stats(official[bench].subset(subset))
    base, kvideos, targets, fine, gen, loc, subcats = TABLE1[key]
    assert st.base_categories == base
    assert round(st.base_videos / 1000) == kvideos
    assert st.targets == targets
    assert st.fine_kept == fine
    assert int(st.avg_generality_videos) == gen
    assert int(st.avg_locality_videos) == loc
    assert st.subcategories == subcats
    ks = {}
    for t in official[bench].subset(subset).targets:
        ks[t.k] = ks.get(t.k, 0) + 1
    assert ks == K_DISTRIBUTION[key]


@pytest.mark.official
def test_official_structure(official):
    ssv2 = official["ssv2-split"]
    assert len(ssv2.subset("A").targets) + len(ssv2.subset("B").targets) == 54
    fg = official["finegym-split"]
    assert len(fg.subset("A").targets) + len(fg.subset("B").targets) == 42
    for bench in official.values():
        for s in bench.subsets.values():
            n = s.num_labels
            for t in s.targets:
                assert t.fine_indices == tuple(range(n, n + t.k))
                # equivalent ∪ unrelated ∪ reported exclusions = val, disjointly
                rows = np.concatenate([t.equivalent.rows, t.unrelated.rows, t.excluded_val])
                assert len(rows) == len(s.val) == len(np.unique(rows))


@pytest.mark.official
def test_official_findings_are_reported(official):
    fg_a = official["finegym-split"].subset("A")
    t134 = fg_a.target(134)
    assert len(t134.excluded_val) == 4 and len(t134.excluded_train) == 7
    joined = "\n".join(fg_a.findings)
    assert "target 134" in joined and "4 val and 7 train" in joined
    assert "is both a split target and the identically named member" in joined
    # zero-count subcategories: FineGym-A has 2 without ft and 3 without equivalent videos
    assert sum("0 ft videos" in f for f in fg_a.findings) == 2
    assert sum("0 equivalent videos" in f for f in fg_a.findings) == 3
    fg_b = official["finegym-split"].subset("B")
    assert sum("0 ft videos" in f for f in fg_b.findings) == 2
    assert sum("0 equivalent videos" in f for f in fg_b.findings) == 2
    assert not official["ssv2-split"].subset("A").findings


@pytest.mark.official
def test_labels_keyed_by_index_not_text(official):
    fg_a = official["finegym-split"].subset("A")
    # the coarse target and the fine member of '(BB) salto tucked' share the text of class 134
    group = next(g for g in fg_a.fine_groups if g.name == "(BB) salto tucked")
    assert 134 in group.indices
    assert fg_a.target(134).name == fg_a.labels[134]


# -- bad input on a small benchmark in the official layout ----------------------------------
SPEC = OfficialSpec("tiny", "Tiny-Split", "Tiny-Split")


@pytest.fixture()
def tiny(tmp_path, synthetic) -> Path:
    return write_official_layout(synthetic, tmp_path, "Tiny-Split")


def test_round_trip_of_exported_layout(tiny, synthetic):
    b = read_official(SPEC, tiny.parent)
    for name, s in synthetic.subsets.items():
        r = b.subset(name)
        assert r.labels == s.labels
        for t, u in zip(s.targets, r.targets, strict=True):
            assert (t.coarse_index, t.fine_labels) == (u.coarse_index, u.fine_labels)
            for a, bb in ((t.ft, u.ft), (t.equivalent, u.equivalent), (t.unrelated, u.unrelated)):
                assert np.array_equal(a.rows, bb.rows) and np.array_equal(a.labels, bb.labels)
    assert b.revision.startswith("sha256:")


def _first_target_dir(root: Path) -> Path:
    scheme = json.loads((root / "group_scheme.json").read_text())
    return root / "A" / scheme["A"][0]


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def _edit_line(path: Path, index: int, edit) -> None:
    lines = path.read_text().splitlines()
    lines[index] = edit(lines[index])
    path.write_text("\n".join(lines) + "\n")


def _relabel(label: str):
    return lambda line: line.split(",")[0] + "," + label


def _drop_first(path: Path) -> None:
    path.write_text("\n".join(path.read_text().splitlines()[1:]) + "\n")


def _duplicate_first(path: Path) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, lines[0]]) + "\n")


def _shift_label(line: str) -> str:
    video, label = line.split(",")
    return f"{video},{(int(label) + 1) % 40}"


# (file relative to subset A or to A's first target folder "T/", mutation, expected fragments)
MUTATIONS = [
    (
        "val.csv",
        lambda p: _edit_line(p, 4, lambda s: s + ",extra"),
        ["val.csv: line 5", "video_path,label_index"],
    ),
    ("T/ft_set.csv", lambda p: _edit_line(p, 0, _relabel("abc")), ["ft_set.csv: line 1"]),
    (
        "train.csv",
        lambda p: _edit_line(p, 2, _relabel("999")),
        ["train.csv: row 3", "label index 999 is unknown"],
    ),
    (
        "T/equivalent_set.csv",
        lambda p: _edit_line(p, 0, _relabel("3")),
        ["equivalent_set.csv: row 1", "fine index of this target"],
    ),
    ("T/unrelated_set.csv", lambda p: p.unlink(), ["unrelated_set.csv: file is missing"]),
    ("T", shutil.rmtree, ["split-target folder is missing"]),
    ("T/ft_set.csv", _duplicate_first, ["appears more than once"]),
    ("T/unrelated_set.csv", _drop_first, ["in neither equivalent_set nor unrelated_set"]),
    ("T/unrelated_set.csv", lambda p: _edit_line(p, 0, _shift_label), ["differs from val.csv"]),
]


@pytest.mark.parametrize(
    ("where", "mutate", "fragments"),
    MUTATIONS,
    ids=[f"{m[0]}-{i}" for i, m in enumerate(MUTATIONS)],
)
def test_bad_input_is_one_line_naming_the_place(tiny, where, mutate, fragments):
    target = _first_target_dir(tiny)
    path = (
        target / where[2:]
        if where.startswith("T/")
        else (target if where == "T" else tiny / "A" / where)
    )
    mutate(path)
    with pytest.raises(DataError) as e:
        read_official(SPEC, tiny.parent)
    msg = _one_line(e)
    for fragment in fragments:
        assert fragment in msg


def test_wrong_root(tmp_path):
    with pytest.raises(DataError) as e:
        read_official(SPEC, tmp_path)
    assert "no Tiny-Split/group_scheme.json" in _one_line(e)


# -- revision and parsed-benchmark cache ------------------------------------------------


def _same_subsets(a, b) -> None:
    for name, s in a.subsets.items():
        r = b.subset(name)
        assert (r.labels, r.findings, r.singletons) == (s.labels, s.findings, s.singletons)
        assert np.array_equal(r.val.videos, s.val.videos)
        assert np.array_equal(r.train.labels, s.train.labels)
        for t, u in zip(s.targets, r.targets, strict=True):
            for x, y in ((t.ft, u.ft), (t.equivalent, u.equivalent), (t.unrelated, u.unrelated)):
                assert np.array_equal(x.rows, y.rows) and np.array_equal(x.labels, y.labels)
            assert np.array_equal(t.excluded_val, u.excluded_val)


def test_revision_covers_every_file_whatever_is_read(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("SPLITBENCH_CACHE", str(tmp_path / "cache"))
    full = read_official(SPEC, tiny.parent)
    only_a = read_official(SPEC, tiny.parent, subsets=["A"])
    assert list(only_a.subsets) == ["A"] and only_a.revision == full.revision
    # the same rows with one more blank line: other bytes in a file subset A never reads
    (tiny / "B" / "train.csv").write_bytes((tiny / "B" / "train.csv").read_bytes() + b"\n")
    assert read_official(SPEC, tiny.parent, subsets=["A"]).revision != full.revision


def test_cache_gives_the_parsed_benchmark_back(tiny, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SPLITBENCH_CACHE", str(cache))
    fresh = read_official(SPEC, tiny.parent, cache=False)
    assert not (cache / "benchmarks").exists()
    cold = read_official(SPEC, tiny.parent)
    files = sorted((cache / "benchmarks").glob("*.npz"))
    assert len(files) == 2
    warm = read_official(SPEC, tiny.parent)
    _same_subsets(fresh, cold)
    _same_subsets(fresh, warm)
    for f in files:  # an unreadable cache file is a miss, not an error
        f.write_bytes(b"not an npz")
    _same_subsets(fresh, read_official(SPEC, tiny.parent))


def test_cache_never_hides_an_edit(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("SPLITBENCH_CACHE", str(tmp_path / "cache"))
    read_official(SPEC, tiny.parent)
    _duplicate_first(_first_target_dir(tiny) / "ft_set.csv")
    with pytest.raises(DataError) as e:
        read_official(SPEC, tiny.parent)
    assert "appears more than once" in _one_line(e)


ROW_FILES = [
    b"a,1\nb,2\n",
    b"a,1\r\nb,2\r\n",
    b"\xef\xbb\xbfa,1\r\n",
    b"a,1\rb,2",
    b"a,1\n\n\nb,2\n",
    b"a,1\n  \nb,2\n",
    b" a ,1\n",
    b"a, 1\n",
    b"a,1 \n",
    b"a\t,1\n",
    b"a,+1\n",
    b"a,-1\n",
    b"a,1.0\n",
    b",1\n",
    b"a,\n",
    b"a\n",
    b"a,1,2\n",
    b'"a,b",1\n',
    b"a,\xc2\xb2\n",
    b"a,1\x0bb,2\n",
    b"\xc3\xa9,1\n",
    b"a,1\x85\n",
    b"a," + b"9" * 18 + b"\n",
    b"a," + b"9" * 19 + b"\n",
    b"",
    b"\n\n",
    b"\xff,1\n",
]


@pytest.mark.parametrize("data", ROW_FILES, ids=[repr(d)[:30] for d in ROW_FILES])
def test_fast_rows_agree_with_the_line_by_line_rules(data, tmp_path):
    from splitbench.benchmarks.csvrows import _slow_rows, read_rows

    path = tmp_path / "x.csv"
    try:
        want = _slow_rows(path, data)
    except DataError as exc:
        with pytest.raises(DataError) as got:
            read_rows(path, data)
        assert str(got.value) == str(exc)
        return
    videos, labels = read_rows(path, data)
    assert videos.to_pylist() == want[0] and labels.tolist() == want[1]
    assert labels.dtype == np.int64


def test_official_style_rows_take_the_vectorised_path():
    from splitbench.benchmarks.csvrows import _fast_rows

    assert _fast_rows(b"\xef\xbb\xbf12345,7\r\n67890,3\r\n") is not None
    assert _fast_rows(b"12345,\xc2\xb2\r\n") is None  # left to the line-by-line reader
