"""HTTP routes of the authorization server. Thin: the rules live in the
modules they are named after."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, make_response, redirect, render_template, request

from idp import authorize as authz_flow
from idp import errors
from idp.api_user_status import client_api_user_active
from idp.consents.binding import record_use
from idp.openapi import openapi_document
from idp.replay import defer_until_write_phase
from idp.server import SenimAuthorizationServer
from idp.tokens import VerifiedAccessToken, keyring, verify_access_token
from senim.audit import audit
from senim.database import db
from senim.keys import JWKS_MAX_AGE

bp = Blueprint(
    "idp", __name__, template_folder="templates", static_folder="static", static_url_path="/static/idp"
)


def server() -> SenimAuthorizationServer:
    return current_app.extensions["senim.authorization_server"]


@bp.get("/.well-known/openid-configuration")
@bp.get("/.well-known/oauth-authorization-server")
def discovery() -> Response:
    response = jsonify(server().discovery_document())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/openapi/authorization-server.json")
def openapi() -> Response:
    return jsonify(openapi_document(server().issuer))


@bp.get("/jwks")
def jwks() -> Response:
    response = jsonify(keyring().jwks())
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE}"
    return response


@bp.post("/par")
def par() -> Response:
    return server().create_endpoint_response("pushed_authorization")


@bp.post("/token")
def token() -> Response:
    # The grants' checks only read; their writes happen together at the end.
    defer_until_write_phase()
    return server().create_token_response()


@bp.post("/introspect")
def introspect() -> Response:
    return server().create_endpoint_response("introspection")


@bp.post("/revoke")
def revoke() -> Response:
    return server().create_endpoint_response("revocation")


def _refusal_page(error: errors.Refusal) -> Response:
    """Errors that must not be redirected (RFC 6749 §4.1.2.1) are shown to the customer."""
    db.session.commit()
    audit("authorize.refused", outcome="refused", error=error.error, reason=error.reason)
    if request.accept_mimetypes.best == "application/json":
        response = jsonify({"error": error.error, "error_description": error.description})
    else:
        response = make_response(render_template("idp/authorize_error.html", error=error))
    response.status_code = error.status_code
    response.headers["Cache-Control"] = "no-store"
    return response


def _redirect_error(error: errors.Refusal) -> Response:
    db.session.commit()
    audit("authorize.refused", outcome="refused", error=error.error, reason=error.reason)
    params = dict(error.get_body())
    params["iss"] = server().issuer
    from authlib.common.urls import add_params_to_uri

    return redirect(add_params_to_uri(error.redirect_uri, list(params.items())), code=303)


@bp.before_request
def refuse_repeated_parameters() -> Response | None:
    """RFC 6749 §3.1 and §3.2: a parameter must not be sent more than once."""
    for source in (request.args, request.form):
        for name, values in source.lists():
            if len(values) > 1:
                error = errors.InvalidRequest(f"Parameter {name[:40]} is repeated.")
                if request.endpoint == "idp.authorize":
                    return _refusal_page(error)
                audit("oauth.refused", outcome="refused", error=error.error, reason="parameter_repeated")
                response = jsonify({"error": error.error, "error_description": error.description})
                response.status_code = 400
                response.headers["Cache-Control"] = "no-store"
                return response
    return None


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Response:
    # OIDC Core §3.1.2.1: GET and POST (form) are both supported.
    settings = current_app.extensions["senim.settings"]
    params = (request.form if request.method == "POST" else request.args).to_dict(flat=True)
    try:
        handoff = authz_flow.start_authorization(params, settings.interaction_ttl)
    except errors.Refusal as error:
        if error.redirect_uri:
            return _redirect_error(error)
        return _refusal_page(error)
    audit(
        "authorize.interaction_started",
        client_id=handoff.interaction.client_id,
        interaction_id=handoff.interaction.id,
    )
    page = current_app.extensions["senim.interaction_page"](handoff.interaction.id)
    response = redirect(page, code=303)
    response.set_cookie(
        authz_flow.BROWSER_COOKIE,
        handoff.browser_secret,
        max_age=settings.interaction_ttl,
        httponly=True,
        secure=settings.issuer.startswith("https://"),
        samesite="Lax",
        path="/",
    )
    return response


@bp.get("/authorize/resume/<interaction_id>")
def resume(interaction_id: str) -> Response:
    settings = current_app.extensions["senim.settings"]
    try:
        location = authz_flow.resume_authorization(
            interaction_id,
            request.cookies.get(authz_flow.BROWSER_COOKIE),
            settings.issuer,
            settings.authorization_code_ttl,
        )
    except errors.Refusal as error:
        return _refusal_page(error)
    audit("authorize.completed", interaction_id=interaction_id)
    response = redirect(location, code=303)
    response.delete_cookie(authz_flow.BROWSER_COOKIE, path="/")
    return response


def _resource_error(error: errors.Refusal) -> Response:
    """RFC 6750 §3 / RFC 9449 §7.1: the challenge names the DPoP scheme."""
    db.session.commit()
    audit("resource.refused", outcome="refused", error=error.error, reason=error.reason, path=request.path)
    response = jsonify({"error": error.error, "error_description": error.description})
    # RFC 9449 §7.1 and §9: proof and nonce problems are 401 with a DPoP challenge.
    unauthorized = ("invalid_token", "invalid_dpop_proof", "use_dpop_nonce", "invalid_request")
    response.status_code = 401 if error.error in unauthorized else error.status_code
    algs = " ".join(server().discovery_document()["dpop_signing_alg_values_supported"])
    response.headers["WWW-Authenticate"] = f'DPoP error="{error.error}", algs="{algs}"'
    if isinstance(error, errors.UseDPoPNonce):
        response.headers["DPoP-Nonce"] = error.nonce
    response.headers["Cache-Control"] = "no-store"
    return response


def authenticate_resource_request(required_scope: str | None = None) -> VerifiedAccessToken:
    """Checks of a protected resource request, in order: DPoP authorization
    scheme, access token valid now (its consent in force), DPoP proof bound to
    the token (``ath``, ``cnf.jkt``), scope. A request that passes them all
    counts as a use of the consent (written in the request's transaction, at
    most once a minute); one without the key's proof does not."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "dpop" or not token:
        raise errors.InvalidToken("A DPoP-bound access token is required (Authorization: DPoP ...).")
    verified = verify_access_token(token.strip())
    expected = verified.claims.get("cnf", {}).get("jkt")
    server().verify_dpop_for_request(access_token=token.strip(), expected_jkt=expected)
    if required_scope and required_scope not in verified.claims.get("scope", "").split():
        raise errors.InsufficientScope(f"The access token lacks the '{required_scope}' scope.")
    if verified.consent is not None:
        record_use(verified.consent)
    return verified


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    try:
        verified = authenticate_resource_request("openid")
        if not client_api_user_active(verified.record.client_id):  # idp.api_user_status
            raise errors.InvalidToken("The API user of this access token is blocked on the platform.")
    except errors.Refusal as error:
        return _resource_error(error)
    if verified.record.subject is None:
        return _resource_error(errors.InvalidToken("The access token does not belong to a customer."))
    db.session.commit()
    response = jsonify({"sub": verified.record.subject})
    response.headers["Cache-Control"] = "no-store"
    return response
