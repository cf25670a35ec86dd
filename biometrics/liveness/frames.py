"""Turning an uploaded capture into frames, safely.

A capture is either a list of still frames (JPEG or PNG bytes) or one short
video clip (WebM or MP4 bytes). Formats are recognised by their content, never
by a name or a declared type. Every limit is checked before the expensive
step: bytes before decoding, the declared pixel count (read from the header)
before decompressing, the number of video frames before keeping any.

Frames come out as RGB ``uint8`` arrays, their long side at most
``ANALYSIS_LONG_SIDE`` pixels, so the cost of the face analysis is bounded
whatever the camera sent.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence

import cv2
import numpy as np

from biometrics.errors import BiometricsError, PhotoTooLarge
from biometrics.images import load_photo

MAX_FRAMES = 12
MAX_FRAME_BYTES = 2 * 1024 * 1024
MAX_FRAME_PIXELS = 1920 * 1440  # declared width × height, checked before decoding
MAX_VIDEO_BYTES = 12 * 1024 * 1024
MAX_VIDEO_DECODED_FRAMES = 300  # about 10 s at 30 frames/s
VIDEO_SAMPLED_FRAMES = 8
ANALYSIS_LONG_SIDE = 640

Capture = Sequence[bytes] | bytes


class InvalidCapture(BiometricsError):
    """The capture cannot be analysed; ``code`` is a stable reason, ``str()`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def sniff_format(data: bytes) -> str | None:
    """ "jpeg", "png", "webm" or "mp4" from the leading bytes, else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return "mp4"
    return None


def load_capture(
    capture: Capture, *, max_frames: int = MAX_FRAMES, video_frames: int = VIDEO_SAMPLED_FRAMES
) -> list[np.ndarray]:
    """The frames of a capture (a list of image bytes, or a video clip's bytes)."""
    if isinstance(capture, bytes | bytearray | memoryview):
        return decode_video(bytes(capture), sampled_frames=min(video_frames, max_frames))
    if isinstance(capture, str) or not isinstance(capture, Sequence):
        raise InvalidCapture(
            "unsupported_capture", "a capture is a list of JPEG/PNG frames or one video clip"
        )
    if len(capture) > max_frames:
        raise InvalidCapture("too_many_frames", f"at most {max_frames} frames, got {len(capture)}")
    return [decode_image(frame, index=index) for index, frame in enumerate(capture)]


def decode_image(data: bytes, *, index: int = 0) -> np.ndarray:
    """One JPEG or PNG frame as an RGB array, within the byte and pixel limits.

    Decoding is biometrics.images.load_photo's (size, signature, declared
    pixels, then decoding), with the frame limits; a frame must also carry its
    end marker, because Pillow fills a cut-short image with grey instead of
    failing once face_recognition is imported (it sets LOAD_TRUNCATED_IMAGES).
    """
    where = f"frame {index}"
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidCapture("not_an_image", f"{where} is not image bytes")
    data = bytes(data)
    if len(data) > MAX_FRAME_BYTES:
        raise InvalidCapture("frame_too_large", f"{where} has {len(data)} bytes, at most {MAX_FRAME_BYTES}")
    kind = sniff_format(data)
    if kind not in ("jpeg", "png"):
        raise InvalidCapture("not_an_image", f"{where} is not a JPEG or PNG image")
    if not _complete(data, kind):
        raise InvalidCapture("not_an_image", f"{where} is cut short (no end marker)")
    try:
        rgb = load_photo(data, max_bytes=MAX_FRAME_BYTES, max_pixels=MAX_FRAME_PIXELS)
    except PhotoTooLarge as error:
        raise InvalidCapture("frame_too_large", f"{where}: {error}") from None
    except BiometricsError as error:
        raise InvalidCapture("not_an_image", f"{where}: {error}") from None
    return fit_for_analysis(rgb)


def decode_video(data: bytes, *, sampled_frames: int = VIDEO_SAMPLED_FRAMES) -> list[np.ndarray]:
    """Up to ``sampled_frames`` frames, evenly spaced, of a short WebM or MP4 clip.

    OpenCV's FFmpeg reads from a file, so the bytes go to a private temporary
    file that is removed afterwards. The clip is read twice: once to count its
    frames (refusing long clips without keeping any), once to keep the sampled ones.
    """
    if len(data) > MAX_VIDEO_BYTES:
        raise InvalidCapture("video_too_large", f"the clip has {len(data)} bytes, at most {MAX_VIDEO_BYTES}")
    kind = sniff_format(data)
    if kind not in ("webm", "mp4"):
        raise InvalidCapture("not_a_video", "the clip is not a WebM or MP4 video")
    handle, path = tempfile.mkstemp(suffix=f".{kind}", prefix="senim-capture-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        count = _count_video_frames(path)
        if count == 0:
            raise InvalidCapture("not_a_video", "the clip has no decodable frame")
        wanted = sorted({round(i * (count - 1) / max(sampled_frames - 1, 1)) for i in range(sampled_frames)})
        return _read_video_frames(path, wanted)
    finally:
        os.unlink(path)


def fit_for_analysis(rgb: np.ndarray) -> np.ndarray:
    """Scale a frame down so that its long side is at most ``ANALYSIS_LONG_SIDE``."""
    height, width = rgb.shape[:2]
    scale = ANALYSIS_LONG_SIDE / max(height, width)
    if scale >= 1.0:
        return np.ascontiguousarray(rgb)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _complete(data: bytes, kind: str) -> bool:
    """Whether an image has its end marker. Pillow would fill a cut-short image
    with grey instead of failing (face_recognition sets LOAD_TRUNCATED_IMAGES)."""
    if kind == "jpeg":
        return data.rstrip(b"\0").endswith(b"\xff\xd9")
    return b"IEND" in data[-64:]


def _check_pixels(width: int, height: int, where: str) -> None:
    if width < 1 or height < 1 or width * height > MAX_FRAME_PIXELS:
        raise InvalidCapture(
            "frame_too_large", f"{where} declares {width}×{height} pixels, at most {MAX_FRAME_PIXELS} in all"
        )


def _open_video(path: str) -> cv2.VideoCapture:
    video = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    if not video.isOpened():
        video.release()
        raise InvalidCapture("not_a_video", "the clip does not decode as a video")
    width = int(video.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(video.get(cv2.CAP_PROP_FRAME_HEIGHT))
    try:
        _check_pixels(width, height, "the clip")
    except InvalidCapture:
        video.release()
        raise
    return video


def _count_video_frames(path: str) -> int:
    video = _open_video(path)
    try:
        count = 0
        while video.grab():
            count += 1
            if count > MAX_VIDEO_DECODED_FRAMES:
                raise InvalidCapture(
                    "video_too_long", f"the clip has more than {MAX_VIDEO_DECODED_FRAMES} frames"
                )
        return count
    finally:
        video.release()


def _read_video_frames(path: str, wanted: list[int]) -> list[np.ndarray]:
    video = _open_video(path)
    frames: list[np.ndarray] = []
    try:
        index = 0
        keep = set(wanted)
        while index <= wanted[-1] and video.grab():
            if index in keep:
                ok, bgr = video.retrieve()
                if not ok or bgr is None or bgr.ndim != 3:
                    raise InvalidCapture("not_a_video", "a frame of the clip does not decode")
                frames.append(fit_for_analysis(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
            index += 1
    finally:
        video.release()
    return frames
