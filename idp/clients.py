"""Registering OAuth clients of API users (``senim clients add`` and the
participant cabinet's "Applications"). Every rule of a valid client lives here."""

from __future__ import annotations

import ipaddress
import secrets
from urllib.parse import urlsplit

from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select

from idp.models import Client
from idp.rfc9449_dpop import MIN_RSA_BITS
from idp.scopes import SCOPES_SUPPORTED
from registry.participants import API_USER, ParticipantError, require_active
from senim import clock
from senim.audit import audit
from senim.database import db

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


class ClientRegistrationError(ValueError):
    """The client as described cannot be registered; the message says why."""


def _validate_name(name: str) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not 1 <= len(name) <= 200:
        raise ClientRegistrationError("name must have 1 to 200 characters")
    return name


def validate_jwks(jwks: object) -> dict:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise ClientRegistrationError("JWKS must be an object with a non-empty 'keys' array")
    for key in jwks["keys"]:
        if not isinstance(key, dict) or key.get("kty") not in ("EC", "RSA", "OKP"):
            raise ClientRegistrationError("each JWK must be an EC, RSA or OKP public key")
        if any(member in key for member in _PRIVATE_MEMBERS):
            raise ClientRegistrationError("the JWKS contains a private key: register only public keys")
    try:
        keyset = KeySet.import_key_set(jwks)
    except Exception as error:  # noqa: BLE001 - reported to the operator
        raise ClientRegistrationError(f"the JWKS cannot be read: {error}") from None
    for key in keyset.keys:
        if isinstance(key, RSAKey) and key.raw_value.key_size < MIN_RSA_BITS:
            raise ClientRegistrationError(f"RSA keys must have at least {MIN_RSA_BITS} bits (FAPI 2.0)")
    return jwks


def validate_redirect_uri(uri: str, production: bool) -> str:
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        raise ClientRegistrationError(f"redirect URI must not have a fragment: {uri}")
    if parts.scheme == "https" and parts.netloc:
        return uri
    host = (parts.hostname or "").lower()
    if (
        parts.scheme == "http"
        and (host in LOOPBACK_HOSTS or f"[{host}]" in LOOPBACK_HOSTS)
        and not production
    ):
        return uri
    raise ClientRegistrationError(
        f"redirect URI must be an absolute https URL (http only for localhost): {uri}"
    )


#: Longest notification URI accepted (it is stored as text, but nobody needs more).
MAX_NOTIFICATION_URI = 2000


def validate_notification_uri(uri: str, production: bool) -> str:
    """Where consent events may be POSTed: an absolute https URL (http only to loopback
    outside production), with no credentials or fragment in it.

    The platform sends requests to this address on its own initiative, so it is
    checked like a redirect URI and more (SSRF): in production an address
    written as a loopback, private, link-local or otherwise non-public IP
    literal (e.g. ``https://169.254.169.254/``) or ``localhost`` is refused.
    """
    uri = (uri or "").strip()
    if not uri or len(uri) > MAX_NOTIFICATION_URI:
        raise ClientRegistrationError(f"notification URI must have 1 to {MAX_NOTIFICATION_URI} characters")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise ClientRegistrationError(f"notification URI is not a valid URL: {uri}") from None
    if parts.fragment or "#" in uri:
        raise ClientRegistrationError(f"notification URI must not have a fragment: {uri}")
    if parts.username is not None or parts.password is not None:
        raise ClientRegistrationError("notification URI must not carry credentials (user:password@)")
    host = (parts.hostname or "").lower()
    loopback = host in LOOPBACK_HOSTS or f"[{host}]" in LOOPBACK_HOSTS
    if parts.scheme == "https" and host:
        if production and (loopback or _non_public_ip_literal(host)):
            raise ClientRegistrationError(f"notification URI must name a public host in production: {uri}")
        return uri
    if parts.scheme == "http" and loopback and not production:
        return uri
    raise ClientRegistrationError(
        f"notification URI must be an absolute https URL (http only for localhost outside production): {uri}"
    )


