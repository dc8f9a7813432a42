"""Run every runnable command the README shows, in order, and fail on any error.

Usage: ``python tools/readme_walkthrough.py [--annotations DIR] [--workdir DIR] [--full]``

Commands come from the README's ``bash`` blocks and from inline code that starts with
``splitbench ``. Placeholders are filled: the annotation-folder placeholders with the
official files (``--annotations`` or ``$SPLITBENCH_ANNOTATIONS``; commands that need them
are skipped without), ``DIR`` of ``simulate`` with the feature folder the extraction
example uses, and the README's plugin example is written to ``halfway.py``. Commands that
need videos, checkpoints, a GPU or a network, and set-up commands, are listed as skipped
with the reason, and so are the leaderboard rows' commands unless ``--full`` (each
reruns one leaderboard cell; ``leaderboard build --check`` covers them). A command fails
the walk-through when it exits non-zero or prints a traceback. The last line is the summary.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# (substring of the command, reason): checked in order, first match wins.
SKIPS = (
    (". .venv/bin/activate", "activates a shell; the walk-through calls the venv's splitbench"),
    ("make ", "set-up and test entry points (this walk-through runs inside `make test`)"),
    ("python -m venv", "set-up (what `make run` does)"),
    ("pip install", "set-up (what `make run` does)"),
    ("--videos", "needs the SSv2 videos and the released checkpoint (GPU run)"),
    ("clip_cascade -b ssv2-split", "needs a CLIP space extracted from videos (the command above)"),
    ("...", "an elided command line, not a full one"),
    ("|", "lists alternatives, not one command"),
    (
        "leaderboard build",
        "reruns every method and rewrites the committed leaderboard; "
        "scripts/check_leaderboard_fresh_clone.sh checks it",
    ),
    ("RUN_A", "placeholder run folders (docs/analysis.md walks through compare)"),
    ("hf://", "needs the Hugging Face Hub (network)"),
    (
        "MyData-Split",
        "needs another dataset's annotation files (a test builds one from generated data)",
    ),
)
# shown without the argument it needs, as a name in a sentence
NAMES_ONLY = {
    "splitbench rescore": "named in a sentence without its folder (docs/analysis.md)",
    "splitbench simulate": "named in a sentence; the full command is shown above it",
    "splitbench vlm merge": "named in a sentence; needs open_clip checkpoints (docs/baselines.md)",
    "splitbench build-benchmark": "named in a sentence; the full commands are shown below it",
}
LB_START, LB_END = "<!-- splitbench:leaderboard:start -->", "<!-- splitbench:leaderboard:end -->"
ANNOTATION_PLACEHOLDERS = ("PATH/TO/Datasets", "PATH", "Datasets")


@dataclass
class Walk:
    """What ran and what was skipped."""

    ran: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def readme_commands(text: str) -> list[tuple[str, bool]]:
    r"""The README's shell commands in document order, each with "is a leaderboard row".

    Bash blocks give one command per line (``\`` continuations joined, ``&&`` split,
    comments dropped); inline code that starts with ``splitbench `` gives one each.
    """
    found: list[tuple[int, str]] = []
    for m in re.finditer(r"```bash\n(.*?)```", text, flags=re.S):
        joined = m.group(1).replace("\\\n", " ")
        for line in joined.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                found.extend((m.start(), part.strip()) for part in line.split("&&"))
    fences = [m.span() for m in re.finditer(r"```.*?```", text, flags=re.S)]
    for m in re.finditer(r"`(splitbench [^`]+)`", text):
        if not any(a <= m.start() < b for a, b in fences):
            found.append((m.start(), m.group(1)))
    region = (text.find(LB_START), text.find(LB_END))
    out: list[tuple[str, bool]] = []
    for pos, cmd in sorted(found, key=lambda t: t[0]):
        if cmd not in (c for c, _ in out):
            out.append((cmd, region[0] <= pos < region[1]))
    return out


def plugin_example(text: str) -> str:
    """The README's ``Writing a method`` Python example."""
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return next(b for b in blocks if "class Halfway" in b)


