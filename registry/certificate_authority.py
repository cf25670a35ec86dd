"""The platform's certificate authority: X.509 certificates for participants' mTLS and signing keys.

The CA's key (EC P-256) and its self-signed certificate are made on first use
under the key directory (``ca/``; the key file mode 0600), like the
platform's signing keys (``senim.keys``). A participant sends a certificate
signing request (PKCS #10, RFC 2986); the platform decides everything but the
public key: the subject (C=KZ, O=its registered name, serialNumber and
organizationIdentifier from its BIN, the CN from the request only if sane),
the validity (one year) and the extensions for the purpose:

| purpose | key usage (RFC 5280 §4.2.1.3) | extended key usage (§4.2.1.12) |
|---------|-------------------------------|--------------------------------|
| mtls    | digitalSignature              | clientAuth (RFC 8705 clients)  |
| signing | digitalSignature              | —                              |

Checks of ``sign_csr``, in order (each a named refusal):

| # | check                          | refusal                        |
|---|--------------------------------|--------------------------------|
| 1 | check_purpose                  | UnknownPurpose                 |
| 2 | check_participant_may_hold     | UnknownParticipant, ParticipantBlocked, ParticipantNotAccredited |
| 3 | load_csr                       | InvalidCsr                     |
| 4 | check_csr_signature            | CsrSignatureInvalid            |
| 5 | check_key_supported            | UnsupportedKey                 |

Revocation takes a reason from RFC 5280 §5.3.1 (CRLReason); the CRL
(RFC 5280 §5) lists every revoked certificate still within its validity and
is signed by the CA at each request, valid for ``CRL_VALIDITY``.
"""

from __future__ import annotations

import datetime
import os
import re
import secrets
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from flask import current_app
from sqlalchemy import select

from registry.models import BLOCKED, IssuedCertificate, Participant
from registry.participants import (
    ParticipantBlocked,
    ParticipantNotAccredited,
    require_participant,
)
from senim import clock
from senim.audit import audit
from senim.database import db

CA_DIRECTORY = "ca"
CA_KEY_FILE = "ca-key.pem"
CA_CERTIFICATE_FILE = "ca-certificate.pem"
CA_VALIDITY = 10 * 365 * 24 * 3600
CERTIFICATE_VALIDITY = 365 * 24 * 3600
CRL_VALIDITY = 24 * 3600  # nextUpdate (RFC 5280 §5.1.2.5): fetch a fresh CRL at least daily
MTLS = "mtls"
SIGNING = "signing"
PURPOSES = (MTLS, SIGNING)
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192
EC_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
MAX_CSR_PEM = 16 * 1024
MAX_CN = 64  # RFC 5280 Appendix A: ub-common-name
MAX_O = 64  # ub-organization-name
_SANE_CN = re.compile(r"[\w .,:()'&+\-/@]{1,64}")

#: RFC 5280 §5.3.1 CRLReason, by the RFC's names. removeFromCRL (delta CRLs only) and
#: certificateHold (a revocation here is final) are not offered.
REVOCATION_REASONS = {
    flag.value: flag
    for flag in x509.ReasonFlags
    if flag not in (x509.ReasonFlags.remove_from_crl, x509.ReasonFlags.certificate_hold)
}


class CertificateAuthorityError(ValueError):
    """The CA cannot do what was asked; ``str(error)`` says why."""


class UnknownPurpose(CertificateAuthorityError):
    """The certificate's purpose is neither ``mtls`` nor ``signing``."""


class InvalidCsr(CertificateAuthorityError):
    """Not a PEM-encoded PKCS #10 certificate signing request."""


class CsrSignatureInvalid(CertificateAuthorityError):
    """The request is not signed by the key it carries (no proof of possession)."""


class UnsupportedKey(CertificateAuthorityError):
    """The request's key is of a kind or size the platform does not certify."""


class CertificateNotFound(CertificateAuthorityError):
    """No certificate with this serial number was issued."""


class InvalidRevocationReason(CertificateAuthorityError):
    """Not a CRLReason of RFC 5280 §5.3.1 that the platform accepts."""


