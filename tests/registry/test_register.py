"""The public register and accreditation certificates: what anyone may see and verify."""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from registry.accreditation_certificate import (
    CERTIFICATE_TYP,
    CERTIFICATE_VALIDITY,
    CertificateInvalid,
    verify_certificate,
)
from registry.certificate_authority import revoke_certificate, sign_csr
from registry.participants import (
    API_PROVIDER,
    API_USER,
    add_participant,
    block_participant,
    unblock_participant,
)
from senim.database import db
from tests.conftest import ISSUER
from tests.registry.test_certificate_authority import _csr
from tests.support.accreditation import APPLICANT, OPERATOR, accredited, new_bin, pdf, registered


def _register(http, role: str | None = None) -> list[dict]:
    answer = http.get("/registry/v1/register", query_string={"role": role} if role else {})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["participants"]


# -- the register ---------------------------------------------------------------------------------------
def test_approval_enters_the_participant_in_the_register(app, http, clock) -> None:
    assert _register(http) == []
    participant, certificate = accredited([API_USER])
    [entry] = _register(http, "api_user")
    assert entry == {
        "participant_id": participant.id,
        "name": "Qarjy LLP",
        "bin": participant.bin,
        "roles": [API_USER],
        "accredited_since": int(clock.now()),
        "accreditation_certificate_number": certificate.number,
        "certificates": [],
    }
    assert _register(http, "api_provider") == []


def test_the_register_never_shows_contacts(app, http) -> None:
    accredited([API_USER])
    text = http.get("/registry/v1/register").get_data(as_text=True)
    assert "office@qarjy.kz" not in text and "7012345678" not in text and "Personal finance" not in text


def test_registered_and_blocked_participants_are_not_in_the_register(app, http) -> None:
    registered("Newcomer")
    participant, _ = accredited([API_USER])
    block_participant(participant.id, "unpaid invoices")
    assert _register(http) == []
    unblock_participant(participant.id)
    assert [e["participant_id"] for e in _register(http)] == [participant.id]


def test_the_register_lists_certificates_in_force(app, http) -> None:
    participant, _ = accredited([API_USER])
    kept = sign_csr(participant.id, _csr(), "mtls")
    revoke_certificate(sign_csr(participant.id, _csr(), "signing").serial, "superseded")
    [entry] = _register(http)
    assert entry["certificates"] == [{"serial": kept.serial, "purpose": "mtls", "not_after": kept.not_after}]


def test_participants_added_by_an_operator_are_in_the_register(app, http) -> None:
    bank = add_participant(name="Altyn Bank", bin=new_bin(), roles=[API_PROVIDER])
    [entry] = _register(http, "api_provider")
    assert entry["participant_id"] == bank.id and entry["accreditation_certificate_number"] is None


def test_the_register_refuses_an_unknown_role(app, http) -> None:
    answer = http.get("/registry/v1/register?role=bank")
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_request"


