"""Accreditation certificates: the platform's signed statement that a participant is accredited.

Issued when an application is approved (``registry.accreditation.approve``):
a JWT signed with the platform's signing key (the keys at ``/jwks``), header
``typ: senim-accreditation+jwt`` (RFC 8725 §3.11: explicit typing, so that it
can never pass for an access or ID token), claims ``iss``, ``sub`` (the
participant's id), ``bin``, ``name``, ``roles``, ``iat``, ``exp`` (one year)
and ``jti`` (the certificate number). A PDF rendering of it is meant for people;
the JWT is what machines verify (``verify_certificate``).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from sqlalchemy import select, update

from registry.certificate_authority import certificate_authority
from registry.models import AccreditationApplication, AccreditationCertificate, Participant
from senim import clock
from senim.database import db

CERTIFICATE_TYP = "senim-accreditation+jwt"
CERTIFICATE_VALIDITY = 365 * 24 * 3600
#: Fonts with Cyrillic, Kazakh letters included (Ә, Ғ, Қ, Ң, Ө, Ұ, Ү, Һ, І); the first found is used.
FONT_CANDIDATES = (
    # shipped with Senim (Bitstream Vera licence, registry/fonts/LICENSE-DejaVu.txt): no system package needed
    Path(__file__).resolve().parent / "fonts" / "DejaVuSans.ttf",
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
)
_ROLE_TITLES = {
    "api_provider": "API provider / API провайдер",
    "api_user": "API user / API пользователь",
}


class CertificateInvalid(ValueError):
    """The token is not a valid accreditation certificate of this platform; ``str(error)`` says why."""


class NoCertificateFont(RuntimeError):
    """No TrueType font with Cyrillic letters is installed for the PDF (install fonts-dejavu-core)."""


def _issuer() -> str:
    return current_app.extensions["senim.settings"].issuer


def verification_url(participant_id: str) -> str:
    """Where anyone fetches the participant's current certificate (JWT) to verify it against the CA."""
    return f"{_issuer()}/registry/v1/participants/{participant_id}/accreditation-certificate.jwt"


def new_certificate_number(now: int) -> str:
    return f"SNM-A-{time.strftime('%Y', time.gmtime(now))}-{secrets.token_hex(5).upper()}"


def _ca_jwk(private: bool) -> ECKey:
    ca = certificate_authority()
    if private:
        pem = ca.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    else:
        pem = ca.certificate.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return ECKey.import_key(pem)


def _sign(claims: dict) -> str:
    # Signed by the platform's certificate authority, whose key lives as long as the CA (not the
    # token signing keys, rotated and pruned within days): a certificate verifies all year,
    # against the CA certificate at /registry/v1/ca/certificate.pem (kid: its key's RFC 7638 thumbprint).
    key = _ca_jwk(private=True)
    header = {"alg": "ES256", "typ": CERTIFICATE_TYP, "kid": key.thumbprint()}
    return jwt.encode(header, claims, key, algorithms=["ES256"])


def issue_certificate(
    participant: Participant, application: AccreditationApplication
) -> AccreditationCertificate:
    """Sign a certificate for the participant's roles now; added to the session, committed by the caller."""
    now = clock.now_int()
    # The new certificate supersedes the participant's current one (same transaction).
    db.session.execute(
        update(AccreditationCertificate)
        .where(
            AccreditationCertificate.participant_id == participant.id,
            AccreditationCertificate.superseded_at.is_(None),
        )
        .values(superseded_at=now)
        .execution_options(synchronize_session=False)
    )
    number = new_certificate_number(now)
    roles = [r for r in ("api_provider", "api_user") if r in (participant.roles or [])]
    claims = {
        "iss": _issuer(),
        "sub": participant.id,
        "participant_id": participant.id,
        "bin": participant.bin,
        "name": participant.name,
        "roles": roles,
        "iat": now,
        "exp": now + CERTIFICATE_VALIDITY,
        "jti": number,
    }
    certificate = AccreditationCertificate(
        number=number,
        participant_id=participant.id,
        application_id=application.id,
        roles=roles,
        issued_at=now,
        expires_at=now + CERTIFICATE_VALIDITY,
        jwt=_sign(claims),
    )
    db.session.add(certificate)
    return certificate


