"""``splitbench prepare-videos``: write a benchmark's videos at its source size with PyAV.

FineGym-Split's official preprocessing scaled the 1920×1080 FineGym clips to 480×270 before
everything else. ``splitbench extract`` applies that scaling on the fly (the benchmark's
``video_size``, recorded in the store's view protocol), so this step is optional: it makes
resized copies once, which are 16× fewer pixels to decode on every later extraction.

A copy is made with the same scaler as the on-the-fly path (FFmpeg's swscale, bicubic, in
the decoder's pixel format) and encoded **losslessly** (H.264, ``qp=0``, same pixel format),
so extracting from the copy gives exactly the views of extracting from the original. Videos
already at the target size are copied byte for byte.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from splitbench.atomic import atomic_path
from splitbench.errors import DataError
from splitbench.video.decode import SOURCE_RESIZE, VIDEO_EXTENSIONS, VideoError


@dataclass(frozen=True)
class PrepareReport:
    """What one ``prepare-videos`` run did.

    Attributes:
        resized: Files scaled and re-encoded.
        copied: Files already at the size, copied unchanged.
        existing: Files whose copy existed already (left alone; the run resumes).
    """

    resized: int
    copied: int
    existing: int


def resize_video(src: Path, dst: Path, size: tuple[int, int]) -> bool:
    """Write ``src`` scaled to ``size`` = ``(width, height)`` to ``dst`` (MP4), atomically.

    Returns:
        False when ``src`` was already of that size and was copied unchanged (to ``dst``'s
        folder under ``src``'s own name, so its container keeps its extension).

    Raises:
        VideoError: if ``src`` cannot be decoded.
    """
    import av

    width, height = size
    try:
        with av.open(str(src)) as probe:
            if not probe.streams.video:
                raise VideoError(f"{src}: no video stream in the file")
            vs = probe.streams.video[0]
            same = (vs.codec_context.width, vs.codec_context.height) == (width, height)
        if same:
            with atomic_path(dst.with_name(src.name)) as tmp:
                shutil.copyfile(src, tmp)
            return False
        with av.open(str(src)) as inp, atomic_path(dst) as tmp:
            stream = inp.streams.video[0]
            rate = stream.average_rate or 25
            with av.open(str(tmp), "w", format="mp4") as out:
                enc = out.add_stream("libx264", rate=rate)
                enc.width, enc.height = width, height
                enc.pix_fmt = stream.codec_context.pix_fmt or "yuv420p"
                enc.options = {"qp": "0", "preset": "ultrafast"}  # lossless
                for frame in inp.decode(stream):
                    small = frame.reformat(width=width, height=height, interpolation=SOURCE_RESIZE)
                    small.pts = None
                    for packet in enc.encode(small):
                        out.mux(packet)
                for packet in enc.encode():
                    out.mux(packet)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise VideoError(f"{src}: cannot resize ({type(exc).__name__}: {exc})") from None
    return True


def video_files(root: Path) -> Iterator[Path]:
    """The video files directly inside ``root``, in name order."""
    for p in sorted(Path(root).iterdir()):
        if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS:
            yield p


def prepare_folder(src: Path, dst: Path, size: tuple[int, int]) -> PrepareReport:
    """Resize every video of ``src`` into ``dst`` (same stem, ``.mp4``); resumable.

    Raises:
        DataError: when ``src`` is not a folder of videos or ``dst`` is ``src``.
    """
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise DataError(f"--videos {src}: not a directory")
    if dst.resolve() == src.resolve():
        raise DataError(f"--output {dst}: must differ from --videos (the originals are kept)")
    files = list(video_files(src))
    if not files:
        raise DataError(f"--videos {src}: holds no video file ({', '.join(VIDEO_EXTENSIONS)})")
    dst.mkdir(parents=True, exist_ok=True)
    resized = copied = existing = 0
    for f in files:
        target = dst / (f.stem + ".mp4")
        if target.is_file() or (dst / f.name).is_file():
            existing += 1
        elif resize_video(f, target, size):
            resized += 1
        else:
            copied += 1
    return PrepareReport(resized, copied, existing)