# -- the certificate -------------------------------------------------------------------------------------
def test_the_certificate_is_a_jwt_signed_by_the_platforms_ca(app, http, clock) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from joserfc.jwk import ECKey

    participant, certificate = accredited([API_USER, API_PROVIDER])
    answer = http.get(f"/registry/v1/participants/{participant.id}/accreditation-certificate.jwt")
    assert answer.status_code == 200 and answer.mimetype == "application/jwt"
    ca = x509.load_pem_x509_certificate(http.get("/registry/v1/ca/certificate.pem").data)
    ca_key = ECKey.import_key(
        ca.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    decoded = jwt.decode(answer.get_data(as_text=True), ca_key, algorithms=["ES256"])
    assert decoded.header["kid"] == ca_key.thumbprint()
    with pytest.raises(JoseError):  # not the token signing keys: those are rotated and pruned
        jwt.decode(answer.get_data(as_text=True), KeySet.import_key_set(http.get("/jwks").get_json()))
    assert decoded.header["typ"] == CERTIFICATE_TYP
    claims = decoded.claims
    assert claims["iss"] == ISSUER
    assert (claims["participant_id"], claims["bin"], claims["name"]) == (
        participant.id,
        participant.bin,
        "Qarjy LLP",
    )
    assert claims["roles"] == [API_PROVIDER, API_USER]
    assert claims["jti"] == certificate.number
    assert claims["exp"] - claims["iat"] == CERTIFICATE_VALIDITY and claims["iat"] == int(clock.now())


def test_the_certificate_pdf_shows_its_number(app, http) -> None:
    participant, certificate = accredited([API_USER])
    answer = http.get(f"/registry/v1/participants/{participant.id}/accreditation-certificate.pdf")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.data.startswith(b"%PDF")
    assert certificate.number.encode() in answer.data


def test_the_certificate_pdf_renders_kazakh_names(app, http) -> None:
    participant, _ = accredited([API_USER], name="«Қаржы Өнімдері» ЖШС")
    answer = http.get(f"/registry/v1/participants/{participant.id}/accreditation-certificate.pdf")
    assert answer.status_code == 200 and b"DejaVu" in answer.data  # the embedded Unicode font


def test_no_certificate_is_not_found(app, http) -> None:
    newcomer = registered()
    for suffix in ("jwt", "pdf"):
        assert (
            http.get(
                f"/registry/v1/participants/{newcomer.id}/accreditation-certificate.{suffix}"
            ).status_code
            == 404
        )
        assert (
            http.get(f"/registry/v1/participants/nope/accreditation-certificate.{suffix}").status_code == 404
        )


def test_a_certificate_verifies_until_it_expires(app, clock) -> None:
    _, certificate = accredited([API_USER])
    verified = verify_certificate(certificate.jwt)
    assert verified.current and verified.participant_status == "active"
    assert verified.claims["jti"] == certificate.number
    clock.advance(CERTIFICATE_VALIDITY)
    with pytest.raises(CertificateInvalid, match="expired"):
        verify_certificate(certificate.jwt)


def test_a_later_approval_supersedes_the_certificate(app) -> None:
    from registry import accreditation

    participant, first = accredited([API_USER])
    application = accreditation.apply(participant.id, [API_PROVIDER], [pdf()], APPLICANT)
    accreditation.start_review(application.id, OPERATOR)
    _, second = accreditation.approve(application.id, OPERATOR)
    assert second.roles == [API_PROVIDER, API_USER]
    assert verify_certificate(first.jwt).current is False
    assert verify_certificate(second.jwt).current is True


@pytest.mark.parametrize("token", ["", "not.a.jwt", "x" * 20000])
def test_garbage_is_not_a_certificate(app, token) -> None:
    with pytest.raises(CertificateInvalid):
        verify_certificate(token)


def test_another_platform_token_is_not_a_certificate(app) -> None:
    from idp.signing import sign
    from registry.accreditation_certificate import _sign

    accredited([API_USER])
    with pytest.raises(CertificateInvalid, match="not the platform's"):  # a token key is not the CA
        verify_certificate(sign({"iss": ISSUER, "exp": 2**40, "jti": "x"}, CERTIFICATE_TYP))
    with pytest.raises(CertificateInvalid, match="no such certificate"):
        verify_certificate(_sign({"iss": ISSUER, "exp": 2**40, "jti": "SNM-A-FORGED"}))


def test_the_verify_route_answers_for_anyone(app, http) -> None:
    participant, certificate = accredited([API_USER])
    answer = http.post(
        "/registry/v1/accreditation-certificates/verify", json={"certificate": certificate.jwt}
    )
    assert answer.status_code == 200
    assert answer.get_json()["valid"] is True and answer.get_json()["claims"]["sub"] == participant.id
    refused = http.post("/registry/v1/accreditation-certificates/verify", json={"certificate": "x.y.z"})
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_certificate"
    assert http.post("/registry/v1/accreditation-certificates/verify", data="x").status_code == 400
    db.session.rollback()
