"""JWT-Secured Authorization Requests (RFC 9101), accepted at the PAR endpoint.

A client may push its parameters as a signed request object (``request``).
It must be signed by one of the client's registered keys with an asymmetric
algorithm (§6.1), name the client as ``iss`` and ``client_id`` and this server
as ``aud`` (§4, §10.2), be short-lived (``exp``, ``nbf``; FAPI 2.0 Message
Signing §5.3.1) and single use (``jti``). Its claims are then the only
authorization parameters (§6.3).
"""

from __future__ import annotations

from joserfc import jwt
from joserfc.errors import JoseError

from idp.client_keys import client_keyset, header_kid
from idp.errors import InvalidRequestObject, Refusal
from idp.models import Client
from idp.replay import consume_jti
from idp.rfc7523_private_key_jwt import CLIENT_ASSERTION_ALGS
from senim import clock

MAX_LIFETIME = 3600


def parse_request_object(request_object: str, client: Client, issuer: str) -> dict:
    """The verified claims of ``request_object`` (the authorization parameters)."""
    try:
        keyset = client_keyset(client, kid=header_kid(request_object))
        token = jwt.decode(request_object, keyset, algorithms=list(CLIENT_ASSERTION_ALGS))
    except (JoseError, ValueError, TypeError, RecursionError):
        raise InvalidRequestObject("The request object signature is invalid.") from None
    except Refusal:
        raise InvalidRequestObject("The request object cannot be verified with the client's keys.") from None
    claims = dict(token.claims)
    registry = jwt.JWTClaimsRegistry(
        now=clock.now_int,
        leeway=5,
        iss={"essential": True, "value": client.client_id},
        aud={"essential": True, "values": [issuer]},
        exp={"essential": True},
        client_id={"essential": True, "value": client.client_id},
    )
    try:
        registry.validate(claims)
    except JoseError as error:
        raise InvalidRequestObject(f"Request object: {error.description}") from None
    if claims["aud"] != issuer:
        raise InvalidRequestObject("Request object: aud must be the issuer identifier as a string.")
    now = clock.now_int()
    if claims["exp"] > now + MAX_LIFETIME:
        raise InvalidRequestObject("The request object expires too far in the future.")
    if "nbf" in claims and claims["nbf"] < now - MAX_LIFETIME:
        raise InvalidRequestObject("The request object 'nbf' is too old.")
    if "request" in claims or "request_uri" in claims:
        raise InvalidRequestObject("A request object must not nest request or request_uri.")
    jti = claims.get("jti")
    fresh = jti is None or (
        isinstance(jti, str) and consume_jti("request_object", f"{client.client_id}:{jti}", claims["exp"])
    )
    if not fresh:
        raise InvalidRequestObject("The request object has been used before.")
    for name in ("iss", "aud", "exp", "nbf", "iat", "jti"):
        claims.pop(name, None)
    return claims
