"""Public routes of accreditation: the register, certificates, logos, the CA (thin: services do it all).

| route                                                         | answers |
|---------------------------------------------------------------|---------|
| GET  /registry/v1/register?role=api_provider|api_user          | the public register (JSON) |
| GET  /registry/v1/participants/<id>/logo.png                   | the participant's logo (PNG, re-encoded) |
| GET  /registry/v1/participants/<id>/accreditation-certificate.jwt | its current certificate (application/jwt) |
| GET  /registry/v1/participants/<id>/accreditation-certificate.pdf | the same for people (PDF) |
| POST /registry/v1/accreditation-certificates/verify            | checks a certificate (JSON {"certificate": jwt}) |
| GET  /registry/v1/ca/certificate.pem                           | the platform CA's certificate |
| GET  /registry/v1/ca/crl                                       | the CRL (DER, RFC 5280 §5) |

Errors have the shape of the platform's JSON errors (``idp.errors``):
``{"error": ..., "error_description": ...}``.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, request

from registry.accreditation_certificate import (
    CertificateInvalid,
    certificate_pdf,
    current_certificate,
    verify_certificate,
)
from registry.certificate_authority import ca_certificate_pem, certificate_revocation_list
from registry.logos import logo_png
from registry.participants import get_participant
from registry.register import UnknownRegisterRole, public_register

bp = Blueprint("registry_accreditation", __name__, url_prefix="/registry/v1")

JWT_MEDIA_TYPE = "application/jwt"  # RFC 7519 §10.3.1
CRL_MEDIA_TYPE = "application/pkix-crl"  # RFC 2585 §4.2
PUBLIC_CACHE = "public, max-age=300"


def _error(status: int, error: str, description: str) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    return response


def _not_found(description: str) -> Response:
    return _error(404, "not_found", description)


@bp.get("/register")
def register() -> Response:
    try:
        entries = public_register(request.args.get("role") or None)
    except UnknownRegisterRole as error:
        return _error(400, "invalid_request", str(error))
    response = jsonify({"participants": entries})
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return response


@bp.get("/participants/<participant_id>/logo.png")
def logo(participant_id: str) -> Response:
    found = logo_png(participant_id)
    if found is None:
        return _not_found("this participant has no logo")
    response = Response(found.png, mimetype="image/png")
    response.headers["Cache-Control"] = PUBLIC_CACHE
    response.headers["ETag"] = f'"{found.sha256}"'
    return response


def _certificate_of(participant_id: str):  # noqa: ANN202 - (certificate, participant) or (None, None)
    participant = get_participant(participant_id)
    certificate = current_certificate(participant.id) if participant is not None else None
    return certificate, participant


@bp.get("/participants/<participant_id>/accreditation-certificate.jwt")
def certificate_jwt(participant_id: str) -> Response:
    certificate, _ = _certificate_of(participant_id)
    if certificate is None:
        return _not_found("this participant has no accreditation certificate")
    response = Response(certificate.jwt, mimetype=JWT_MEDIA_TYPE)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/participants/<participant_id>/accreditation-certificate.pdf")
def certificate_pdf_route(participant_id: str) -> Response:
    certificate, participant = _certificate_of(participant_id)
    if certificate is None:
        return _not_found("this participant has no accreditation certificate")
    response = Response(certificate_pdf(certificate, participant), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{certificate.number}.pdf"'
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.post("/accreditation-certificates/verify")
def verify() -> Response:
    body = request.get_json(silent=True)
    token = body.get("certificate") if isinstance(body, dict) else None
    if not isinstance(token, str):
        return _error(400, "invalid_request", 'send JSON {"certificate": "<the certificate JWT>"}')
    try:
        verified = verify_certificate(token)
    except CertificateInvalid as error:
        return _error(400, "invalid_certificate", str(error))
    return jsonify(
        {
            "valid": True,
            "current": verified.current,
            "participant_status": verified.participant_status,
            "claims": verified.claims,
        }
    )


@bp.get("/ca/certificate.pem")
def ca_certificate() -> Response:
    response = Response(ca_certificate_pem(), mimetype="application/x-pem-file")
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return response


@bp.get("/ca/crl")
def crl() -> Response:
    response = Response(certificate_revocation_list(), mimetype=CRL_MEDIA_TYPE)
    # Relying parties fetch it often; it is signed afresh, so a short cache is enough.
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


def init_accreditation_routes(app: Flask) -> None:
    """Register the public routes of the registry's accreditation part."""
    app.register_blueprint(bp)
