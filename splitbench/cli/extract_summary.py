"""What ``splitbench extract`` prints per subset, and the parsing of its compound options."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from splitbench.cli.common import err

if TYPE_CHECKING:
    from splitbench.features.extract_run import ExtractReport


def print_summary(benchmark: str, name: str, report: ExtractReport) -> None:
    """The store, its counts and passes, this run's throughput, sanity and skips."""
    m = report.store.meta
    counts = ", ".join(
        f"{s} {m.splits[s].count} videos × {m.splits[s].views} views"
        for s in ("val", "train")
        if s in m.splits
    )
    skipped = {s: len(v) for s, v in report.skipped.items() if v}
    sanity = m.extra.get("sanity", {})
    last = (m.extra.get("runs") or [{}])[-1]
    err(
        f"{benchmark}/{name}: store at {report.store.path} ({counts}); backbone passes "
        f"{m.backbone_passes}; this run {report.videos_run} videos in {report.wall_s:.1f} s "
        f"({report.videos_per_s:.2f} videos/s, {last.get('chunks_run', 0)} of "
        f"{sum(report.chunks_total.values())} chunks"
        + (f", {last['world_size']} ranks)" if last.get("world_size") else ")")
    )
    err(
        f"  sanity: base-model val accuracy {_pct(sanity.get('accuracy'))} unmasked; on the "
        f"unrelated sets {_pct(sanity.get('unrelated_accuracy_mean'))} unmasked, "
        f"{_pct(sanity.get('unrelated_accuracy_masked_mean'))} with the coarse class masked "
        f"(mean over targets)"
    )
    if skipped:
        err(
            f"  skipped (missing or corrupt, listed in store.json): "
            f"{', '.join(f'{s} {n}' for s, n in skipped.items())}; restore them and rerun "
            f"with --retry-skipped"
            + (
                " — 'splitbench run' refuses a store with skipped val videos"
                if skipped.get("val")
                else ""
            )
        )


def source_size_option(value: str, default: tuple[int, int] | None) -> tuple[int, int] | None:
    """``--source-size``: ``auto`` (the benchmark's ``default``), ``none`` or ``WxH``."""
    from splitbench.errors import ConfigError

    v = value.strip().lower()
    if v == "auto":
        return default
    if v == "none":
        return None
    w, sep, h = v.partition("x")
    if not (sep and w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0):
        raise ConfigError(f"--source-size {value!r}: expected auto, none or WxH such as 480x270")
    return int(w), int(h)


def _pct(x: object) -> str:
    return f"{100 * float(x):.1f}%" if isinstance(x, (int, float)) else "n/a"


def checkpoints_by_subset(values: list[str], subsets: list[str]) -> dict[str, Path]:
    """``--checkpoint FILE`` (one subset) or ``--checkpoint S=FILE`` per subset."""
    from splitbench.errors import ConfigError

    named: dict[str, Path] = {}
    plain: list[Path] = []
    for v in values:
        key, sep, rest = v.partition("=")
        match = [s for s in subsets if s.lower() == key.strip().lower()]
        if sep and match:
            named[match[0]] = Path(rest)
        else:
            plain.append(Path(v))
    if plain and (named or len(plain) > 1 or len(subsets) > 1):
        raise ConfigError(
            "each subset has its own base model: pass --subset A --checkpoint FILE, or "
            "--checkpoint A=FILE --checkpoint B=FILE"
        )
    if plain:
        return {subsets[0]: plain[0]}
    lacking = [s for s in subsets if s not in named]
    if lacking:
        raise ConfigError(
            f"--checkpoint: no checkpoint for subset {', '.join(lacking)} (use S=FILE)"
        )
    return named
