"""Clients bound to certificates (RFC 8705, "OAuth 2.0 Mutual-TLS Client Authentication and
Certificate-Bound Access Tokens", §2.1.1 PKI method).

An API user may bind an app to mTLS certificates the platform's CA issued it
(the cabinet's app page; ``idp.clients.bind_certificates``). A bound client
authenticates as before (``private_key_jwt``) *and* must present one of its
bound certificates in the TLS handshake: a leaked private key alone no longer
gets tokens. TLS ends at the terminator in front of Senim (nginx), which
passes the verified client certificate in the header named by
``SENIM_MTLS_CLIENT_CERT_HEADER`` (URL-encoded PEM, nginx's
``$ssl_client_escaped_cert``); the terminator must remove that header from
what clients send. Without the setting no certificate is ever seen, so a
bound client is refused — the binding fails closed.

Checked at every client authentication (the token endpoint, PAR, introspection,
revocation): the certificate is the CA's, on record, unrevoked and valid now,
and one of the client's bound serials.
"""

from __future__ import annotations

from urllib.parse import unquote

from flask import current_app, has_request_context, request

from idp.errors import ClientCertificateRequired
from registry.certificate_authority import CertificateAuthorityError, check_presented_certificate
from senim.audit import audit

MAX_CERTIFICATE_HEADER = 16 * 1024


def presented_certificate() -> bytes | None:
    """The client certificate the TLS terminator passed on, as PEM, or None."""
    header = current_app.extensions["senim.settings"].mtls_client_cert_header
    if not header or not has_request_context():
        return None
    value = request.headers.get(header, "")
    if not value or len(value) > MAX_CERTIFICATE_HEADER:
        return None
    return unquote(value).encode()


def check_certificate_binding(client: object) -> None:
    """A bound client presented one of its bound certificates; an unbound client passes."""
    bound = list(getattr(client, "bound_certificate_serials", None) or [])
    if not bound:
        return
    pem = presented_certificate()
    reason = "no_certificate"
    if pem is not None:
        try:
            record = check_presented_certificate(pem)
        except CertificateAuthorityError:
            reason = "certificate_invalid"
        else:
            if record.serial in bound:
                return
            reason = "certificate_not_bound"
    audit("client.certificate_refused", client_id=client.client_id, outcome="refused", reason=reason)
    raise ClientCertificateRequired()