class AlreadyRevoked(CertificateAuthorityError):
    """The certificate is already revoked."""


# -- the CA's key and certificate ----------------------------------------------------------------------
@dataclass(frozen=True)
class CertificateAuthority:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


_cache: dict[Path, CertificateAuthority] = {}
_lock = threading.Lock()


def _utc(epoch: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC)


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _create_ca(directory: Path, now: int) -> None:
    """Make the CA's key and certificate in a private temporary directory, then rename it into
    place: of two processes starting together one CA wins, and none reads half a file."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Senim"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Senim Open Banking Platform CA"),
        ]
    )
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_utc(now - 300))
        .not_valid_after(_utc(now + CA_VALIDITY))
        # RFC 5280 §4.2.1.9, §4.2.1.3: a CA that signs end-entity certificates and CRLs only.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.with_name(f".{directory.name}.{secrets.token_hex(4)}.tmp")
    tmp.mkdir(mode=0o700)
    try:
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write(tmp / CA_KEY_FILE, key_pem, 0o600)
        _write(tmp / CA_CERTIFICATE_FILE, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
        os.rename(tmp, directory)
    except OSError:
        if not directory.exists():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the loser's copy


def certificate_authority() -> CertificateAuthority:
    """The platform's CA, made on first use under the key directory."""
    directory = Path(current_app.extensions["senim.settings"].key_dir) / CA_DIRECTORY
    with _lock:
        cached = _cache.get(directory)
        if cached is not None:
            return cached
        if not (directory / CA_KEY_FILE).exists():
            _create_ca(directory, clock.now_int())
        key = serialization.load_pem_private_key((directory / CA_KEY_FILE).read_bytes(), password=None)
        certificate = x509.load_pem_x509_certificate((directory / CA_CERTIFICATE_FILE).read_bytes())
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CertificateAuthorityError(f"the CA key in {directory} is not an EC key")
        _cache[directory] = CertificateAuthority(key, certificate)
        return _cache[directory]


def ca_certificate_pem() -> bytes:
    return certificate_authority().certificate.public_bytes(serialization.Encoding.PEM)


# -- the checks of sign_csr --------------------------------------------------------------------------
def check_purpose(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise UnknownPurpose(f"a certificate's purpose is {' or '.join(PURPOSES)}, not {purpose!r}")
    return purpose


def check_participant_may_hold(participant_id: str) -> Participant:
    """Only an accredited participant (it has roles) that is not blocked gets certificates."""
    participant = require_participant(participant_id)
    if participant.status == BLOCKED:
        raise ParticipantBlocked(f"participant {participant.id} is blocked: no certificate", participant.id)
    if not participant.roles:
        raise ParticipantNotAccredited(
            f"participant {participant.id} is not accredited: certificates are for API providers and API users",
            participant.id,
        )
    return participant


def load_csr(csr_pem: bytes | str) -> x509.CertificateSigningRequest:
    data = csr_pem.encode("ascii", "replace") if isinstance(csr_pem, str) else csr_pem
    if not isinstance(data, (bytes, bytearray)) or not data.strip():
        raise InvalidCsr("no certificate signing request given (PEM, BEGIN CERTIFICATE REQUEST)")
    if len(data) > MAX_CSR_PEM:
        raise InvalidCsr(f"a certificate signing request has at most {MAX_CSR_PEM // 1024} KiB")
    try:
        return x509.load_pem_x509_csr(bytes(data))
    except (ValueError, TypeError):
        raise InvalidCsr(
            "not a PEM certificate signing request (PKCS #10, BEGIN CERTIFICATE REQUEST)"
        ) from None


def check_csr_signature(csr: x509.CertificateSigningRequest) -> None:
    # RFC 2986 §3: the request is signed by its own key: proof that the sender holds it.
    try:
        valid = csr.is_signature_valid
    except (ValueError, TypeError, InvalidSignature, x509.UnsupportedGeneralNameType):
        valid = False
    if not valid:
        raise CsrSignatureInvalid("the request's signature does not verify with the key it carries")


def check_key_supported(csr: x509.CertificateSigningRequest) -> None:
    try:
        key = csr.public_key()
    except (ValueError, TypeError, x509.UnsupportedGeneralNameType):
        raise UnsupportedKey("the request's public key cannot be read") from None
    if isinstance(key, rsa.RSAPublicKey):
        if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
            raise UnsupportedKey(
                f"RSA keys have {MIN_RSA_BITS} to {MAX_RSA_BITS} bits, this one {key.key_size}"
            )
        return
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, EC_CURVES):
            raise UnsupportedKey(f"EC keys are on P-256, P-384 or P-521, not {key.curve.name}")
        return
    if isinstance(key, ed25519.Ed25519PublicKey):
        return
    raise UnsupportedKey("supported keys: RSA (2048 bits or more), EC P-256/P-384/P-521, Ed25519")


