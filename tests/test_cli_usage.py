"""Usage mistakes through the real console entry point: click's usage line, one Error line."""

from __future__ import annotations

import textwrap

import pytest
from cli_support import sb


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("run",), "Missing option '--method'"),
        (("run", "-m", "modifier_retrieval", "--per-targt"), "--per-target"),
        (("run", "-m", "modifier_retrieval", "--log-top-k", "abc"), "'--log-top-k'"),
        (("info",), "Missing argument"),
        (("hub", "push-benchmark", "--local-dir", "D"), "Missing"),
        (("rn",), "No such command 'rn'"),
    ],
    ids=["missing-option", "misspelt-option", "bad-int", "missing-arg", "hub", "command"],
)
def test_usage_error_is_usage_plus_one_error_line(tmp_path, args, fragment):
    out = sb(*args, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and "╭" not in out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert lines[0].startswith("Usage: splitbench")
    errors = [ln for ln in lines if ln.startswith("Error:")]
    assert len(errors) == 1 and fragment in errors[0], out.stderr
    assert len(lines) <= 4
    assert not (tmp_path / "splitbench-results").exists()


def test_bare_splitbench_shows_help():
    out = sb()
    assert out.returncode == 0
    text = out.stdout + out.stderr
    assert "Usage: splitbench" in text and "run" in text and "leaderboard" in text
    assert "Traceback" not in text and "Error" not in text


INTERRUPTING_PLUGIN = textwrap.dedent("""
    from splitbench.protocol import Method, MethodMeta

    class Interrupted(Method):
        meta = MethodMeta("interrupted", "Interrupted", "presses Ctrl-C", shots=0)
        deterministic = True

        def prepare(self, ctx, seed):
            raise KeyboardInterrupt

        def edit(self, task, ctx, seed):
            raise AssertionError("never reached")
""")


def test_ctrl_c_says_what_was_kept(tmp_path):
    plugin = tmp_path / "interrupted.py"
    plugin.write_text(INTERRUPTING_PLUGIN)
    out = sb("run", "-m", "interrupted", "--plugin", str(plugin), "-q", "-o", str(tmp_path / "r"))
    assert out.returncode == 130
    assert out.stderr.strip().splitlines()[-1] == (
        "interrupted: finished units are saved; rerun the same command to resume"
    )
    assert "Traceback" not in out.stderr