def current_certificate(participant_id: str) -> AccreditationCertificate | None:
    """The participant's current certificate (a later approval supersedes the earlier ones), or None."""
    query = select(AccreditationCertificate).where(
        AccreditationCertificate.participant_id == participant_id,
        AccreditationCertificate.superseded_at.is_(None),
    )
    return db.session.scalar(query)


# -- verifying ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VerifiedCertificate:
    claims: dict
    current: bool  # not superseded by a later certificate
    participant_status: str  # active | blocked | registered, now


def verify_certificate(token: str) -> VerifiedCertificate:
    """Check an accreditation certificate: signed by the platform, typed, unexpired, on record.

    Refusal: ``CertificateInvalid`` saying why.
    """
    if not isinstance(token, str) or not 0 < len(token) <= 16384:
        raise CertificateInvalid("not a certificate: expected a compact JWT")
    try:
        decoded = jwt.decode(token, _ca_jwk(private=False), algorithms=["ES256"])
    except (JoseError, ValueError, TypeError):
        raise CertificateInvalid("the signature is not the platform's") from None
    if decoded.header.get("typ") != CERTIFICATE_TYP:
        raise CertificateInvalid(f"not an accreditation certificate (typ must be {CERTIFICATE_TYP})")
    claims = decoded.claims
    if claims.get("iss") != _issuer():
        raise CertificateInvalid("issued by another platform")
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= clock.now_int():
        raise CertificateInvalid("the certificate has expired")
    record = db.session.get(AccreditationCertificate, str(claims.get("jti")))
    if record is None or record.participant_id != claims.get("participant_id"):
        raise CertificateInvalid("no such certificate was issued")
    db.session.refresh(record)  # superseded since it was loaded?
    participant = db.session.get(Participant, record.participant_id, populate_existing=True)
    return VerifiedCertificate(
        claims=claims,
        current=record.superseded_at is None,
        participant_status=participant.status,
    )


# -- the PDF -----------------------------------------------------------------------------------------
def certificate_font() -> Path:
    for path in FONT_CANDIDATES:
        if path.is_file():
            return path
    raise NoCertificateFont(
        "no DejaVuSans.ttf found for the certificate PDF (install fonts-dejavu-core); looked in "
        + ", ".join(str(p) for p in FONT_CANDIDATES)
    )


def _date(epoch: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def certificate_pdf(certificate: AccreditationCertificate, participant: Participant) -> bytes:
    """The certificate for people: who, which roles, its number and dates, and where to verify it."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(f"Accreditation certificate {certificate.number}")
    pdf.set_creator("Senim")
    pdf.add_font("DejaVu", "", str(certificate_font()))
    pdf.add_page()
    pdf.set_auto_page_break(auto=True, margin=15)
    line = {"new_x": "LMARGIN", "new_y": "NEXT"}  # each block starts on a new line at the margin
    pdf.set_font("DejaVu", size=18)
    pdf.multi_cell(0, 10, "Аккредиттеу куәлігі / Свидетельство об аккредитации", align="C", **line)
    pdf.multi_cell(0, 10, "Accreditation certificate", align="C", **line)
    pdf.ln(6)
    pdf.set_font("DejaVu", size=12)
    rows = [
        ("Certificate No. / Номер", certificate.number),
        ("Participant / Участник", participant.name),
        ("BIN / БИН / БСН", participant.bin),
        ("Roles / Роли", "; ".join(_ROLE_TITLES.get(r, r) for r in certificate.roles)),
        ("Issued / Выдано", _date(certificate.issued_at)),
        ("Valid until / Действует до", _date(certificate.expires_at)),
    ]
    for label, value in rows:
        pdf.multi_cell(0, 8, f"{label}: {value}", **line)
    pdf.ln(6)
    pdf.set_font("DejaVu", size=10)
    pdf.multi_cell(
        0,
        6,
        "Verify the signed certificate (JWT, typ senim-accreditation+jwt) at / Проверка:\n"
        f"{verification_url(participant.id)}\n"
        f"with the platform's keys / ключи платформы: {_issuer()}/jwks",
        **line,
    )
    return bytes(pdf.output())
