"""Joining the platform through the pages: sign-up with a passkey, profile, accreditation with PDFs,
the operators' queue and decisions, client certificates from the platform's CA."""

from __future__ import annotations

import io
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from registry import accreditation
from registry.participants import get_participant, list_participants
from registry.staff import member_by_email
from tests.support.passkey import Passkey
from tests.support.staff import STAFF_ORIGIN, Staff, fintech, joined, operator, staff_browser

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
NEW_BIN = "150740000044"


def _sign_up(app, **overrides):
    browser = staff_browser(app)
    page = browser.get("/registry/sign-up").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    fields = {
        "name": "Qarjy LLP",
        "bin": NEW_BIN,
        "contact_email": "office@qarjy.kz",
        "contact_phone": "+7 727 355 00 00",
        "description": "Personal finance app",
        "admin_name": "Dana Omarova",
        "admin_email": "dana@qarjy.kz",
    }
    fields.update(overrides)
    headers = {"X-CSRFToken": csrf}
    options = browser.post("/registry/sign-up/passkey/options", json=fields, headers=headers)
    if options.status_code != 200:
        return options, browser, None
    options = options.get_json()
    passkey = Passkey()
    credential = passkey.create(options["publicKey"], STAFF_ORIGIN)
    answer = browser.post(
        "/registry/sign-up",
        json={
            **fields,
            "staff_id": options["staff_id"],
            "challenge_id": options["challenge_id"],
            "credential": credential,
        },
        headers=headers,
    )
    return answer, browser, passkey


def test_an_organisation_registers_itself_with_its_first_admin_and_a_passkey(app):
    answer, browser, _passkey = _sign_up(app)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"next": "/registry/security/recovery-codes/first"}
    [participant] = list_participants()
    assert (participant.name, participant.status, participant.roles) == ("Qarjy LLP", "registered", [])
    admin = member_by_email("dana@qarjy.kz")
    assert (admin.participant_id, admin.role, admin.status) == (participant.id, "admin", "active")
    cabinet = browser.get("/registry/cabinet").get_data(as_text=True)
    assert "Registered, not accredited" in cabinet and "Apply for accreditation" in cabinet


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"bin": "150740000045"}, "wrong check digit"),
        ({"name": ""}, "name"),
        ({"contact_email": "not-an-address"}, "e-mail"),
        ({"admin_email": "x"}, "not an e-mail address"),
        ({"admin_name": " "}, "a name has 1 to 120 characters"),
    ],
)
def test_a_wrong_sign_up_is_refused_before_a_passkey_is_made_and_stores_nothing(app, overrides, says):
    answer, _browser, passkey = _sign_up(app, **overrides)
    assert answer.status_code == 400 and says in answer.get_json()["error_description"]
    assert passkey is None and list_participants() == []


def test_a_registered_bin_or_a_known_address_cannot_sign_up_again(app):
    fintech()  # BIN 150740000044 is taken
    answer, _browser, _passkey = _sign_up(app)
    assert answer.status_code == 400 and "already registered" in answer.get_json()["error_description"]
    joined(app, participant_id=list_participants()[0].id, role="viewer", email="dana@qarjy.kz")
    answer, _browser, _passkey = _sign_up(app, bin="990240000080")
    assert (
        answer.status_code == 400
        and "already has a Senim staff account" in answer.get_json()["error_description"]
    )
    assert len(list_participants()) == 1


def _admin_of_new_participant(app) -> Staff:
    answer, browser, passkey = _sign_up(app)
    assert answer.status_code == 200
    return Staff(id=member_by_email("dana@qarjy.kz").id, email="dana@qarjy.kz", passkey=passkey, http=browser)


def _apply(staff: Staff, roles=("api_user",), files=(("charter.pdf", PDF),)):
    data = {
        "csrf_token": staff.csrf("/registry/accreditation"),
        "roles": list(roles),
        "documents": [(io.BytesIO(content), name) for name, content in files],
    }
    return staff.http.post("/registry/accreditation", data=data, content_type="multipart/form-data")


