"""The consent API of API users: ``POST /consents``, ``GET /consents/{id}``, ``DELETE /consents/{id}``.

Checks of every call, in order:

| # | check                                   | refusal                                  |
|---|-----------------------------------------|------------------------------------------|
| 1 | DPoP-bound access token, valid now      | 401 KZ.SENIM.Unauthorised (+ WWW-Authenticate: DPoP) |
| 2 | DPoP proof bound to the token (ath, jkt)| 401                                      |
| 3 | scope ``consents`` (client credentials) | 403 KZ.SENIM.Forbidden                   |
| 4 | the client and its API user are active  | 401 / 403 KZ.SENIM.Participant.Blocked   |
| 5 | the consent is the API user's own       | 404 KZ.SENIM.Resource.NotFound           |
| 6 | the request body (create)               | 400, one entry per problem               |

Answers and errors are JSON in the platform's shapes; ``x-fapi-interaction-id``
is echoed (or made) on every answer.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy import select

from idp import errors
from idp.consents import errors as E
from idp.consents.service import consent_data, consent_of_client, create_consent, end_by_api_user
from idp.models import Client
from idp.routes import _resource_error, authenticate_resource_request
from senim.audit import audit
from senim.database import db

bp = Blueprint("consents", __name__)

CONSENTS_SCOPE = "consents"
INTERACTION_HEADER = "x-fapi-interaction-id"


@bp.before_request
def _interaction_id() -> None:
    incoming = request.headers.get(INTERACTION_HEADER, "")
    try:
        g.fapi_interaction_id = str(uuid.UUID(incoming))
    except ValueError:
        g.fapi_interaction_id = str(uuid.uuid4())


@bp.after_request
def _echo_interaction_id(response: Response) -> Response:
    response.headers[INTERACTION_HEADER] = g.get("fapi_interaction_id", "")
    return response


@bp.errorhandler(E.ApiError)
def _api_error(error: E.ApiError) -> Response:
    db.session.rollback()
    audit(
        "consent_api.refused",
        outcome="refused",
        status=error.status,
        codes=sorted({e.code for e in error.errors}),
        path=request.path,
    )
    return E.error_response(error)


def _caller() -> Client:
    """Checks 1–4: who is calling, with a DPoP-bound client-credentials token."""
    try:
        verified = authenticate_resource_request(CONSENTS_SCOPE)
    except errors.Refusal as refusal:
        challenge = _resource_error(refusal)  # RFC 6750 §3 / RFC 9449 §7.1 headers
        code = E.FORBIDDEN if challenge.status_code == 403 else E.UNAUTHORISED
        shaped = E.error_response(
            E.ApiError(challenge.status_code, refusal.description, [E.FieldError(code, refusal.description)])
        )
        for name in ("WWW-Authenticate", "DPoP-Nonce"):
            if name in challenge.headers:
                shaped.headers[name] = challenge.headers[name]
        raise _Answered(shaped) from None
    client = db.session.scalar(select(Client).where(Client.client_id == verified.claims.get("client_id")))
    if client is None or client.disabled_at is not None:
        raise E.ApiError(
            401, "The client is not active.", [E.FieldError(E.UNAUTHORISED, "Unknown or disabled client.")]
        )
    return client


class _Answered(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


@bp.errorhandler(_Answered)
def _answered(answered: _Answered) -> Response:
    return answered.response


def _answer(consent: object, status: int) -> Response:
    settings = current_app.extensions["senim.settings"]
    response = jsonify(
        {
            "Data": consent_data(consent),
            "Links": {"Self": f"{settings.issuer}/consents/{consent.id}"},
            "Meta": {},
        }
    )
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/consents")
def create() -> Response:
    client = _caller()
    if not request.is_json:
        raise E.ApiError(
            415,
            "Send the consent request as application/json.",
            [E.FieldError(E.BODY_INVALID, "Content-Type must be application/json.")],
        )
    body = request.get_json(silent=True)
    if body is None:
        raise E.ApiError(
            400, "The body is not valid JSON.", [E.FieldError(E.BODY_INVALID, "Not valid JSON.")]
        )
    consent, _created = create_consent(
        client.client_id, client.participant_id, body, request.headers.get("x-idempotency-key")
    )
    return _answer(consent, 201)


@bp.get("/consents/<consent_id>")
def read(consent_id: str) -> Response:
    client = _caller()
    return _answer(consent_of_client(consent_id, client.client_id), 200)


@bp.delete("/consents/<consent_id>")
def end(consent_id: str) -> Response:
    client = _caller()
    end_by_api_user(consent_of_client(consent_id, client.client_id), client.client_id)
    return Response(status=204, headers={"Cache-Control": "no-store"})
