"""Self-registration, the profile and the logo of a participant."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from registry.logos import MAX_LOGO_SIDE, InvalidLogo, logo_png, set_logo
from registry.models import ParticipantLogo
from registry.participants import (
    API_USER,
    MAX_DESCRIPTION,
    DuplicateParticipant,
    InvalidProfile,
    ParticipantNotAccredited,
    WrongRole,
    get_participant,
    register_participant,
    require_active,
    update_profile,
)
from senim.database import db
from tests.support.accreditation import new_bin, registered
from tests.support.audit_log import AuditLines


def _image(fmt: str, size: tuple[int, int] = (64, 32), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "teal").save(out, format=fmt)
    return out.getvalue()


# -- registering ------------------------------------------------------------------------------------
def test_a_self_registered_participant_has_no_roles_and_may_not_act(app, clock) -> None:
    with AuditLines() as lines:
        participant = registered()
    assert (participant.status, participant.roles, participant.accredited_at) == ("registered", [], None)
    assert participant.contact_phone == "+77012345678"
    with pytest.raises(WrongRole):  # no role: refused before its state is even looked at
        require_active(participant.id, API_USER)
    participant.roles = [API_USER]  # even with a role, "registered" is not active
    with pytest.raises(ParticipantNotAccredited):
        require_active(participant.id, API_USER)
    db.session.rollback()
    assert "office@qarjy.kz" not in lines.text() and "7012345678" not in lines.text()


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("contact_email", "not-an-email", "e-mail"),
        ("contact_email", "a@b", "e-mail"),
        ("contact_phone", "12345", "phone"),
        ("contact_phone", "+7 701 CALL ME", "phone"),
        ("description", "x" * (MAX_DESCRIPTION + 1), "at most"),
        ("description", "bell\x07", "control"),
    ],
)
def test_a_bad_profile_field_is_refused(app, field, value, says) -> None:
    fields = {
        "name": "Qarjy",
        "bin": new_bin(),
        "contact_email": "office@qarjy.kz",
        "contact_phone": "+77012345678",
        "description": None,
        field: value,
    }
    with pytest.raises(InvalidProfile, match=says):
        register_participant(**fields)


def test_a_bin_registers_once(app) -> None:
    bin_ = new_bin()
    register_participant(name="A", bin=bin_, contact_email="a@a.kz", contact_phone="87011234567")
    with pytest.raises(DuplicateParticipant):
        register_participant(name="B", bin=bin_, contact_email="b@b.kz", contact_phone="+77011234567")


def test_the_profile_is_updated_field_by_field_or_not_at_all(app) -> None:
    participant = registered()
    update_profile(participant.id, contact_email="ceo@qarjy.kz", description=None)
    participant = get_participant(participant.id)
    assert (participant.contact_email, participant.description) == ("ceo@qarjy.kz", None)
    assert participant.contact_phone == "+77012345678"  # not given: unchanged
    with pytest.raises(InvalidProfile):
        update_profile(participant.id, name="Renamed", contact_phone="nope")
    assert get_participant(participant.id).name == "Qarjy LLP"
    assert "contact_email" in get_participant(participant.id).profile_dict()
    assert "contact_email" not in get_participant(participant.id).as_public_dict()


# -- the logo ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_logo_is_reencoded_as_png_and_served(app, http, fmt) -> None:
    participant = registered()
    logo = set_logo(participant.id, _image(fmt))
    assert logo.png.startswith(b"\x89PNG\r\n\x1a\n") and (logo.width, logo.height) == (64, 32)
    answer = http.get(f"/registry/v1/participants/{participant.id}/logo.png")
    assert answer.status_code == 200 and answer.mimetype == "image/png"
    assert answer.data == logo.png


def test_trailing_bytes_of_an_upload_are_not_kept(app) -> None:
    participant = registered()
    logo = set_logo(participant.id, _image("PNG") + b"<script>alert(1)</script>")
    assert b"<script>" not in logo.png


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "no logo"),
        (b"GIF89a" + b"\0" * 100, "not a PNG or JPEG"),
        (b"%PDF-1.4 not an image", "not a PNG or JPEG"),
        (_image("PNG")[:60], "not a PNG or JPEG"),  # truncated
        (_image("GIF"), "not a PNG or JPEG"),  # a real image, of another format
        (_image("PNG", (MAX_LOGO_SIDE + 1, 10)), "px a side"),
        (b"\x89PNG" + b"\0" * (256 * 1024), "KiB"),
    ],
)
def test_a_logo_that_is_not_a_small_png_or_jpeg_is_refused(app, data, says) -> None:
    participant = registered()
    with pytest.raises(InvalidLogo, match=says):
        set_logo(participant.id, data)
    assert db.session.get(ParticipantLogo, participant.id) is None


def test_no_logo_is_not_found(app, http) -> None:
    participant = registered()
    assert logo_png(participant.id) is None
    assert http.get(f"/registry/v1/participants/{participant.id}/logo.png").status_code == 404
    assert http.get("/registry/v1/participants/nope/logo.png").status_code == 404


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_cut_short_logo_is_refused_even_where_pillow_would_decode_it(app, monkeypatch, fmt) -> None:
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # as face_recognition sets it
    participant = registered()
    with pytest.raises(InvalidLogo, match="cut short"):
        set_logo(participant.id, _image(fmt, (200, 200))[:-40])