def test_apply_operator_approves_and_the_participant_is_accredited_with_a_certificate(app):
    admin = _admin_of_new_participant(app)
    assert _apply(admin).status_code == 303
    participant = list_participants()[0]
    page = admin.http.get("/registry/accreditation").get_data(as_text=True)
    assert "Submitted, waiting for an operator" in page and "charter.pdf" in page

    staff = operator(app)
    queue = staff.http.get("/registry/console/applications").get_data(as_text=True)
    [application] = accreditation.list_queue()
    assert f'data-application-id="{application.id}"' in queue and "Qarjy LLP" in queue
    review = staff.http.get(f"/registry/console/applications/{application.id}").get_data(as_text=True)
    document_link = re.search(r'href="(/registry/accreditation/[^"]+/documents/[^"]+)"', review).group(1)
    document = staff.http.get(document_link)
    assert document.data == PDF and document.headers["Content-Disposition"].startswith("attachment")
    staff.post_form(
        f"/registry/console/applications/{application.id}/review", csrf_from="/registry/console/applications"
    )
    staff.post_form(
        f"/registry/console/applications/{application.id}/approve", csrf_from="/registry/console/applications"
    )

    accredited = get_participant(participant.id)
    assert (accredited.status, accredited.roles) == ("active", ["api_user"])
    page = admin.http.get("/registry/accreditation").get_data(as_text=True)
    number = re.search(r'<code class="certificate-number">([^<]+)</code>', page).group(1)
    pdf = app.test_client().get(f"/registry/v1/participants/{participant.id}/accreditation-certificate.pdf")
    assert pdf.data.startswith(b"%PDF")
    register = app.test_client().get("/registry/v1/register?role=api_user").get_json()
    assert number in str(register)
    page = staff_browser(app).get("/registry/register?role=api_user").get_data(as_text=True)
    assert f'data-participant-id="{participant.id}"' in page and number in page
    assert f'data-participant-id="{participant.id}"' not in staff_browser(app).get(
        "/registry/register?role=api_provider"
    ).get_data(as_text=True)


def test_a_rejection_shows_its_reason_and_the_participant_may_apply_again(app):
    admin = _admin_of_new_participant(app)
    _apply(admin)
    [application] = accreditation.list_queue()
    staff = operator(app)
    staff.post_form(
        f"/registry/console/applications/{application.id}/review", csrf_from="/registry/console/applications"
    )
    refused = staff.post_form(
        f"/registry/console/applications/{application.id}/reject",
        {"reason": ""},
        "/registry/console/applications",
    )
    assert refused.status_code == 303 and accreditation.get_application(application.id).status == "in_review"
    staff.post_form(
        f"/registry/console/applications/{application.id}/reject",
        {"reason": "The licence is missing"},
        "/registry/console/applications",
    )
    page = admin.http.get("/registry/accreditation").get_data(as_text=True)
    assert "Rejected" in page and "The licence is missing" in page
    assert _apply(admin).status_code == 303 and len(accreditation.list_queue()) == 1


@pytest.mark.parametrize(
    "files", [(("charter.docx", b"PK\x03\x04 not a pdf"),), (("charter.pdf", b"<html>hi</html>"),), ()]
)
def test_documents_that_are_not_pdfs_are_refused_and_nothing_is_filed(app, files):
    admin = _admin_of_new_participant(app)
    _apply(admin, files=files)
    assert accreditation.list_queue() == []
    assert 'class="card error"' in admin.http.get("/registry/accreditation").get_data(as_text=True)


def test_a_viewer_may_not_apply_and_another_participant_cannot_read_the_documents(app):
    admin = _admin_of_new_participant(app)
    _apply(admin)
    [application] = accreditation.list_queue()
    viewer = joined(app, participant_id=application.participant_id, role="viewer", email="v@qarjy.kz")
    assert _apply(viewer).status_code == 403
    document = accreditation.documents(application.id)[0]
    stranger = joined(
        app, participant_id=fintech("Other LLP", "990240000080").id, role="admin", email="a@o.kz"
    )
    path = f"/registry/accreditation/{application.id}/documents/{document.id}"
    assert stranger.http.get(path).status_code == 404
    assert admin.http.get(path).status_code == 200


def test_participants_staff_have_no_queue(app):
    admin = _admin_of_new_participant(app)
    _apply(admin)
    [application] = accreditation.list_queue()
    assert admin.http.get("/registry/console/applications").status_code == 404
    assert admin.post_form(f"/registry/console/applications/{application.id}/approve").status_code == 404
    assert accreditation.get_application(application.id).status == "submitted"