def _non_public_ip_literal(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name: where it points is the receiver's DNS, not checked here
    return not address.is_global


def validate_jwks_uri(uri: str, production: bool) -> str:
    """Where a client publishes its keys: the same rules as a notification address (the
    platform fetches it on its own initiative: https, a public host in production)."""
    try:
        return validate_notification_uri(uri, production)
    except ClientRegistrationError as error:
        raise ClientRegistrationError(str(error).replace("notification URI", "JWKS URI")) from None


def _validate_keys(
    jwks: dict | None, jwks_uri: str | None, production: bool
) -> tuple[dict | None, str | None]:
    # RFC 7591 §2: jwks and jwks_uri MUST NOT both be present.
    if (jwks is None) == (jwks_uri is None):
        raise ClientRegistrationError(
            "give the client's public keys either as a JWKS or as a JWKS URI (one of them)"
        )
    if jwks is not None:
        return validate_jwks(jwks), None
    return None, validate_jwks_uri(jwks_uri, production)


def register_client(
    *,
    name: str,
    jwks: dict | None = None,
    jwks_uri: str | None = None,
    redirect_uris: list[str],
    scope: str,
    grant_types: list[str],
    production: bool = False,
    client_id: str | None = None,
    participant_id: str | None = None,
    notification_uri: str | None = None,
) -> Client:
    name = _validate_name(name)
    jwks, jwks_uri = _validate_keys(jwks, jwks_uri, production)
    grant_types = list(dict.fromkeys(grant_types))
    unknown = [g for g in grant_types if g not in GRANT_TYPES]
    if not grant_types or unknown:
        raise ClientRegistrationError(f"grant types must be among {', '.join(GRANT_TYPES)}")
    if "refresh_token" in grant_types and "authorization_code" not in grant_types:
        raise ClientRegistrationError("refresh_token only comes with authorization_code")
    redirect_uris = [validate_redirect_uri(u, production) for u in dict.fromkeys(redirect_uris)]
    if "authorization_code" in grant_types and not redirect_uris:
        raise ClientRegistrationError("the authorization_code grant needs at least one redirect URI")
    scopes = scope.split()
    bad = [s for s in scopes if s not in SCOPES_SUPPORTED]
    if not scopes or bad:
        raise ClientRegistrationError(f"scope must be among {', '.join(SCOPES_SUPPORTED)}")
    if participant_id is not None:
        # A client acts for an API user: only an active one may have new clients.
        try:
            require_active(participant_id, API_USER)
        except ParticipantError as error:
            raise ClientRegistrationError(str(error)) from None
    if notification_uri is not None:
        notification_uri = validate_notification_uri(notification_uri, production)
    client_id = client_id or f"senim-{secrets.token_urlsafe(12)}"
    if db.session.scalar(select(Client).where(Client.client_id == client_id)) is not None:
        raise ClientRegistrationError(f"client {client_id} already exists")
    client = Client(
        client_id=client_id,
        name=name,
        redirect_uris=redirect_uris,
        grant_types=grant_types,
        scope=" ".join(dict.fromkeys(scopes)),
        jwks=jwks,
        jwks_uri=jwks_uri,
        token_endpoint_auth_method="private_key_jwt",
        created_at=clock.now_int(),
        participant_id=participant_id,
        notification_uri=notification_uri,
    )
    db.session.add(client)
    db.session.commit()
    audit(
        "client.registered",
        client_id=client.client_id,
        grant_types=grant_types,
        participant_id=participant_id,
        notifications=notification_uri is not None,
    )
    return client


def set_client_disabled(client_id: str, disabled: bool) -> Client:
    client = db.session.scalar(select(Client).where(Client.client_id == client_id))
    if client is None:
        raise ClientRegistrationError(f"no client {client_id}")
    client.disabled_at = clock.now_int() if disabled else None
    db.session.commit()
    audit("client.disabled" if disabled else "client.enabled", client_id=client_id)
    return client


def set_notification_uri(client_id: str, uri: str | None, production: bool) -> Client:
    """Register (or, with ``None``, remove) where the client's consent events are POSTed.

    Events already waiting stay in the outbox either way: they go to the
    address registered when they are sent (see idp/consents/notifications.py).
    """
    client = db.session.scalar(select(Client).where(Client.client_id == client_id))
    if client is None:
        raise ClientRegistrationError(f"no client {client_id}")
    client.notification_uri = None if uri is None else validate_notification_uri(uri, production)
    db.session.commit()
    # the host only: a URI may carry a receiver's own secret in its query
    host = urlsplit(client.notification_uri).hostname if client.notification_uri else None
    audit("client.notification_uri_set", client_id=client_id, notification_host=host)
    return client


# -- the participant cabinet's applications ------------------------------------------------
#: What an app registered in the cabinet may do: the customer's journey and the consents API.
CABINET_GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials"]
CABINET_SCOPE = "openid accounts consents"
MAX_KEYS = 10


def clients_of(participant_id: str) -> list[Client]:
    """The API user's clients, newest first."""
    return list(
        db.session.scalars(
            select(Client).where(Client.participant_id == participant_id).order_by(Client.created_at.desc())
        )
    )


def client_of(participant_id: str, client_id: str) -> Client:
    """The API user's client ``client_id``; another participant's client is "no client"."""
    client = (
        db.session.scalar(select(Client).where(Client.client_id == client_id))
        if isinstance(client_id, str)
        else None
    )
    if client is None or client.participant_id != participant_id:
        raise ClientRegistrationError(f"no client {client_id}")
    return client


def _touched(client: Client, event: str, **fields: object) -> Client:
    client.updated_at = clock.now_int()
    db.session.commit()
    audit(event, client_id=client.client_id, participant_id=client.participant_id, **fields)
    return client


def update_client(
    client: Client, *, name: str, redirect_uris: list[str], notification_uri: str | None, production: bool
) -> Client:
    """New name, redirect URIs and notification address, all checked before any is changed."""
    name = _validate_name(name)
    redirect_uris = [validate_redirect_uri(u, production) for u in dict.fromkeys(redirect_uris)]
    if "authorization_code" in (client.grant_types or []) and not redirect_uris:
        raise ClientRegistrationError("the authorization_code grant needs at least one redirect URI")
    if notification_uri is not None:
        notification_uri = validate_notification_uri(notification_uri, production)
    client.name, client.redirect_uris, client.notification_uri = name, redirect_uris, notification_uri
    return _touched(client, "client.updated", redirect_uris=len(redirect_uris))


def _kid(jwk: dict) -> str:
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not 1 <= len(kid) <= 100:
        raise ClientRegistrationError(
            "each key needs a key id (kid) of 1 to 100 characters, to rotate it later"
        )
    return kid


def add_client_key(client: Client, jwk: dict) -> Client:
    """Publish one more public key for the client; the old ones stay valid (rotation step 1)."""
    if client.jwks_uri:
        raise ClientRegistrationError("this client publishes its keys at its JWKS URI: rotate them there")
    if not isinstance(jwk, dict):
        raise ClientRegistrationError("a key is a JWK: a JSON object")
    keys = list((client.jwks or {}).get("keys", []))
    kid = _kid(jwk)
    if any(key.get("kid") == kid for key in keys):
        raise ClientRegistrationError(f"the client already has a key {kid}")
    if len(keys) >= MAX_KEYS:
        raise ClientRegistrationError(f"at most {MAX_KEYS} keys: remove an old one first")
    client.jwks = validate_jwks({"keys": [*keys, jwk]})
    return _touched(client, "client.key_added", kid=kid)


def remove_client_key(client: Client, kid: str) -> Client:
    """Stop accepting one key (rotation step 2, once the client signs with the new one)."""
    keys = list((client.jwks or {}).get("keys", []))
    kept = [key for key in keys if key.get("kid") != kid]
    if len(kept) == len(keys):
        raise ClientRegistrationError(f"the client has no key {kid}")
    if not kept:
        raise ClientRegistrationError("a client keeps at least one key: add the new one first")
    client.jwks = {"keys": kept}
    return _touched(client, "client.key_removed", kid=kid)


def set_jwks_uri(client: Client, jwks_uri: str | None, jwks: dict | None, production: bool) -> Client:
    """Switch between a registered JWKS and a JWKS URI."""
    from idp.client_keys import forget_published_keys

    jwks, jwks_uri = _validate_keys(jwks, jwks_uri, production)
    if jwks is not None:
        for key in jwks["keys"]:
            _kid(key)
    previous = client.jwks_uri
    client.jwks, client.jwks_uri = jwks, jwks_uri
    forget_published_keys(previous)
    return _touched(client, "client.keys_source_set", source="jwks_uri" if jwks_uri else "jwks")


def set_client_logo(client: Client, data: bytes) -> Client:
    """The app's logo for the consent screen and the cabinet: a PNG or JPEG, kept re-encoded as PNG."""
    from registry.logos import InvalidLogo, checked_png

    try:
        png, _image = checked_png(data)
    except InvalidLogo as error:
        raise ClientRegistrationError(str(error)) from None
    client.logo_png = png
    return _touched(client, "client.logo_set", size=len(png))


def bind_certificates(client: Client, serials: list[str]) -> Client:
    """Bind the client to these mTLS certificates of its API user (RFC 8705 §2.1.1); [] unbinds.

    Only the participant's own, unrevoked mTLS certificates can be bound.
    """
    from registry.certificate_authority import MTLS, CertificateNotFound, get_certificate

    chosen = []
    for serial in dict.fromkeys(serials):
        try:
            record = get_certificate(serial)
        except CertificateNotFound:
            raise ClientRegistrationError(f"no certificate {serial}") from None
        if record.participant_id != client.participant_id or record.purpose != MTLS or record.revoked_at:
            raise ClientRegistrationError(
                f"certificate {serial} is not a valid mTLS certificate of this API user"
            )
        chosen.append(record.serial)
    client.bound_certificate_serials = chosen or None
    return _touched(client, "client.certificates_bound", serials=chosen)
