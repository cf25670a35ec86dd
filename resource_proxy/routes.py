"""HTTP routes of the resource proxy: thin. The checks are in ``pipeline.py``,
the bank's call in ``forwarding.py``, the metering in ``metering.py``."""

from __future__ import annotations

import time
import uuid
from http import HTTPStatus

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from limits import parse_many
from werkzeug.exceptions import HTTPException

from idp.consents.binding import record_use
from resource_proxy import errors as E
from resource_proxy.checks import ProxyCall
from resource_proxy.forwarding import PROXY_PREFIX, forward
from resource_proxy.metering import meter
from resource_proxy.openapi import proxy_openapi_document
from resource_proxy.pipeline import run_checks
from resource_proxy.standard import ENDPOINTS, INTERACTION_HEADER
from resource_proxy.standard import errors as standard_errors
from senim.audit import audit
from senim.database import db
from senim.settings import Settings

bp = Blueprint("resource_proxy", __name__)


@bp.before_request
def _interaction_id() -> None:
    # FAPI: echo the caller's x-fapi-interaction-id (an RFC 4122 UUID), or make one.
    incoming = request.headers.get(INTERACTION_HEADER, "")
    try:
        g.fapi_interaction_id = str(uuid.UUID(incoming))
    except ValueError:
        g.fapi_interaction_id = str(uuid.uuid4())


#: The standard's error code for HTTP errors that no check raised (an unknown path or method).
_HTTP_ERROR_CODES = {404: standard_errors.RESOURCE_NOT_FOUND, 405: standard_errors.METHOD_NOT_ALLOWED}


def standard_http_error(error: HTTPException) -> Response | HTTPException:
    """Under ``/open-banking/v1`` every answer is in the standard's error shape, with the
    interaction id: an unknown path (``/accounts/``, ``/accounts/a%2Fb``), another method,
    an unexpected failure too. Elsewhere the error is answered as it was."""
    if request.path != PROXY_PREFIX and not request.path.startswith(PROXY_PREFIX + "/"):
        return error
    if "fapi_interaction_id" not in g:
        _interaction_id()
    status = error.code or 500
    code = _HTTP_ERROR_CODES.get(
        status, standard_errors.UNEXPECTED_ERROR if status >= 500 else standard_errors.FIELD_INVALID
    )
    message = {404: "No such resource in the standard_errors.", 405: "The standard has only GET here."}.get(
        status, HTTPStatus(status).phrase
    )
    response = jsonify(standard_errors.error_body(status, g.fapi_interaction_id, message, code))
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers[INTERACTION_HEADER] = g.fapi_interaction_id
    if status == 405:
        response.headers["Allow"] = "GET, HEAD, OPTIONS"
    return response


@bp.after_request
def _echo_interaction_id(response: Response) -> Response:
    response.headers[INTERACTION_HEADER] = g.get("fapi_interaction_id", "")
    return response


def _answer(endpoint_key: str, path_params: dict[str, str]) -> Response:
    settings: Settings = current_app.extensions["senim.settings"]
    call = ProxyCall(
        endpoint=ENDPOINTS[endpoint_key],
        path_params=path_params,
        interaction_id=g.fapi_interaction_id,
        started=time.perf_counter(),
    )
    try:
        run_checks(call)
        # Every check passed: a use of the consent (RFC 9449 resource access); then the
        # request's writes (proof jti, last use) are committed before the bank is called,
        # so no transaction stays open while the bank takes its time.
        record_use(call.consent)
        db.session.commit()
        answer = forward(
            call, request.args.to_dict(flat=True), issuer=settings.issuer, timeout=settings.proxy_timeout
        )
    except E.ProxyRefusal as refusal:
        db.session.commit()  # a refused call still spends its proof (RFC 9449 §11.1)
        response = E.refusal_response(refusal, call.interaction_id)
        audit(
            "resource.refused",
            outcome="refused",
            reason=refusal.reason,
            status=refusal.status,
            client_id=call.client_id,
            api_user_id=call.api_user_id,
            provider_id=call.provider_id,
            consent_id=call.consent.id if call.consent else None,
            interaction_id=call.interaction_id,
        )
        meter(call, refusal.status, refusal.outcome)
        return response
    response = jsonify(answer.body)
    response.status_code = answer.status
    response.headers["Cache-Control"] = "no-store"
    meter(call, answer.status, answer.outcome)
    return response


@bp.get(f"{PROXY_PREFIX}/accounts")
def accounts() -> Response:
    return _answer("GET /accounts", {})


@bp.get(f"{PROXY_PREFIX}/accounts/<AccountId>")
def account(AccountId: str) -> Response:
    return _answer("GET /accounts/{AccountId}", {"AccountId": AccountId})


@bp.get(f"{PROXY_PREFIX}/accounts/<AccountId>/balances")
def balances(AccountId: str) -> Response:
    return _answer("GET /accounts/{AccountId}/balances", {"AccountId": AccountId})


@bp.get(f"{PROXY_PREFIX}/accounts/<AccountId>/transactions")
def transactions(AccountId: str) -> Response:
    return _answer("GET /accounts/{AccountId}/transactions", {"AccountId": AccountId})


@bp.get("/openapi/open-banking.json")
def openapi() -> Response:
    return jsonify(proxy_openapi_document(current_app.extensions["senim.settings"].issuer))


def init_rate_limit(app: Flask, settings: Settings) -> None:
    """Per API user, in the app's limiter storage (``check_rate_limit``)."""
    app.extensions["senim.proxy_rate_limits"] = parse_many(settings.proxy_rate_limit)