def _csr() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "qarjy-app")]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def test_an_accredited_participant_has_a_csr_signed_downloads_and_revokes_it(app):
    staff = joined(app, participant_id=fintech().id, role="developer", email="dev@qarjy.kz")
    staff.post_form(
        "/registry/certificates", {"purpose": "mtls", "csr_pem": _csr()}, "/registry/certificates"
    )
    page = staff.http.get("/registry/certificates").get_data(as_text=True)
    serial = re.search(r'data-serial="([0-9a-f]+)"', page).group(1)
    pem = staff.http.get(f"/registry/certificates/{serial}.pem").data
    certificate = x509.load_pem_x509_certificate(pem)
    assert "Qarjy LLP" in certificate.subject.rfc4514_string()
    staff.post_form(
        f"/registry/certificates/{serial}/revoke", {"reason": "keyCompromise"}, "/registry/certificates"
    )
    crl = x509.load_der_x509_crl(app.test_client().get("/registry/v1/ca/crl").data)
    assert crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None


def test_a_registered_participant_gets_no_certificate(app):
    admin = _admin_of_new_participant(app)
    admin.post_form(
        "/registry/certificates", {"purpose": "mtls", "csr_pem": _csr()}, "/registry/certificates"
    )
    page = admin.http.get("/registry/certificates").get_data(as_text=True)
    assert "data-serial" not in page and 'class="card error"' in page


def test_the_admin_edits_the_profile_and_uploads_a_logo(app):
    from PIL import Image

    admin = _admin_of_new_participant(app)
    admin.post_form(
        "/registry/cabinet/profile",
        {
            "name": "Qarjy Ltd",
            "contact_email": "hi@qarjy.kz",
            "contact_phone": "+7 727 355 00 01",
            "description": "",
        },
        "/registry/cabinet",
    )
    participant = list_participants()[0]
    assert (participant.name, participant.contact_email) == ("Qarjy Ltd", "hi@qarjy.kz")
    image = io.BytesIO()
    Image.new("RGB", (64, 64), (11, 110, 79)).save(image, "PNG")
    data = {"csrf_token": admin.csrf("/registry/cabinet"), "logo": (io.BytesIO(image.getvalue()), "logo.png")}
    admin.http.post("/registry/cabinet/logo", data=data, content_type="multipart/form-data")
    logo = app.test_client().get(f"/registry/v1/participants/{participant.id}/logo.png")
    assert logo.status_code == 200 and logo.data.startswith(b"\x89PNG")


def test_the_profile_and_logo_change_only_after_a_fresh_proof(app, clock):
    from idp.staff_login import REAUTH_WINDOW

    admin = _admin_of_new_participant(app)
    clock.advance(REAUTH_WINDOW)
    answer = admin.post_form(
        "/registry/cabinet/profile",
        {
            "name": "Hijacked LLP",
            "contact_email": "evil@attacker.example",
            "contact_phone": "+7 727 000 00 00",
        },
        "/registry/cabinet",
    )
    assert answer.headers["Location"].startswith("/registry/confirm")
    assert list_participants()[0].name == "Qarjy LLP"


def test_an_application_takes_pdfs_larger_than_the_apps_one_megabyte(app):
    admin = _admin_of_new_participant(app)
    big = PDF + b"0" * (2 * 1024 * 1024)
    assert _apply(admin, files=(("charter.pdf", big),)).status_code == 303
    [application] = accreditation.list_queue()
    assert accreditation.documents(application.id)[0].size == len(big)


def test_a_sign_up_is_audited_once_it_is_stored(app):
    from senim.audit import find_audit_events, flush_audit_events

    _sign_up(app)
    flush_audit_events()
    events = {e.event for e in find_audit_events()}
    assert {"participant.registered", "staff.joined", "staff.passkey_added", "staff.signed_in"} <= events


def test_another_participants_certificate_is_not_found(app):
    from registry.certificate_authority import get_certificate, sign_csr

    owner = fintech()
    issued = sign_csr(owner.id, _csr().encode(), "mtls")
    stranger = joined(
        app, participant_id=fintech("Other LLP", "990240000080").id, role="admin", email="a@o.kz"
    )
    assert stranger.http.get(f"/registry/certificates/{issued.serial}.pem").status_code == 404
    answer = stranger.post_form(
        f"/registry/certificates/{issued.serial}/revoke",
        {"reason": "keyCompromise"},
        "/registry/certificates",
    )
    assert answer.status_code == 404 and get_certificate(issued.serial).revoked_at is None


def test_the_register_of_an_unknown_role_is_not_found(app):
    assert staff_browser(app).get("/registry/register?role=bank").status_code == 404


def test_operators_have_no_cabinet_pages(app):
    staff = operator(app)
    for path in (
        "/registry/accreditation",
        "/registry/certificates",
        "/registry/apps",
        "/registry/connected",
    ):
        assert staff.http.get(path).status_code == 404, path
