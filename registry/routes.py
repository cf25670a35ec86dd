"""The registry's JSON API: thin routes over ``registry/showcase.py``.

Errors are ``{"error": ..., "error_description": ...}``, the shape the
authorization server answers with (RFC 6749 §5.2 style), so an API user's
client handles one error shape for the platform's own APIs.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from registry.apis import ApiRegistryError, get_api
from registry.openapi import PREFIX, registry_openapi_document
from registry.showcase import check_history, showcase

bp = Blueprint("registry", __name__)


def _error(status: int, error: str, description: str) -> tuple[Response, int]:
    return jsonify({"error": error, "error_description": description}), status


@bp.get(f"{PREFIX}/showcase")
def showcase_list() -> Response | tuple[Response, int]:
    """Public and read-only: what any visitor of the showcase sees."""
    try:
        return jsonify({"apis": showcase(request.args.get("q"))})
    except ApiRegistryError as error:
        return _error(400, "invalid_request", str(error))


@bp.get(f"{PREFIX}/apis/<api_id>/checks")
def api_checks(api_id: str) -> Response | tuple[Response, int]:
    """Public for now: a run names checks and fields, never account data, addresses or
    secrets (resource_proxy/conformance.py). The cabinet may later show more to the provider."""
    if get_api(api_id) is None:
        return _error(404, "not_found", "no such API")
    limit_text = request.args.get("limit", "50")
    if not (limit_text.isascii() and limit_text.isdigit()):
        return _error(400, "invalid_request", "limit must be a whole number from 1 to 500")
    try:
        runs = check_history(api_id, int(limit_text))
    except ApiRegistryError as error:
        return _error(400, "invalid_request", str(error))
    return jsonify(
        {"api_id": api_id, "status": get_api(api_id).status, "checks": [r.as_public_dict() for r in runs]}
    )


@bp.get("/openapi/registry.json")
def openapi() -> Response:
    return jsonify(registry_openapi_document(current_app.extensions["senim.settings"].issuer))
