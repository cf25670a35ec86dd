"""The platform's CA: certificates for accredited participants' keys, revocation, the CRL."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from registry.certificate_authority import (
    CA_DIRECTORY,
    CA_KEY_FILE,
    AlreadyRevoked,
    CertificateNotFound,
    CsrSignatureInvalid,
    InvalidCsr,
    InvalidRevocationReason,
    UnknownPurpose,
    UnsupportedKey,
    ca_certificate_pem,
    list_certificates,
    revoke_certificate,
    sign_csr,
)
from registry.models import IssuedCertificate
from registry.participants import (
    API_PROVIDER,
    API_USER,
    ParticipantBlocked,
    ParticipantNotAccredited,
    UnknownParticipant,
    add_participant,
    block_participant,
)
from senim.database import db
from tests.support.accreditation import accredited, new_bin, registered
from tests.support.audit_log import AuditLines


def _csr(key=None, cn: str = "qarjy-mtls", extra: list | None = None) -> bytes:
    key = key or ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.COMMON_NAME, cn), *(extra or [])]
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names))
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return csr.sign(key, algorithm).public_bytes(serialization.Encoding.PEM)


def _ca() -> x509.Certificate:
    return x509.load_pem_x509_certificate(ca_certificate_pem())


def _issued_count() -> int:
    return db.session.query(IssuedCertificate).count()


@pytest.fixture
def fintech(app):
    participant, _ = accredited([API_USER], name="Qarjy LLP")
    return participant


# -- issuing ---------------------------------------------------------------------------------------
def test_an_mtls_certificate_is_signed_by_the_ca_with_the_platforms_subject(app, fintech, clock) -> None:
    forged = [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Halyk Bank"),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, "940140000385"),
    ]
    with AuditLines() as lines:
        issued = sign_csr(fintech.id, _csr(extra=forged), "mtls")
    certificate = x509.load_pem_x509_certificate(issued.certificate_pem.encode())
    ca = _ca()
    certificate.verify_directly_issued_by(ca)  # the CA's signature, issuer name, and algorithm
    assert certificate.issuer == ca.subject
    subject = certificate.subject
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Qarjy LLP"
    assert subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == fintech.bin
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value == f"NTRKZ-{fintech.bin}"
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "qarjy-mtls"
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "KZ"
    eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert certificate.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime.days == 365
    assert int(certificate.not_valid_before_utc.timestamp()) == int(clock.now())
    assert format(certificate.serial_number, "x") == issued.serial
    [event] = lines.events("ca.certificate_issued")
    assert event["serial"] == issued.serial and "BEGIN" not in lines.text()


def test_a_signing_certificate_has_digital_signature_and_no_client_auth(app, fintech) -> None:
    issued = sign_csr(fintech.id, _csr(rsa.generate_private_key(65537, 2048)), "signing")
    certificate = x509.load_pem_x509_certificate(issued.certificate_pem.encode())
    assert certificate.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    with pytest.raises(x509.ExtensionNotFound):
        certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    _ca().public_key().verify(
        certificate.signature,
        certificate.tbs_certificate_bytes,
        ec.ECDSA(certificate.signature_hash_algorithm),
    )


def test_an_ed25519_key_is_certified(app, fintech) -> None:
    assert sign_csr(fintech.id, _csr(ed25519.Ed25519PrivateKey.generate())).purpose == "mtls"


@pytest.mark.parametrize("cn", ["evil\nname", "<script>", "x; rm -rf /"])
def test_an_insane_common_name_is_replaced_by_the_participants_name(app, fintech, cn) -> None:
    issued = sign_csr(fintech.id, _csr(cn=cn))
    certificate = x509.load_pem_x509_certificate(issued.certificate_pem.encode())
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Qarjy LLP"


def test_the_ca_key_is_private_to_its_owner(app, fintech) -> None:
    sign_csr(fintech.id, _csr())
    key_file = Path(app.extensions["senim.settings"].key_dir) / CA_DIRECTORY / CA_KEY_FILE
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    ca = _ca()
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.crl_sign


# -- refusals ---------------------------------------------------------------------------------------
def test_a_participant_not_accredited_gets_no_certificate(app) -> None:
    with pytest.raises(ParticipantNotAccredited, match="not accredited"):
        sign_csr(registered().id, _csr())
    assert _issued_count() == 0


def test_a_blocked_participant_gets_no_certificate(app, fintech) -> None:
    block_participant(fintech.id, "fraud suspected")
    with pytest.raises(ParticipantBlocked):
        sign_csr(fintech.id, _csr())
    assert _issued_count() == 0


def test_an_unknown_participant_gets_no_certificate(app) -> None:
    with pytest.raises(UnknownParticipant):
        sign_csr("00000000-0000-4000-8000-000000000000", _csr())


@pytest.mark.parametrize(
    "pem",
    [
        b"",
        b"garbage",
        b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        "x" * 20000,
    ],
)
def test_garbage_instead_of_a_csr_is_refused(app, fintech, pem) -> None:
    with pytest.raises(InvalidCsr):
        sign_csr(fintech.id, pem)
    assert _issued_count() == 0


def test_a_csr_whose_signature_does_not_verify_is_refused(app, fintech) -> None:
    # The request of one key, with the subject public key of another swapped in.
    csr = x509.load_pem_x509_csr(_csr())
    other = x509.load_pem_x509_csr(_csr())
    der = csr.public_bytes(serialization.Encoding.DER)
    mine = csr.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    theirs = other.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    tampered = x509.load_der_x509_csr(der.replace(mine, theirs)).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(CsrSignatureInvalid):
        sign_csr(fintech.id, tampered)
    assert _issued_count() == 0


def test_a_short_rsa_key_is_refused(app, fintech) -> None:
    with pytest.raises(UnsupportedKey, match="1024"):
        sign_csr(fintech.id, _csr(rsa.generate_private_key(65537, 1024)))


def test_an_unsupported_key_is_refused(app, fintech) -> None:
    with pytest.raises(UnsupportedKey):
        sign_csr(fintech.id, _csr(ec.generate_private_key(ec.SECP256K1())))
    with pytest.raises(UnsupportedKey):
        sign_csr(fintech.id, _csr(dsa.generate_private_key(2048)))
    assert _issued_count() == 0


def test_an_unknown_purpose_is_refused(app, fintech) -> None:
    with pytest.raises(UnknownPurpose):
        sign_csr(fintech.id, _csr(), "tls_server")


# -- listing, revoking, the CRL -----------------------------------------------------------------------
def test_certificates_are_listed_by_participant(app, fintech) -> None:
    bank = add_participant(name="Altyn Bank", bin=new_bin(), roles=[API_PROVIDER])
    mine = sign_csr(fintech.id, _csr())
    theirs = sign_csr(bank.id, _csr(), "signing")
    assert [c.serial for c in list_certificates(fintech.id)] == [mine.serial]
    assert {c.serial for c in list_certificates()} == {mine.serial, theirs.serial}


def test_a_revoked_certificate_is_in_the_signed_crl(app, http, fintech, clock) -> None:
    kept = sign_csr(fintech.id, _csr())
    revoked = sign_csr(fintech.id, _csr())
    clock.advance(120)
    revoke_certificate(revoked.serial, "keyCompromise")
    answer = http.get("/registry/v1/ca/crl")
    assert answer.status_code == 200 and answer.mimetype == "application/pkix-crl"
    crl = x509.load_der_x509_crl(answer.data)
    assert crl.is_signature_valid(_ca().public_key())
    assert crl.issuer == _ca().subject
    assert crl.next_update_utc is not None and crl.next_update_utc > crl.last_update_utc
    entry = crl.get_revoked_certificate_by_serial_number(int(revoked.serial, 16))
    assert entry is not None
    assert int(entry.revocation_date_utc.timestamp()) == int(clock.now())
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )
    assert crl.get_revoked_certificate_by_serial_number(int(kept.serial, 16)) is None


def test_an_unspecified_revocation_has_no_reason_code(app, fintech) -> None:
    # RFC 5280 §5.3.1: the unspecified reason code SHOULD be absent.
    issued = sign_csr(fintech.id, _csr())
    revoke_certificate(issued.serial, "unspecified")
    from registry.certificate_authority import certificate_revocation_list

    entry = x509.load_der_x509_crl(certificate_revocation_list()).get_revoked_certificate_by_serial_number(
        int(issued.serial, 16)
    )
    with pytest.raises(x509.ExtensionNotFound):
        entry.extensions.get_extension_for_class(x509.CRLReason)


def test_revocation_refusals(app, fintech) -> None:
    issued = sign_csr(fintech.id, _csr())
    with pytest.raises(InvalidRevocationReason):
        revoke_certificate(issued.serial, "lostIt")
    with pytest.raises(InvalidRevocationReason):
        revoke_certificate(issued.serial, "certificateHold")  # a revocation here is final
    with pytest.raises(CertificateNotFound):
        revoke_certificate("abc123", "superseded")
    revoke_certificate(issued.serial, "superseded")
    with pytest.raises(AlreadyRevoked):
        revoke_certificate(issued.serial, "keyCompromise")
    assert db.session.get(IssuedCertificate, issued.serial).revocation_reason == "superseded"


def test_the_ca_certificate_is_published(app, http) -> None:
    answer = http.get("/registry/v1/ca/certificate.pem")
    assert answer.status_code == 200
    assert x509.load_pem_x509_certificate(answer.data) == _ca()


def test_rsa_signed_requests_verify_with_pss_too(app, fintech) -> None:
    # A participant's RSA CSR signed with PKCS#1 v1.5 (what openssl req makes) is accepted.
    key = rsa.generate_private_key(65537, 3072)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "qarjy")]))
        .sign(key, hashes.SHA256(), rsa_padding=padding.PKCS1v15())
    )
    assert sign_csr(fintech.id, csr.public_bytes(serialization.Encoding.PEM)).serial