def fill(cmd: str, annotations: Path | None) -> tuple[str | None, str]:
    """The command with placeholders filled, or None and why it is skipped."""
    if cmd in NAMES_ONLY:
        return None, NAMES_ONLY[cmd]
    for needle, reason in SKIPS:
        if needle in cmd:
            return None, reason
    words = shlex.split(cmd)
    for i, w in enumerate(words):
        if (
            i
            and words[i - 1] in ("--annotations", "--from-official")
            and (w in ANNOTATION_PLACEHOLDERS)
        ):
            if annotations is None:
                return None, "needs the official annotation files (set SPLITBENCH_ANNOTATIONS)"
            words[i] = str(annotations)
        if i and words[i - 1] == "--output" and w == "DIR":
            words[i] = "features/ssv2-split"
    if words[:3] == ["splitbench", "run", "-m"] and words[3] == "halfway":
        words += ["--plugin", "halfway.py"] if "--plugin" not in words else []
    words[0] = str(BIN / words[0]) if words[0] == "splitbench" else words[0]
    return shlex.join(words), ""


def walk(readme: Path, workdir: Path, annotations: Path | None, full: bool = False) -> Walk:
    """Run the README's commands in ``workdir`` (``full``: the leaderboard rows too)."""
    text = readme.read_text(encoding="utf-8")
    (workdir / "halfway.py").write_text(plugin_example(text), encoding="utf-8")
    result = Walk()
    for cmd, row in readme_commands(text):
        filled, reason = fill(cmd, annotations)
        if row and not full and filled is not None:
            filled, reason = None, "a leaderboard row's command (--full runs them)"
        if filled is None:
            result.skipped.append((cmd, reason))
            print(f"skip  {cmd}  ({reason})", file=sys.stderr)
            continue
        print(f"run   {cmd}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        out = subprocess.run(
            filled, shell=True, cwd=workdir, capture_output=True, text=True, env=dict(os.environ)
        )
        print(f"      {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
        if out.returncode != 0 or "Traceback" in out.stdout + out.stderr:
            tail = (out.stderr.strip() or out.stdout.strip()).splitlines()[-3:]
            result.failed.append((cmd, f"exit {out.returncode}: {' / '.join(tail)}"))
            print(f"FAIL  {cmd}: exit {out.returncode}\n{out.stderr[-2000:]}", file=sys.stderr)
        else:
            result.ran.append(cmd)
    return result


def summary(w: Walk) -> str:
    """One line: counts, then each skipped command with its reason."""
    head = (
        f"README walk-through: {len(w.ran)} commands ran"
        + (f", {len(w.failed)} FAILED" if w.failed else " without error or traceback")
        + f"; {len(w.skipped)} skipped"
    )
    return head + "".join(f"\n  skipped: {c}  ({r})" for c, r in w.skipped)


def main() -> int:
    """Command-line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    ap.add_argument("--annotations", type=Path, default=os.environ.get("SPLITBENCH_ANNOTATIONS"))
    ap.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    ap.add_argument("--full", action="store_true", help="also run every leaderboard row")
    args = ap.parse_args()
    ann = args.annotations if args.annotations and Path(args.annotations).is_dir() else None
    if args.workdir is None:
        with tempfile.TemporaryDirectory(prefix="splitbench-readme-") as tmp:
            w = walk(args.readme, Path(tmp), ann, args.full)
    else:
        args.workdir.mkdir(parents=True, exist_ok=True)
        w = walk(args.readme, args.workdir, ann, args.full)
    for cmd, why in w.failed:
        print(f"failed: {cmd}: {why}")
    print(summary(w))
    return 1 if w.failed else 0


if __name__ == "__main__":
    sys.exit(main())