def requested_common_name(csr: x509.CertificateSigningRequest) -> str | None:
    """The CN the participant asked for, if it is one short printable value; otherwise None."""
    values = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(values) != 1 or not isinstance(values[0].value, str):
        return None
    cn = values[0].value.strip()
    return cn if _SANE_CN.fullmatch(cn) else None


def platform_subject(participant: Participant, csr: x509.CertificateSigningRequest) -> x509.Name:
    """The subject the platform vouches for: the registered legal entity, never what the CSR claims."""
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, participant.name[:MAX_O]),
        # X.520 serialNumber, and organizationIdentifier as ETSI EN 319 412-1 §5.1.4
        # writes it: "NTR" (national trade register) + country + "-" + the BIN.
        x509.NameAttribute(NameOID.SERIAL_NUMBER, participant.bin),
        x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRKZ-{participant.bin}"),
        x509.NameAttribute(NameOID.COMMON_NAME, requested_common_name(csr) or participant.name[:MAX_CN]),
    ]
    return x509.Name(attributes)


def _key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def new_serial_number() -> int:
    """127 random bits: positive and at most 20 octets (RFC 5280 §4.1.2.2), unguessable (the
    CA/Browser Forum asks 64 bits of randomness at least); 32 hex digits at most."""
    return secrets.randbits(127) or 1


def crl_url() -> str:
    return f"{current_app.extensions['senim.settings'].issuer}/registry/v1/ca/crl"


# -- issuing, listing, revoking --------------------------------------------------------------------
def sign_csr(participant_id: str, csr_pem: bytes | str, purpose: str = MTLS) -> IssuedCertificate:
    """Issue a one-year certificate for the CSR's key to an accredited, unblocked participant."""
    purpose = check_purpose(purpose)
    participant = check_participant_may_hold(participant_id)
    csr = load_csr(csr_pem)
    check_csr_signature(csr)
    check_key_supported(csr)
    ca = certificate_authority()
    now = clock.now_int()
    subject = platform_subject(participant, csr)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(csr.public_key())
        .serial_number(new_serial_number())
        .not_valid_before(_utc(now))
        .not_valid_after(_utc(now + CERTIFICATE_VALIDITY))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url())], None, None, None)]
            ),
            critical=False,
        )
    )
    if purpose == MTLS:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    certificate = builder.sign(ca.key, hashes.SHA256())
    record = IssuedCertificate(
        serial=format(certificate.serial_number, "x"),
        participant_id=participant.id,
        purpose=purpose,
        subject=subject.rfc4514_string(),
        not_before=now,
        not_after=now + CERTIFICATE_VALIDITY,
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    )
    db.session.add(record)
    db.session.commit()
    audit("ca.certificate_issued", participant_id=participant.id, serial=record.serial, purpose=purpose)
    return record


def list_certificates(participant_id: str | None = None) -> list[IssuedCertificate]:
    """Issued certificates (of one participant, or all), newest first."""
    query = select(IssuedCertificate).order_by(IssuedCertificate.not_before.desc(), IssuedCertificate.serial)
    if participant_id is not None:
        query = query.where(IssuedCertificate.participant_id == participant_id)
    return list(db.session.scalars(query))


