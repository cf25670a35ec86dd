"""Loading a photo: only modest JPEG and PNG images are decoded."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from biometrics.errors import PhotoTooLarge, UnreadablePhoto, UnsupportedFormat
from biometrics.images import MAX_PHOTO_BYTES, load_photo, read_photo_file
from tests.biometrics.reference_photos import OBAMA


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A valid-looking PNG of a few hundred bytes whose header declares width × height pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 256))
        + _chunk(b"IEND", b"")
    )


@pytest.fixture
def decoding_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to decode pixels fails the test."""

    def refuse(self: Image.Image) -> None:
        raise AssertionError("the image was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    monkeypatch.setattr(Image.Image, "load", refuse)


def test_a_png_declaring_ten_billion_pixels_is_refused_without_decoding(decoding_forbidden) -> None:
    bomb = png_claiming(100_000, 100_000)
    assert len(bomb) < 1000
    with pytest.raises(PhotoTooLarge, match="pixels"):
        load_photo(bomb)


def test_a_png_over_the_pixel_cap_but_under_pillows_own_is_refused_without_decoding(
    decoding_forbidden,
) -> None:
    # 30 MP: Pillow alone would decode it (its limit is ~89 MP); the 25 MP cap refuses it.
    with pytest.raises(PhotoTooLarge, match="6000×5000"):
        load_photo(png_claiming(6000, 5000))


def test_a_text_file_named_jpg_is_refused(tmp_path) -> None:
    fake = tmp_path / "portrait.jpg"
    fake.write_text("iin,name\n900101300017,Not a photo\n")
    with pytest.raises(UnsupportedFormat, match="JPEG or PNG"):
        load_photo(read_photo_file(fake))


def test_other_image_formats_are_refused() -> None:
    for fmt in ("GIF", "BMP", "TIFF", "WEBP"):
        buffer = io.BytesIO()
        Image.new("RGB", (20, 20)).save(buffer, fmt)
        with pytest.raises(UnsupportedFormat):
            load_photo(buffer.getvalue())


def test_too_many_bytes_are_refused_before_parsing(decoding_forbidden) -> None:
    with pytest.raises(PhotoTooLarge, match="10 MB"):
        load_photo(b"\xff\xd8\xff" + bytes(MAX_PHOTO_BYTES))


def test_reading_a_file_stops_past_the_size_cap(tmp_path) -> None:
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8\xff" + bytes(5000))
    with pytest.raises(PhotoTooLarge):
        read_photo_file(big, max_bytes=1000)


def test_a_missing_file_is_an_unreadable_photo(tmp_path) -> None:
    with pytest.raises(UnreadablePhoto, match="no photo file"):
        read_photo_file(tmp_path / "absent.jpg")


def test_a_truncated_jpeg_is_refused_as_unreadable() -> None:
    data = OBAMA.read_bytes()
    with pytest.raises(UnreadablePhoto):
        load_photo(data[: len(data) // 3])


def test_garbage_after_a_jpeg_signature_is_refused_as_unreadable() -> None:
    with pytest.raises(UnreadablePhoto):
        load_photo(b"\xff\xd8\xff" + b"garbage" * 100)


def test_a_jpeg_becomes_an_rgb_array() -> None:
    pixels = load_photo(OBAMA.read_bytes())
    assert pixels.dtype == np.uint8
    assert pixels.shape == (400, 320, 3)


def test_grey_and_transparent_pngs_become_rgb() -> None:
    for mode in ("L", "RGBA", "P", "I;16"):
        buffer = io.BytesIO()
        Image.new(mode, (30, 20)).save(buffer, "PNG")
        assert load_photo(buffer.getvalue()).shape == (20, 30, 3)


def test_the_exif_orientation_is_applied() -> None:
    # Stored 40 wide and 20 high, tagged "rotate 90° clockwise to view" (orientation 6).
    stored = Image.new("RGB", (40, 20), (255, 0, 0))
    stored.paste((0, 0, 255), (0, 0, 20, 20))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", exif=exif.tobytes(), quality=95)
    upright = load_photo(buffer.getvalue())
    assert upright.shape == (40, 20, 3)
    # After the turn the stored left half is on top.
    assert upright[5, 10, 2] > 200 and upright[35, 10, 0] > 200
