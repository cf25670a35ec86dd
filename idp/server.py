"""Senim's authorization server: Authlib's Flask server, configured.

Authlib dispatches the token endpoint to the grants (``idp.grants``), runs
client authentication (``private_key_jwt``, ``idp.rfc7523_private_key_jwt``)
and the endpoints Senim registers (PAR, introspection, revocation), and renders
every refusal as the standard error response. What Authlib lacks comes from
modules named for their standard: ``rfc9126_par``, ``rfc9449_dpop``,
``rfc9396_authorization_details``, ``rfc9101_request_object``.
"""

from __future__ import annotations

import contextlib
import os
import re

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.requests import OAuth2Request
from flask import Flask, Request, Response, request

from idp import errors
from idp.grants import AuthorizationCodeGrant, ClientCredentialsGrant, RefreshTokenGrant
from idp.introspection import SenimIntrospectionEndpoint, SenimRevocationEndpoint
from idp.models import ClientSnapshot
from idp.replay import record_deferred
from idp.rfc7523_private_key_jwt import PrivateKeyJWT
from idp.rfc9126_par import PushedAuthorizationEndpoint
from idp.rfc9449_dpop import DPoPProof, NonceSource, verify_dpop_proof
from idp.scopes import CLIENT_CREDENTIALS_SCOPES, CUSTOMER_SCOPES, SCOPES_SUPPORTED
from senim import clock
from senim.audit import audit
from senim.database import db
from senim.settings import Settings

CLIENT_ID_FORMAT = re.compile(r"^[\x21-\x7e]{1,64}$")


class IssuerAddressedRequest(FlaskOAuth2Request):
    """Authlib's Flask request, with the issuer-based URL instead of the WSGI one."""

    def __init__(self, request: Request, issuer: str) -> None:
        query = request.query_string.decode("ascii", "replace")
        uri = issuer + request.path + (f"?{query}" if query else "")
        OAuth2Request.__init__(self, method=request.method, uri=uri, headers=request.headers)
        self._request = request
        self.payload = FlaskOAuth2Payload(request)


class SenimAuthorizationServer(AuthorizationServer):
    def __init__(self, app: Flask, settings: Settings, nonces: NonceSource) -> None:
        super().__init__()
        if not settings.issuer.startswith("https://"):
            # Development and tests may run on a plain-http issuer; production
            # refuses one (senim.settings), so Authlib's https check stays on there.
            os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
        self.issuer = settings.issuer
        self.settings = settings
        self.nonces = nonces
        self.client_credentials_scopes = CLIENT_CREDENTIALS_SCOPES
        self.init_app(app, query_client=self._load_client, save_token=self._no_save)
        self.scopes_supported = list(SCOPES_SUPPORTED)
        self.register_client_auth_method(
            "private_key_jwt", PrivateKeyJWT(settings.issuer, settings.client_assertion_max_age)
        )
        self.register_grant(AuthorizationCodeGrant)
        self.register_grant(RefreshTokenGrant)
        self.register_grant(ClientCredentialsGrant)
        self.register_endpoint(
            PushedAuthorizationEndpoint(
                self, settings.issuer, settings.par_ttl, CUSTOMER_SCOPES, self.verify_dpop_for_request
            )
        )
        self.register_endpoint(SenimIntrospectionEndpoint)
        self.register_endpoint(SenimRevocationEndpoint)

    @staticmethod
    def _load_client(client_id: object) -> ClientSnapshot | None:
        # The client_id comes from a request before anything is verified:
        # only a well-formed identifier reaches the database.
        if not isinstance(client_id, str) or not CLIENT_ID_FORMAT.match(client_id):
            return None
        return ClientSnapshot.load(client_id)

    def create_oauth2_request(self, _framework_request: object = None) -> OAuth2Request:
        """Authlib's view of the request, addressed by the issuer's URL.

        Behind a TLS-terminating proxy the WSGI request is plain http; the
        issuer is what clients use (and production refuses a non-https one).
        """
        return IssuerAddressedRequest(request, self.issuer)

    @staticmethod
    def _no_save(token: dict, request: OAuth2Request) -> None:
        raise RuntimeError("grants record what they issue themselves (idp.tokens)")

    def verify_dpop_for_request(
        self,
        optional: bool = False,
        access_token: str | None = None,
        expected_jkt: str | None = None,
    ) -> DPoPProof | str | None:
        """Check the DPoP proof of the current Flask request (RFC 9449 §4.3).

        ``htu`` is compared with the issuer-based URL of the endpoint, so that
        the check holds behind a TLS-terminating proxy.
        """
        # WSGI joins repeated headers with commas; a JWT never contains one.
        proofs = [p.strip() for value in request.headers.getlist("DPoP") for p in value.split(",")]
        if optional and not proofs:
            return None
        proof = verify_dpop_proof(
            proofs,
            method=request.method,
            url=self.issuer + request.path,
            now=clock.now(),
            iat_window=self.settings.dpop_iat_window,
            nonces=self.nonces,
            require_nonce=self.settings.dpop_require_nonce,
            access_token=access_token,
            expected_jkt=expected_jkt,
        )
        return proof.jkt if optional else proof

    def handle_error_response(self, request: OAuth2Request, error: OAuth2Error) -> Response:
        """Every refusal: audited, and what it changed (a consumed ``jti``, a
        revoked grant after a reused code) is kept. An assertion or proof
        presented with a refused request is spent too."""
        with contextlib.suppress(errors.Refusal):  # already spent: answer the refusal at hand
            record_deferred()
        db.session.commit()
        client = getattr(request, "client", None)
        audit(
            "oauth.refused",
            outcome="refused",
            error=error.error,
            reason=getattr(error, "reason", error.error),
            description=error.description,
            client_id=getattr(client, "client_id", None) or request.payload.client_id,
            grant_type=request.payload.grant_type,
        )
        response = super().handle_error_response(request, error)
        if self.settings.dpop_require_nonce:
            response.headers["DPoP-Nonce"] = self.nonces.current(clock.now())
        return response

    def discovery_document(self) -> dict:
        issuer = self.issuer
        algs = ["ES256", "PS256", "EdDSA"]
        from idp.rfc9396_authorization_details import supported_types

        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "pushed_authorization_request_endpoint": f"{issuer}/par",
            "require_pushed_authorization_requests": True,
            "jwks_uri": f"{issuer}/jwks",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "introspection_endpoint": f"{issuer}/introspect",
            "revocation_endpoint": f"{issuer}/revoke",
            "scopes_supported": list(SCOPES_SUPPORTED),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.settings.signing_alg],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": algs,
            "introspection_endpoint_auth_methods_supported": ["private_key_jwt"],
            "introspection_endpoint_auth_signing_alg_values_supported": algs,
            "revocation_endpoint_auth_methods_supported": ["private_key_jwt"],
            "revocation_endpoint_auth_signing_alg_values_supported": algs,
            "code_challenge_methods_supported": ["S256"],
            "dpop_signing_alg_values_supported": algs,
            "authorization_response_iss_parameter_supported": True,
            "authorization_details_types_supported": supported_types(),
            "request_parameter_supported": True,
            "request_uri_parameter_supported": False,
            "request_object_signing_alg_values_supported": algs,
            "claims_parameter_supported": False,
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "acr",
                "amr",
                "azp",
            ],
            "tls_client_certificate_bound_access_tokens": False,
        }


__all__ = ["SenimAuthorizationServer", "errors"]
