"""Fault injection: damaged stores, results, options and plugins each end in one named line.

One table of (mutation, command, expected exit code, expected text). A mutation receives a
scratch folder holding a private copy of synthetic store A (``store/``) and a finished result
folder (``out/``) made on it, changes something, and returns the command's arguments.
Every case must end with the expected exit code and, for exit 2, exactly one ``error:`` line
on stderr containing the expected text — never a traceback, never exit 0.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from extract_helpers import cli
from fault_helpers import assert_one_named_line

RUN = ["run", "-m", "coarse_copy", "-s", "A", "--targets", "23,7", "--seeds", "0", "-q"]


def _run(root: Path, *extra: str, store: bool = True) -> list[str]:
    feats = ["--features", str(root / "store")] if store else []
    return [*RUN, *feats, "-o", str(root / "out"), *extra]


def _flip(path: Path, offset: int = -200, n: int = 64) -> None:
    data = bytearray(path.read_bytes())
    for i in range(n):
        data[offset + i] ^= 0xFF
    path.write_bytes(bytes(data))


def _edit_json(path: Path, change: Callable[[dict], None]) -> None:
    raw = json.loads(path.read_text())
    change(raw)
    path.write_text(json.dumps(raw))


def _legacy(root: Path) -> None:
    """Make the store look like one written before content digests (nothing to verify)."""

    def strip(raw: dict) -> None:
        raw.pop("head_digest", None)
        for sm in raw["splits"].values():
            sm.pop("digests", None)
            sm.pop("content", None)

    _edit_json(root / "store" / "store.json", strip)
    shutil.rmtree(root / "out")  # its results carry the verified store's key


def _nan_features(root: Path, *, legacy: bool) -> None:
    shard = root / "store" / "val-00000.arrow"
    table = pa.ipc.open_file(pa.BufferReader(shard.read_bytes())).read_all()
    col = table.column("features").combine_chunks()
    values = col.values.to_numpy(zero_copy_only=False).copy()
    width = col.type.list_size
    values[3 * width : 3 * width + 5] = np.nan  # video 3
    values[60 * width] = np.inf
    new = pa.FixedSizeListArray.from_arrays(pa.array(values, type=col.type.value_type), width)
    table = table.set_column(1, "features", new)
    with pa.OSFile(str(shard), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    if legacy:
        _legacy(root)


def _first_result(root: Path) -> Path:
    return sorted((root / "out").rglob("seed0.json"))[0]


def _result_edit(change: Callable[[dict], None]) -> Callable[[Path], list[str]]:
    def mutate(root: Path) -> list[str]:
        _edit_json(_first_result(root), change)
        return _run(root)

    return mutate


def _duplicate(root: Path) -> list[str]:
    shutil.copytree(root / "out" / "synthetic", root / "out" / "copy" / "synthetic")
    return _run(root)


def _plugin_name(root: Path) -> str:
    """A method name of its own per case: plugins register in-process, once per name."""
    return "bad_" + hashlib.sha256(str(root).encode()).hexdigest()[:8]


def _plugin(root: Path, body: str) -> Path:
    path = root / "plugin.py"
    text = (
        textwrap.dedent("""
            import sys, time
            from splitbench.protocol import Method, MethodMeta, NewRows

            class Bad(Method):
                meta = MethodMeta("NAME", "Bad", "misbehaves", shots=0)
                deterministic = True

                def edit(self, task, ctx, seed):
            """)
        + textwrap.indent(textwrap.dedent(body), " " * 8)
        + "\n        c = task.coarse_index\n"
        + "        return NewRows(ctx.weight[c].repeat(task.k, 1), ctx.bias[c].repeat(task.k))\n"
    )
    path.write_text(text.replace("NAME", _plugin_name(root)))
    return path


def _plugin_run(body: str, *extra: str) -> Callable[[Path], list[str]]:
    def mutate(root: Path) -> list[str]:
        plugin = _plugin(root, body)
        args = _run(root, "--plugin", str(plugin), *extra)
        return ["run", "-m", _plugin_name(root), *args[3:]]

    return mutate


def _wrap_bytes(n: int) -> Callable[[Path], list[str]]:
    def mutate(root: Path) -> list[str]:
        (root / "store" / "val-00000.arrow").write_bytes(
            (root / "store" / "val-00000.arrow").read_bytes()[:n]
        )
        _legacy(root)
        return _run(root)

    return mutate


def _then(action: Callable[[Path], object], args: Callable[[Path], list[str]] = _run):
    def mutate(root: Path) -> list[str]:
        action(root)
        return args(root)

    return mutate


def _opt(*extra: str, method: str = "coarse_copy") -> Callable[[Path], list[str]]:
    def mutate(root: Path) -> list[str]:
        args = _run(root, *extra)
        return ["run", "-m", method, *args[3:]]

    return mutate


def _leaderboard(root: Path) -> list[str]:
    return ["leaderboard", str(root / "out")]


STORE = "store"
CASES: list[tuple[str, Callable[[Path], list[str]], int, str]] = [
    # -- stores: content digests, finite numbers, corrupt files ------------------------
    (
        "head-flipped",
        _then(lambda r: _flip(r / STORE / "head.safetensors")),
        2,
        "head.safetensors: base head content does not match the digest",
    ),
    (
        "shard-flipped",
        _then(lambda r: _flip(r / STORE / "val-00000.arrow", offset=4096)),
        2,
        "val-00000.arrow: shard content does not match the digest",
    ),
    (
        "nan-features-verified-store",
        _then(lambda r: _nan_features(r, legacy=False)),
        2,
        "val-00000.arrow: shard content does not match",
    ),
    (
        "nan-features-legacy-store",
        _then(lambda r: _nan_features(r, legacy=True)),
        2,
        "video 'syn-val-00003' has non-finite features (NaN or Inf; 2 video(s) in all)",
    ),
    (
        "store-json-float64",
        _then(lambda r: _edit_json(r / STORE / "store.json", lambda m: m.update(dtype="float64"))),
        2,
        "field 'dtype'",
    ),
    (
        "store-json-bad-dim",
        _then(lambda r: _edit_json(r / STORE / "store.json", lambda m: m.update(dim=-3))),
        2,
        "field 'dim'",
    ),
    (
        "store-json-unknown-field",
        _then(lambda r: _edit_json(r / STORE / "store.json", lambda m: m.update(oops=1))),
        2,
        "field 'oops'",
    ),
    (
        "store-json-not-json",
        _then(lambda r: (r / STORE / "store.json").write_text("{")),
        2,
        "store.json: not valid JSON",
    ),
    (
        "store-json-bad-digest",
        _then(
            lambda r: _edit_json(r / STORE / "store.json", lambda m: m.update(head_digest="xyz"))
        ),
        2,
        "field 'head_digest'",
    ),
    ("shard-truncated-legacy", _wrap_bytes(1000), 2, "val-00000.arrow: not a readable Arrow shard"),
    (
        "head-header-corrupt-legacy",
        _then(lambda r: ((r / STORE / "head.safetensors").write_bytes(b"\xff" * 64), _legacy(r))),
        2,
        "head.safetensors: not a readable safetensors file",
    ),
    (
        "shard-missing",
        _then(lambda r: (r / STORE / "val-00000.arrow").unlink()),
        2,
        "shard listed in store.json is missing",
    ),
    # -- results: self-check, duplicates, uniform damage policy --------------------------
    (
        "metric-hand-edited-run",
        _result_edit(lambda r: r["metrics"].update(generality=0.9)),
        2,
        "metrics.generality is 0.9 but its counts give",
    ),
    (
        "metric-hand-edited-leaderboard",
        _then(
            lambda r: _edit_json(_first_result(r), lambda x: x["metrics"].update(locality=0.5)),
            _leaderboard,
        ),
        2,
        "metrics.locality is 0.5",
    ),
    (
        "counts-impossible",
        _result_edit(lambda r: r["counts"].update(equivalent_correct=10**6)),
        2,
        "exceeds counts.equivalent_total",
    ),
    ("counts-missing", _result_edit(lambda r: r.pop("counts")), 2, "field 'counts'"),
    (
        "schema-future",
        _result_edit(lambda r: r.update(schema_version="9.0")),
        2,
        "result schema '9.0'",
    ),
    (
        "result-truncated",
        _then(lambda r: _first_result(r).write_text('{"schema_version": "1.0", "prot')),
        2,
        "unreadable result file",
    ),
    ("duplicate-unit-run", _duplicate, 2, "a second result for the unit of"),
    (
        "duplicate-unit-leaderboard",
        _then(lambda r: _duplicate(r), _leaderboard),
        2,
        "a second result for the unit of",
    ),
    # -- options: validated, not coerced --------------------------------------------------
    (
        "config-nan",
        _opt("-c", "alpha=nan", method="modifier_retrieval"),
        2,
        "alpha = nan: expected a finite number",
    ),
    (
        "config-inf",
        _opt("-c", "beta=inf", method="modifier_retrieval"),
        2,
        "beta = inf: expected a finite number",
    ),
    ("targets-unknown", _opt("--targets", "23,9999"), 2, "--targets '9999': no split target"),
    ("targets-empty-item", _opt("--targets", "23,,7"), 2, "--targets '23,,7': empty item"),
    ("seeds-empty-item", _opt("--seeds", "0,,1"), 2, "--seeds '0,,1': empty item"),
    ("seeds-not-int", _opt("--seeds", "2^70"), 2, "'2^70' is not an integer"),
    ("seeds-too-big", _opt("--seeds", str(2**70)), 2, "is outside [0, 4294967295]"),
    ("seeds-negative", _opt("--seeds", "-1"), 2, "is outside [0, 4294967295]"),
    ("device-bogus", _opt("--device", "bogus"), 2, "--device 'bogus': not a torch device"),
    (
        "log-top-k-zero",
        _opt("--log-samples", "--log-top-k", "0"),
        2,
        "--log-top-k 0: expected an integer ≥ 1",
    ),
    (
        "unit-timeout-zero",
        _opt("--unit-timeout", "0"),
        2,
        "--unit-timeout 0.0: expected a positive",
    ),
    (
        "unit-timeout-nan",
        _opt("--unit-timeout", "nan"),
        2,
        "--unit-timeout nan: expected a positive",
    ),
    # -- OS-level failures ---------------------------------------------------------------
    (
        "output-under-a-file",
        lambda r: (
            (r / "afile").write_text("x"),
            [*RUN, "--features", str(r / STORE), "-o", str(r / "afile" / "out")],
        )[1],
        2,
        "cannot write there",
    ),
    (
        "shard-symlink-loop",
        _then(
            lambda r: (
                (r / STORE / "val-00000.arrow").unlink(),
                (r / STORE / "val-00000.arrow").symlink_to(r / STORE / "val-00000.arrow"),
            )
        ),
        2,
        "val-00000.arrow: cannot read it (Too many levels of symbolic links)",
    ),
    (
        "store-json-is-a-folder",
        _then(
            lambda r: (
                (r / STORE / "store.json").unlink(),
                (r / STORE / "store.json").mkdir(),
                (r / STORE / "store.json" / "x").mkdir(),
            )
        ),
        2,
        "no feature store for subset A",
    ),
    # -- plugins: contained -------------------------------------------------------------
    ("plugin-sys-exit-0", _plugin_run("sys.exit(0)"), 1, ".edit called sys.exit(0)"),
    ("plugin-sys-exit-3", _plugin_run("sys.exit(3)"), 1, ".edit called sys.exit(3)"),
    (
        "plugin-generator-exit",
        _plugin_run("raise GeneratorExit('odd')"),
        1,
        ".edit raised GeneratorExit: odd",
    ),
    (
        "plugin-sleeps",
        _plugin_run("time.sleep(3600)", "--unit-timeout", "0.5"),
        1,
        "ran longer than --unit-timeout 0.5 s",
    ),
    (
        "plugin-swallows-exceptions-still-timed-out",
        _plugin_run(
            "try:\n    time.sleep(3600)\nexcept Exception:\n    pass", "--unit-timeout", "0.5"
        ),
        1,
        "ran longer than --unit-timeout 0.5 s",
    ),
    (
        "plugin-non-finite-rows",
        _plugin_run("return NewRows(ctx.weight[:task.k] * float('nan'), ctx.bias[:task.k])"),
        1,
        "returned non-finite head rows",
    ),
]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, synthetic_stores) -> Path:
    """A private copy of synthetic store A and a result folder made on it."""
    root = tmp_path_factory.mktemp("fault-pristine")
    shutil.copytree(synthetic_stores["A"].path, root / STORE)
    code = subprocess.run(
        [sys.executable, "-m", "splitbench", *_run(root)], capture_output=True, text=True
    )
    assert code.returncode == 0, code.stderr
    return root


@pytest.mark.parametrize(("name", "mutate", "code", "expected"), CASES, ids=[c[0] for c in CASES])
def test_fault_ends_in_one_named_line(
    name: str,
    mutate: Callable[[Path], list[str]],
    code: int,
    expected: str,
    pristine: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "case"
    shutil.copytree(pristine, root, symlinks=True)
    args = mutate(root)
    assert_one_named_line(code, expected, *cli(monkeypatch, capsys, *args))


def test_case_names_are_unique() -> None:
    assert len(CASES) == len({c[0] for c in CASES})
