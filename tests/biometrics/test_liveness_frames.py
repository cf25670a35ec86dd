"""Uploaded captures: formats by content, limits before decoding, clear errors."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from biometrics.liveness import (
    InvalidCapture,
    frame_set_fingerprint,
    issue_challenge,
    load_capture,
    verify_liveness,
)
from biometrics.liveness import frames as frames_module
from biometrics.liveness.frames import MAX_FRAME_BYTES, MAX_FRAMES, sniff_format
from biometrics.liveness.synthetic import encode_jpeg, encode_png, write_y4m


def _frame(seed: int = 0, size: tuple[int, int] = (64, 48)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, size=(size[1], size[0], 3), dtype=np.uint8)


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width×height pixels (the data is tiny)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    data = zlib.compress(b"\x00" * 16)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", len(data))
        + b"IDAT"
        + data
        + struct.pack(">I", zlib.crc32(b"IDAT" + data))
        + struct.pack(">I", 0)
        + b"IEND"
        + struct.pack(">I", zlib.crc32(b"IEND"))
    )


def test_jpeg_and_png_frames_decode_to_rgb() -> None:
    frames = load_capture([encode_jpeg(_frame(1)), encode_png(_frame(2))])
    assert [frame.shape for frame in frames] == [(48, 64, 3), (48, 64, 3)]
    assert np.array_equal(frames[1], _frame(2))  # PNG is lossless


def test_large_frames_are_scaled_down_for_analysis() -> None:
    (frame,) = load_capture([encode_jpeg(_frame(3, size=(1280, 960)))])
    assert frame.shape == (480, 640, 3)


def test_too_many_frames_are_refused() -> None:
    frame = encode_jpeg(_frame())
    with pytest.raises(InvalidCapture) as refused:
        load_capture([frame] * (MAX_FRAMES + 1))
    assert refused.value.code == "too_many_frames"
    assert "at most 12 frames" in str(refused.value)


def test_a_frame_that_is_not_an_image_is_refused() -> None:
    with pytest.raises(InvalidCapture) as refused:
        load_capture([encode_jpeg(_frame()), b"<html>not a picture</html>"])
    assert refused.value.code == "not_an_image"
    assert "frame 1" in str(refused.value)


def test_a_gif_is_refused_whatever_it_is_called() -> None:
    buffer = io.BytesIO()
    Image.fromarray(_frame()).save(buffer, format="GIF")
    with pytest.raises(InvalidCapture) as refused:
        load_capture([buffer.getvalue()])
    assert refused.value.code == "not_an_image"


def test_a_truncated_jpeg_is_refused() -> None:
    data = encode_jpeg(_frame(size=(320, 240)))
    with pytest.raises(InvalidCapture) as refused:
        load_capture([data[: len(data) // 2]])
    assert refused.value.code == "not_an_image"


def test_a_huge_declared_pixel_count_is_refused_before_decoding() -> None:
    with pytest.raises(InvalidCapture) as refused:
        load_capture([_png_declaring(60000, 60000)])
    assert refused.value.code == "frame_too_large"
    assert "pixels" in str(refused.value)


def test_too_many_bytes_are_refused() -> None:
    with pytest.raises(InvalidCapture) as refused:
        load_capture([b"\xff\xd8\xff" + b"\0" * MAX_FRAME_BYTES])
    assert refused.value.code == "frame_too_large"


def test_verify_liveness_raises_for_malformed_input() -> None:
    with pytest.raises(InvalidCapture):
        verify_liveness(issue_challenge(), [b"GIF89a"] * 3)
    with pytest.raises(InvalidCapture) as refused:
        verify_liveness(issue_challenge(), b"not a video at all")
    assert refused.value.code == "not_a_video"


def test_formats_are_recognised_by_content() -> None:
    assert sniff_format(encode_jpeg(_frame())) == "jpeg"
    assert sniff_format(encode_png(_frame())) == "png"
    assert sniff_format(b"\x1a\x45\xdf\xa3rest") == "webm"
    assert sniff_format(b"\0\0\0\x20ftypisom") == "mp4"
    assert sniff_format(b"hello") is None


@pytest.mark.parametrize(("codec", "suffix"), [("mp4v", ".mp4"), ("VP80", ".webm")])
def test_a_video_clip_is_sampled_to_a_few_frames(tmp_path: Path, codec: str, suffix: str) -> None:
    path = tmp_path / f"clip{suffix}"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), 10, (160, 120))
    assert writer.isOpened()
    for index in range(30):
        frame = np.full((120, 160, 3), index * 8, np.uint8)
        writer.write(frame)
    writer.release()
    data = path.read_bytes()
    assert sniff_format(data) == suffix[1:]
    frames = load_capture(data, video_frames=6)
    assert len(frames) == 6
    assert frames[0].shape == (120, 160, 3)
    brightness = [float(frame.mean()) for frame in frames]
    assert brightness == sorted(brightness) and brightness[-1] > brightness[0] + 100


def test_a_clip_too_long_is_refused_before_frames_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frames_module, "MAX_VIDEO_DECODED_FRAMES", 10)
    path = tmp_path / "long.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for _ in range(20):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    with pytest.raises(InvalidCapture) as refused:
        load_capture(path.read_bytes())
    assert refused.value.code == "video_too_long"


def test_fingerprint_is_the_same_for_the_same_frames_and_differs_otherwise() -> None:
    frames = [encode_jpeg(_frame(seed)) for seed in range(4)]
    assert frame_set_fingerprint(frames) == frame_set_fingerprint(list(frames))
    assert frame_set_fingerprint(frames) == frame_set_fingerprint(load_capture(frames))
    assert frame_set_fingerprint(frames) != frame_set_fingerprint(frames[::-1])
    assert frame_set_fingerprint(frames) != frame_set_fingerprint(frames[:3])


def test_y4m_is_640x480_yuv420p_and_decodes_with_ffmpeg(tmp_path: Path) -> None:
    path = tmp_path / "camera.y4m"
    red = np.full((480, 640, 3), (200, 30, 30), np.uint8)
    green_small = np.full((240, 320, 3), (30, 200, 30), np.uint8)  # scaled up to 640×480
    write_y4m([red, green_small], path, fps=10)
    header, _, body = path.read_bytes().partition(b"\n")
    assert header.startswith(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg")
    assert len(body) == 2 * (len(b"FRAME\n") + 640 * 480 * 3 // 2)
    video = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    decoded = []
    while True:
        ok, bgr = video.read()
        if not ok:
            break
        decoded.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    video.release()
    assert [frame.shape for frame in decoded] == [(480, 640, 3)] * 2
    assert np.abs(decoded[0][240, 320].astype(int) - (200, 30, 30)).max() <= 6
    assert np.abs(decoded[1][240, 320].astype(int) - (30, 200, 30)).max() <= 6
