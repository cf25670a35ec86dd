"""Participants' logos: shown to customers on the consent screen and in the register.

An upload is checked with Pillow and never served as sent: it must be a real
PNG or JPEG (decoded, not just named so), at most ``MAX_LOGO_BYTES`` and
``MAX_LOGO_SIDE`` pixels a side; the platform re-encodes it as PNG, which
drops whatever else the file carried (metadata, trailing bytes, a polyglot's
second format).
"""

from __future__ import annotations

import hashlib
import io
import warnings

from PIL import Image, UnidentifiedImageError

from registry.models import ParticipantLogo
from registry.participants import ParticipantError, get_participant, require_participant
from senim import clock
from senim.audit import audit
from senim.database import db

MAX_LOGO_BYTES = 256 * 1024
MAX_LOGO_SIDE = 1024
LOGO_FORMATS = ("PNG", "JPEG")


class InvalidLogo(ParticipantError):
    """The logo is not a PNG or JPEG image within the limits; ``str(error)`` says which."""


def check_logo_size(data: bytes) -> None:
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise InvalidLogo("no logo given: send a PNG or JPEG image")
    if len(data) > MAX_LOGO_BYTES:
        raise InvalidLogo(
            f"a logo has at most {MAX_LOGO_BYTES // 1024} KiB, this one {len(data) // 1024} KiB"
        )


def check_logo_complete(data: bytes, fmt: str | None) -> None:
    """A cut-off file is refused even where Pillow would decode it as grey.

    face_recognition sets Pillow's process-wide ``LOAD_TRUNCATED_IMAGES``
    (see ``biometrics.images``), so the end marker is checked here: a PNG's
    IEND chunk (PNG spec §11.2.5), a JPEG's EOI marker (FF D9, ITU T.81 B.2.1).
    Bytes after it are allowed; re-encoding drops them.
    """
    marker = b"IEND" if fmt == "PNG" else b"\xff\xd9"
    if marker not in data[8:]:
        raise InvalidLogo("the logo is not a PNG or JPEG image (damaged or cut short)")


def open_logo_image(data: bytes) -> Image.Image:
    """The decoded image, if the bytes are a PNG or JPEG of at most ``MAX_LOGO_SIDE`` px a side."""
    try:
        with warnings.catch_warnings():
            # A decompression bomb is an error here, not a warning.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(LOGO_FORMATS))
            if max(image.size) > MAX_LOGO_SIDE:
                raise InvalidLogo(
                    f"a logo has at most {MAX_LOGO_SIDE} px a side, this one {image.size[0]}x{image.size[1]}"
                )
            check_logo_complete(data, image.format)
            image.load()  # decodes it all: a corrupt file fails here
    except InvalidLogo:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombWarning):
        raise InvalidLogo("the logo is not a PNG or JPEG image") from None
    return image


def reencode_png(image: Image.Image) -> bytes:
    converted = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P", "PA") else "RGB")
    out = io.BytesIO()
    converted.save(out, format="PNG", optimize=True)
    return out.getvalue()


def checked_png(data: bytes) -> tuple[bytes, Image.Image]:
    """A logo as Senim keeps it: checked (size, format, whole) and re-encoded as PNG, so no
    bytes the sender chose (metadata, anything after the image) are ever served."""
    check_logo_size(data)
    image = open_logo_image(bytes(data))
    return reencode_png(image), image


def set_logo(participant_id: str, data: bytes) -> ParticipantLogo:
    """Check and store a participant's logo (re-encoded as PNG), replacing the one it had."""
    participant = require_participant(participant_id)
    png, image = checked_png(data)
    logo = db.session.get(ParticipantLogo, participant.id) or ParticipantLogo(participant_id=participant.id)
    logo.png = png
    logo.sha256 = hashlib.sha256(png).hexdigest()
    logo.width, logo.height = image.size
    logo.updated_at = clock.now_int()
    db.session.add(logo)
    db.session.commit()
    audit("participant.logo_set", participant_id=participant.id, sha256=logo.sha256, size=len(png))
    return logo


def logo_png(participant_id: str) -> ParticipantLogo | None:
    """The participant's logo as stored (PNG), or None."""
    if get_participant(participant_id) is None:
        return None
    return db.session.get(ParticipantLogo, participant_id)
