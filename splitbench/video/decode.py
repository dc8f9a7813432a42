"""Decoding videos with PyAV, and finding them on disk.

SSv2 ships ``<id>.webm`` (VP9) files while the official CSVs name them ``<id>.mp4``;
FineGym-Split clips are ``<clip_id>.mp4``. :class:`VideoFolder` resolves a listed name to
the file that exists, trying the listed name first and then the same stem with the other
usual extensions.

WebM/VP9 streams report 0 frames in their header, so the frame count is always taken from
decoding. Clips of both datasets are short (a few seconds), so every frame is decoded and
only the sampled ones are converted to RGB.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from splitbench.errors import DataError

VIDEO_EXTENSIONS = (".webm", ".mp4", ".mkv", ".avi")


class VideoError(DataError):
    """A video file that is missing, unreadable or holds no decodable frames."""


@dataclass(frozen=True)
class DecodedVideo:
    """All frames of one video, kept in the decoder's pixel format until needed.

    Attributes:
        path: The file.
        frames: PyAV frames in presentation order.
        width: Width of the first frame (every converted frame is scaled to it).
        height: Height of the first frame.
    """

    path: Path
    frames: tuple[object, ...]
    width: int
    height: int

    def __len__(self) -> int:
        return len(self.frames)

    def rgb(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at ``indices`` as an ``(len(indices), H, W, 3)`` uint8 array.

        Each distinct index is converted once, however often it is requested.
        """
        converted = {int(i): self._rgb(self.frames[int(i)]) for i in set(indices)}
        out = np.empty((len(indices), self.height, self.width, 3), dtype=np.uint8)
        for k, i in enumerate(indices):
            out[k] = converted[int(i)]
        return out

    def _rgb(self, frame: Any) -> np.ndarray:
        if frame.width == self.width and frame.height == self.height:
            out: np.ndarray = frame.to_ndarray(format="rgb24")
        else:  # a mid-stream size change: scale to the first frame's size
            out = frame.to_ndarray(format="rgb24", width=self.width, height=self.height)
        return out


#: How frames are resized to a benchmark's source size (FFmpeg's ``scale`` default).
SOURCE_RESIZE = "BICUBIC"


def decode_video(
    path: Path, *, threads: int = 1, size: tuple[int, int] | None = None
) -> DecodedVideo:
    """Decode every frame of the first video stream of ``path``.

    Args:
        path: A video file.
        threads: FFmpeg decoding threads (0 lets FFmpeg choose; 1 suits worker processes).
        size: ``(width, height)`` to scale every frame to, in the decoder's pixel format,
            with FFmpeg's swscale (bicubic, like ``ffmpeg -vf scale=W:H``), before anything
            else; frames already of that size are untouched. FineGym-Split's 480×270 (see
            :func:`splitbench.video.prepare.resize_video`).

    Raises:
        VideoError: if the file is missing, cannot be demuxed or decoded, has no video
            stream, or yields no frame.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: video file does not exist")
    frames: list[object] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path}: no video stream in the file")
            stream = container.streams.video[0]
            stream.codec_context.thread_count = max(0, threads)
            if threads != 1:
                stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                if size is not None and (frame.width, frame.height) != size:
                    frame = frame.reformat(
                        width=size[0], height=size[1], interpolation=SOURCE_RESIZE
                    )
                frames.append(frame)
    except VideoError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise VideoError(f"{path}: cannot decode video ({type(exc).__name__}: {exc})") from None
    if not frames:
        raise VideoError(f"{path}: the video stream holds no decodable frame")
    first = frames[0]
    return DecodedVideo(path, tuple(frames), int(first.width), int(first.height))  # type: ignore[attr-defined]


def count_frames(path: Path) -> int:
    """Number of frames of ``path``, counted by decoding (container headers can say 0)."""
    return len(decode_video(path))


class VideoFolder:
    """Resolve video names from an annotation file to files in one folder.

    Args:
        root: The folder holding the videos (names may also carry sub-folders).
        extensions: Alternatives tried after the listed name, in order.
    """

    def __init__(self, root: Path, extensions: Sequence[str] = VIDEO_EXTENSIONS) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"--videos {self.root}: not a directory")
        self.extensions = tuple(extensions)
        self._listing: set[str] | None = None

    def _names(self) -> set[str]:
        if self._listing is None:
            with os.scandir(self.root) as it:
                self._listing = {e.name for e in it}
        return self._listing

    def _exists(self, rel: str) -> bool:
        if "/" in rel or os.sep in rel:
            return (self.root / rel).is_file()
        return rel in self._names()

    def candidates(self, name: str) -> list[str]:
        """Relative names tried for ``name``: itself, then its stem with each extension."""
        stem, ext = os.path.splitext(name)
        out = [name]
        out += [stem + e for e in self.extensions if e != ext.lower()]
        return out

    def resolve(self, name: str) -> Path | None:
        """The file for ``name``, or None when no candidate exists."""
        for rel in self.candidates(name):
            if self._exists(rel):
                return self.root / rel
        return None
