"""Photos in, RGB pixel arrays out, refusing anything that is not a modest
JPEG or PNG before it costs memory.

Order of the checks, cheapest first:
1. byte size, before anything is parsed;
2. format, from the file's signature (its first bytes), never from its name;
3. pixel count, from the header alone (``Image.open`` reads the header,
   ``load()`` decodes): a small file that declares a huge image (a
   decompression bomb) is refused without being decoded;
4. decoding, EXIF orientation, conversion to RGB.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from biometrics.errors import PhotoTooLarge, UnreadablePhoto, UnsupportedFormat

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTO_PIXELS = 25_000_000

_JPEG_SIGNATURE = b"\xff\xd8\xff"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# MPO is how Pillow names a JPEG carrying extra pictures (phone cameras write them).
_ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG"}


def sniff_format(data: bytes) -> str:
    """``"JPEG"`` or ``"PNG"`` from the signature, or ``UnsupportedFormat``."""
    if data.startswith(_JPEG_SIGNATURE):
        return "JPEG"
    if data.startswith(_PNG_SIGNATURE):
        return "PNG"
    raise UnsupportedFormat("the photo must be a JPEG or PNG image (judged by its content, not its name)")


def load_photo(
    data: bytes, *, max_bytes: int = MAX_PHOTO_BYTES, max_pixels: int = MAX_PHOTO_PIXELS
) -> np.ndarray:
    """The photo as an upright RGB array (height × width × 3, uint8)."""
    if len(data) > max_bytes:
        raise PhotoTooLarge(f"the photo is larger than {max_bytes // (1024 * 1024)} MB")
    if not data:
        raise UnreadablePhoto("the photo is empty")
    declared = sniff_format(data)
    # face_recognition sets Pillow's process-wide LOAD_TRUNCATED_IMAGES, so a
    # cut-off file would decode silently: check the end marker ourselves.
    if (declared == "JPEG" and not data.rstrip(b"\x00").endswith(b"\xff\xd9")) or (
        declared == "PNG" and b"IEND" not in data[-16:]
    ):
        raise UnreadablePhoto("the photo cannot be decoded (damaged or truncated)")
    try:
        # Pillow's own guard (Image.MAX_IMAGE_PIXELS) refuses images past twice
        # its limit right here; the lower limit below is the one that decides.
        image = Image.open(io.BytesIO(data), formats=[declared])
    except Image.DecompressionBombError:
        raise PhotoTooLarge(f"the photo has more than {max_pixels:,} pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UnreadablePhoto("the photo cannot be read as an image (damaged or not an image)") from None
    with image:
        if image.format not in _ACCEPTED_FORMATS:
            raise UnsupportedFormat("the photo must be a JPEG or PNG image")
        width, height = image.size  # from the header: nothing is decoded yet
        if width <= 0 or height <= 0:
            raise UnreadablePhoto("the photo has no pixels")
        if width * height > max_pixels:
            raise PhotoTooLarge(f"the photo has {width}×{height} pixels, more than {max_pixels:,}")
        try:
            image.load()
            upright = ImageOps.exif_transpose(image) or image
            rgb = upright.convert("RGB")
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            raise UnreadablePhoto("the photo cannot be decoded (damaged or truncated)") from None
    return np.asarray(rgb, dtype=np.uint8)


def read_photo_file(
    path: Path, *, max_bytes: int = MAX_PHOTO_BYTES, max_pixels: int = MAX_PHOTO_PIXELS
) -> bytes:
    """A photo file's bytes, reading no more than the size limit allows."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise UnreadablePhoto(f"no photo file {path}") from None
    except IsADirectoryError:
        raise UnreadablePhoto(f"{path} is a directory, not a photo") from None
    except OSError as error:
        raise UnreadablePhoto(f"cannot read {path}: {error.strerror}") from None
    if len(data) > max_bytes:
        raise PhotoTooLarge(f"{path} is larger than {max_bytes // (1024 * 1024)} MB")
    return data