def get_certificate(serial: str) -> IssuedCertificate:
    key = serial.strip().lower().removeprefix("0x") if isinstance(serial, str) else ""
    record = db.session.get(IssuedCertificate, key) if re.fullmatch(r"[0-9a-f]{1,40}", key) else None
    if record is None:
        raise CertificateNotFound(f"no certificate with serial {serial}")
    return record


def revoke_certificate(serial: str, reason: str, actor_id: str = "operator") -> IssuedCertificate:
    """Revoke a certificate for a CRLReason (RFC 5280 §5.3.1, e.g. keyCompromise); it is in the
    next CRL. A revoked certificate stays revoked."""
    if reason not in REVOCATION_REASONS:
        raise InvalidRevocationReason(
            f"the reason is a CRLReason of RFC 5280 §5.3.1: {', '.join(sorted(REVOCATION_REASONS))}"
        )
    record = get_certificate(serial)
    if record.revoked_at is not None:
        raise AlreadyRevoked(f"certificate {record.serial} was revoked already ({record.revocation_reason})")
    record.revoked_at = clock.now_int()
    record.revocation_reason = reason
    db.session.commit()
    audit(
        "ca.certificate_revoked",
        participant_id=record.participant_id,
        serial=record.serial,
        reason=reason,
        actor_id=actor_id,
    )
    return record


def certificate_revocation_list() -> bytes:
    """The CRL now (DER), signed by the CA: every revoked certificate not yet expired."""
    ca = certificate_authority()
    now = clock.now_int()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(_utc(now))
        .next_update(_utc(now + CRL_VALIDITY))
        # RFC 5280 §5.2.1 and §5.2.3: conforming CRLs carry the authority key identifier and a
        # CRL number that increases; the time of issue, in seconds, does.
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .add_extension(x509.CRLNumber(now), critical=False)
    )
    query = select(IssuedCertificate).where(
        IssuedCertificate.revoked_at.is_not(None), IssuedCertificate.not_after > now
    )
    for record in db.session.scalars(query.order_by(IssuedCertificate.revoked_at, IssuedCertificate.serial)):
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(int(record.serial, 16))
            .revocation_date(_utc(record.revoked_at))
        )
        reason = REVOCATION_REASONS[record.revocation_reason]
        if reason is not x509.ReasonFlags.unspecified:
            # RFC 5280 §5.3.1: the unspecified code SHOULD NOT be used; the entry then has no reason.
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


class PresentedCertificateInvalid(CertificateAuthorityError):
    """A certificate presented for mutual TLS is not one the platform's CA issued and still stands by."""


def check_presented_certificate(pem: bytes) -> IssuedCertificate:
    """The issued mTLS certificate ``pem`` is, if the platform's CA signed it, it is on record as
    issued (the same bytes), not revoked, and within its validity now (RFC 5280 §6, by hand:
    the chain is one certificate long). Otherwise ``PresentedCertificateInvalid`` saying why."""
    try:
        presented = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise PresentedCertificateInvalid("not a PEM certificate") from None
    try:
        presented.verify_directly_issued_by(certificate_authority().certificate)
    except (ValueError, TypeError, InvalidSignature):
        raise PresentedCertificateInvalid("not issued by the platform's CA") from None
    record = db.session.get(IssuedCertificate, format(presented.serial_number, "x"))
    issued_der = (
        x509.load_pem_x509_certificate(record.certificate_pem.encode()).public_bytes(
            serialization.Encoding.DER
        )
        if record is not None
        else None
    )
    if issued_der != presented.public_bytes(serialization.Encoding.DER):
        raise PresentedCertificateInvalid("not a certificate on record")
    if record.purpose != MTLS:
        raise PresentedCertificateInvalid("not a certificate for mutual TLS")
    if record.revoked_at is not None:
        raise PresentedCertificateInvalid("revoked")
    now = clock.now_int()
    if not record.not_before <= now < record.not_after:
        raise PresentedCertificateInvalid("outside its validity")
    return record
