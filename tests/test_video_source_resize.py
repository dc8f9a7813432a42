"""FineGym-Split's official preprocessing (1920×1080 → 480×270 before anything else):
applied on the fly by extraction, recorded in the view protocol, and equal to extracting
from the copies ``splitbench prepare-videos`` writes."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from extract_helpers import cli

from splitbench.benchmarks.official import FINEGYM_SPLIT, SSV2_SPLIT
from splitbench.catalog import load_benchmark
from splitbench.video.decode import decode_video
from splitbench.video.prepare import prepare_folder
from splitbench.video.views import EvalViews, TrainViews, ViewProtocol

SIZE = (480, 270)
PROTOCOL = ViewProtocol(
    eval=EvalViews(frames=4, short_side=224, crop_size=224),
    train=TrainViews(views=2, frames=4, crop_size=224),
    source_size=SIZE,
)


def write_1080p(path: Path, frames: int = 6) -> None:
    """A FineGym-sized H.264 clip: gradient, a moving box, noise."""
    rng = np.random.default_rng(0)
    h, w = 1080, 1920
    base = np.zeros((h, w, 3), dtype=np.uint8)
    base[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None]
    base[..., 1] = np.linspace(40, 200, h, dtype=np.uint8)[:, None]
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"preset": "ultrafast"}
        for t in range(frames):
            img = base.copy()
            img[300 + 20 * t : 500 + 20 * t, 200 + 90 * t : 500 + 90 * t] = (230, 30, 30)
            img[::7, ::5] = rng.integers(0, 255, (len(range(0, h, 7)), len(range(0, w, 5)), 3))
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("fullhd")
    src, dst = root / "orig", root / "resized"
    src.mkdir()
    write_1080p(src / "2pBxfMAIaXY_E_001794_001801_A_0000_0006.mp4")
    report = prepare_folder(src, dst, SIZE)
    assert (report.resized, report.copied, report.existing) == (1, 0, 0)
    return src / "2pBxfMAIaXY_E_001794_001801_A_0000_0006.mp4", dst / (
        "2pBxfMAIaXY_E_001794_001801_A_0000_0006.mp4"
    )


def test_views_of_the_1080p_clip_equal_those_of_its_prepared_copy(clips):
    original, copy = clips
    with av.open(str(copy)) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == SIZE
    a = decode_video(original, size=SIZE)
    b = decode_video(copy, size=SIZE)  # already 480×270: untouched
    assert (a.width, a.height) == (b.width, b.height) == SIZE and len(a) == len(b)
    assert np.array_equal(PROTOCOL.eval.sample(a), PROTOCOL.eval.sample(b))
    assert np.array_equal(PROTOCOL.train.sample(a, "v"), PROTOCOL.train.sample(b, "v"))
    # and the resizing matters: views of the unresized original differ
    full = decode_video(original)
    assert (full.width, full.height) == (1920, 1080)
    assert not np.array_equal(PROTOCOL.eval.sample(full), PROTOCOL.eval.sample(a))


def test_prepare_resumes_and_the_protocol_records_the_resize(clips, tmp_path):
    original, copy = clips
    again = prepare_folder(original.parent, copy.parent, SIZE)
    assert (again.resized, again.existing) == (0, 1)
    rec = PROTOCOL.record()
    assert rec["source_resize"] == {"width": 480, "height": 270, "method": "swscale bicubic"}
    plain = ViewProtocol(eval=PROTOCOL.eval, train=PROTOCOL.train).record()
    assert "source_resize" not in plain  # a different store key, and old keys unchanged
    # a clip already at the size is copied byte for byte
    more = prepare_folder(copy.parent, tmp_path / "again", SIZE)
    assert (more.resized, more.copied) == (0, 1)
    assert (tmp_path / "again" / copy.name).read_bytes() == copy.read_bytes()


def test_the_benchmark_carries_the_setting():
    assert FINEGYM_SPLIT.video_size == SIZE and SSV2_SPLIT.video_size is None


@pytest.mark.official
def test_prepare_videos_command_on_the_official_finegym_files(
    official_root, clips, tmp_path, monkeypatch, capsys
):
    assert load_benchmark("finegym-split", official_root).video_size == SIZE
    original, _ = clips
    out = tmp_path / "out"
    code, _, err = cli(
        monkeypatch, capsys, "prepare-videos", "-b", "finegym-split", "--annotations",
        str(official_root), "--videos", str(original.parent), "-o", str(out),
    )  # fmt: skip
    assert code == 0, err
    assert "1 videos resized to 480x270" in err and (out / original.name).is_file()
    code, _, err = cli(
        monkeypatch, capsys, "prepare-videos", "-b", "ssv2-split", "--annotations",
        str(official_root), "--videos", str(original.parent), "-o", str(out),
    )  # fmt: skip
    assert code == 2 and "no source resizing" in err


def test_extraction_workers_apply_the_protocol_resize(clips):
    from splitbench.features.view_loader import ViewDataset

    original, copy = clips
    _, views, error = ViewDataset([("val", "v", original)], PROTOCOL, 1)[0]
    assert error is None and views is not None
    assert np.array_equal(views, PROTOCOL.eval.sample(decode_video(copy)))
