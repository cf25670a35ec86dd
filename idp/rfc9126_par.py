"""OAuth 2.0 Pushed Authorization Requests (RFC 9126).

Senim requires PAR for every authorization request
(``require_pushed_authorization_requests``, §5; FAPI 2.0 §5.3.1.2): the client
authenticates, pushes its parameters here, and sends the browser to
``/authorize`` with only ``client_id`` and the single-use, short-lived
``request_uri`` it got back.

Checks, in order (one function each, named for its rule):

| # | check                              | refusal                          |
|---|------------------------------------|----------------------------------|
| 1 | client authentication (RFC 7523)   | invalid_client                   |
| 1b| check_api_user_active              | unauthorized_client (blocked API user, idp.api_user_status) |
| 2 | check_no_request_uri               | invalid_request (§2.1)           |
| 3 | load_request_object (RFC 9101)     | invalid_request_object           |
| 4 | check_client_id_matches            | invalid_request (§2.1)           |
| 5 | check_response_type_is_code        | unsupported_response_type        |
| 6 | check_redirect_uri_registered      | invalid_request                  |
| 7 | check_scope_allowed                | invalid_scope                    |
| 8 | check_pkce_s256 (RFC 7636)         | invalid_request                  |
| 9 | check_parameter_values             | invalid_request                  |
| 10| check_authorization_details (9396) | invalid_authorization_details    |
| 11| check_dpop_binding (RFC 9449 §10)  | invalid_dpop_proof               |
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749 import AuthorizationServer
from authlib.oauth2.rfc6749.endpoint import Endpoint, EndpointRequest
from authlib.oauth2.rfc6749.requests import OAuth2Request

from idp import errors
from idp.api_user_status import check_api_user_active
from idp.models import Client, PushedAuthorizationRequest, secret_hash
from idp.rfc9101_request_object import parse_request_object
from idp.rfc9396_authorization_details import parse_authorization_details
from senim import clock
from senim.database import db

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
_PKCE_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url(SHA-256), RFC 7636 §4.2
_JKT = re.compile(r"^[A-Za-z0-9_-]{43}$")
MAX_PARAM_LENGTH = 2048
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_MAX_AGE = re.compile(r"^[0-9]{1,9}$")
#: The authorization parameters Senim understands; anything else is ignored (RFC 6749 §3.1).
KNOWN_PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "authorization_details",
    "dpop_jkt",
    "login_hint",
    "ui_locales",
    "prompt",
    "max_age",
    "acr_values",
    "response_mode",
)


@dataclass
class PushedRequest(EndpointRequest):
    parameters: dict = field(default_factory=dict)


def _parameters_from_request_object(claims: dict) -> dict:
    """Authorization parameters are strings; only ``authorization_details`` may
    be JSON (RFC 9396 §3) and ``max_age`` a number (OIDC Core §3.1.2.1)."""
    params: dict = {}
    for name in KNOWN_PARAMETERS:
        value = claims.get(name)
        if value is None:
            continue
        if name == "authorization_details" and isinstance(value, list):
            params[name] = value
        elif name == "max_age" and isinstance(value, int) and not isinstance(value, bool):
            params[name] = str(value)
        elif isinstance(value, str):
            params[name] = value
        else:
            raise errors.InvalidRequestObject(f"Request object: {name} must be a string.")
    return params


class Checks:
    """The rules of a pushed authorization request, each a small function."""

    @staticmethod
    def check_no_request_uri(form: dict) -> None:
        if "request_uri" in form:
            raise errors.RequestUriNotAllowedAtPar()

    @staticmethod
    def load_request_object(form: dict, client: Client, issuer: str) -> dict:
        if "request" not in form:
            return {k: form[k] for k in KNOWN_PARAMETERS if form.get(k) is not None}
        claims = parse_request_object(form["request"], client, issuer)
        # RFC 9101 §6.3: only the request object's parameters are used.
        return _parameters_from_request_object(claims)

    @staticmethod
    def check_client_id_matches(params: dict, client: Client) -> None:
        if params.get("client_id") not in (None, client.client_id):
            raise errors.InvalidRequest("client_id does not match the authenticated client.")
        params["client_id"] = client.client_id

    @staticmethod
    def check_response_type_is_code(params: dict, client: Client) -> None:
        if params.get("response_type") != "code":
            raise errors.UnsupportedResponseType()
        if not client.check_response_type("code"):
            raise errors.UnauthorizedClient("The client may not use the authorization code flow.")
        if params.get("response_mode") not in (None, "query"):
            raise errors.InvalidRequest("Only response_mode=query is supported.")

    @staticmethod
    def check_redirect_uri_registered(params: dict, client: Client) -> None:
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            raise errors.InvalidRequest("redirect_uri is required.")
        if not client.check_redirect_uri(redirect_uri):
            raise errors.RedirectUriMismatch()

    @staticmethod
    def check_scope_allowed(params: dict, client: Client, supported: tuple[str, ...]) -> None:
        scope = params.get("scope") or ""
        requested = scope.split()
        if not requested:
            raise errors.InvalidScope("scope is required.")
        if not set(requested) <= set(supported) or not client.scope_allows(scope):
            raise errors.InvalidScope("The requested scope is not allowed for this client.")
        params["scope"] = " ".join(dict.fromkeys(requested))

    @staticmethod
    def check_pkce_s256(params: dict) -> None:
        challenge = params.get("code_challenge")
        if not challenge or params.get("code_challenge_method") != "S256":
            raise errors.PkceRequired()
        if not _PKCE_CHALLENGE.match(challenge):
            raise errors.InvalidRequest("code_challenge is not a base64url SHA-256 value.")

    @staticmethod
    def check_parameter_values(params: dict) -> None:
        for name, value in params.items():
            if not isinstance(value, str):
                continue
            if len(value) > MAX_PARAM_LENGTH:
                raise errors.InvalidRequest(f"{name} is too long.")
            if _CONTROL_CHARACTERS.search(value):
                raise errors.InvalidRequest(f"{name} contains control characters.")
        if params.get("prompt") not in (None, "login", "consent", "login consent", "consent login"):
            raise errors.InvalidRequest("prompt may only be login and/or consent.")
        if params.get("max_age") is not None and not _MAX_AGE.match(params["max_age"]):
            raise errors.InvalidRequest("max_age must be a non-negative integer.")

    @staticmethod
    def check_authorization_details(params: dict, client: Client) -> None:
        details = parse_authorization_details(params.get("authorization_details"), client)
        if details is None:
            params.pop("authorization_details", None)
        else:
            params["authorization_details"] = details

    @staticmethod
    def check_dpop_binding(params: dict, dpop_jkt_from_proof: str | None) -> None:
        jkt = params.get("dpop_jkt")
        if jkt is not None and not _JKT.match(jkt):
            raise errors.InvalidRequest("dpop_jkt is not a JWK SHA-256 thumbprint.")
        if jkt and dpop_jkt_from_proof and jkt != dpop_jkt_from_proof:
            # RFC 9449 §10.1: both present and different is an error.
            raise errors.InvalidDPoPProof("dpop_jkt does not match the DPoP proof's key.")
        if dpop_jkt_from_proof:
            params["dpop_jkt"] = dpop_jkt_from_proof


class PushedAuthorizationEndpoint(Endpoint):
    ENDPOINT_NAME = "pushed_authorization"
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = ["private_key_jwt"]

    def __init__(
        self,
        server: AuthorizationServer,
        issuer: str,
        ttl: int,
        scopes: tuple[str, ...],
        dpop: Callable[..., str | None],
    ) -> None:
        super().__init__(server)
        self.issuer = issuer
        self.ttl = ttl
        self.scopes = scopes
        self.dpop = dpop  # callable(htu_path) -> jkt | None, for an optional DPoP header

    def validate_request(self, request: OAuth2Request) -> PushedRequest:
        if request.method != "POST":
            raise errors.InvalidRequest("Use POST.")
        client = self.server.authenticate_client(request, self.CLIENT_AUTH_METHODS, "par")
        request.client = client
        check_api_user_active(client.participant_id)
        form = request.form
        Checks.check_no_request_uri(form)
        params = Checks.load_request_object(form, client, self.issuer)
        Checks.check_client_id_matches(params, client)
        Checks.check_response_type_is_code(params, client)
        Checks.check_redirect_uri_registered(params, client)
        Checks.check_scope_allowed(params, client, self.scopes)
        Checks.check_pkce_s256(params)
        Checks.check_parameter_values(params)
        Checks.check_authorization_details(params, client)
        Checks.check_dpop_binding(params, self.dpop(optional=True))
        return PushedRequest(request=request, client=client, parameters=params)

    def create_response(self, validated: PushedRequest) -> tuple[int, dict, list]:
        now = clock.now_int()
        handle = secrets.token_urlsafe(32)
        request_uri = REQUEST_URI_PREFIX + handle
        db.session.add(
            PushedAuthorizationRequest(
                request_uri_hash=secret_hash(request_uri),
                client_id=validated.client.client_id,
                parameters=validated.parameters,
                created_at=now,
                expires_at=now + self.ttl,
            )
        )
        db.session.commit()
        body = {"request_uri": request_uri, "expires_in": self.ttl}
        return 201, body, default_json_headers
