"""Apps bound to mTLS certificates of the platform's CA (RFC 8705 §2.1.1): the key alone gets no tokens."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from idp.clients import ClientRegistrationError, bind_certificates
from idp.models import Client
from registry.certificate_authority import revoke_certificate, sign_csr
from senim.database import db
from tests.conftest import register
from tests.registry.test_certificate_authority import _csr
from tests.support.api_user import ApiUser
from tests.support.staff import bank, fintech

HEADER = "X-Client-Cert"


@pytest.fixture
def behind_mtls(app):
    """Senim behind a TLS terminator that passes the client's certificate in X-Client-Cert."""
    settings = app.extensions["senim.settings"]
    app.extensions["senim.settings"] = settings.with_overrides(mtls_client_cert_header=HEADER)
    yield
    app.extensions["senim.settings"] = settings


@pytest.fixture
def bound(app, http, clock, behind_mtls):
    participant = fintech()
    key = register(app, "bound-app", participant_id=participant.id)
    certificate = sign_csr(participant.id, _csr(), "mtls")
    client = db.session.scalar(db.select(Client).where(Client.client_id == "bound-app"))
    bind_certificates(client, [certificate.serial])
    return participant, certificate, ApiUser(http=http, client_id="bound-app", key=key, now=clock.now)


def _present(http, pem: str | bytes | None) -> None:
    if pem is None:
        http.environ_base.pop("HTTP_X_CLIENT_CERT", None)
    else:
        http.environ_base["HTTP_X_CLIENT_CERT"] = quote(pem if isinstance(pem, str) else pem.decode())


def test_a_bound_app_gets_tokens_only_with_its_certificate(bound, http):
    _participant, certificate, app_user = bound
    refused = app_user.client_credentials()
    assert refused.status_code == 401 and refused.get_json()["error"] == "invalid_client"
    _present(http, certificate.certificate_pem)
    assert app_user.client_credentials().status_code == 200


def test_pushed_authorization_requests_need_the_certificate_too(bound, http):
    _participant, certificate, app_user = bound
    assert app_user.par(redirect_uri="https://app.example/cb").status_code == 401
    _present(http, certificate.certificate_pem)
    assert app_user.par(redirect_uri="https://app.example/cb").status_code == 201


def test_another_valid_certificate_of_the_same_participant_is_not_the_bound_one(bound, http):
    participant, _certificate, app_user = bound
    other = sign_csr(participant.id, _csr(), "mtls")
    _present(http, other.certificate_pem)
    assert app_user.client_credentials().status_code == 401


def test_a_revoked_bound_certificate_gets_nothing(bound, http):
    _participant, certificate, app_user = bound
    revoke_certificate(certificate.serial, "keyCompromise")
    _present(http, certificate.certificate_pem)
    assert app_user.client_credentials().status_code == 401


def test_a_look_alike_certificate_not_signed_by_the_platform_gets_nothing(bound, http):
    _participant, certificate, app_user = bound
    issued = x509.load_pem_x509_certificate(certificate.certificate_pem.encode())
    key = ec.generate_private_key(ec.SECP256R1())
    forged = (
        x509.CertificateBuilder()
        .subject_name(issued.subject)
        .issuer_name(issued.issuer)
        .public_key(key.public_key())
        .serial_number(issued.serial_number)
        .not_valid_before(issued.not_valid_before_utc)
        .not_valid_after(issued.not_valid_after_utc)
        .sign(key, hashes.SHA256())
    )
    _present(http, forged.public_bytes(serialization.Encoding.PEM))
    assert app_user.client_credentials().status_code == 401
    _present(http, "not a certificate at all")
    assert app_user.client_credentials().status_code == 401


def test_without_a_tls_terminator_a_bound_app_is_refused(app, bound, http):
    _participant, certificate, app_user = bound
    settings = app.extensions["senim.settings"]
    app.extensions["senim.settings"] = settings.with_overrides(mtls_client_cert_header="")
    _present(http, certificate.certificate_pem)  # a header nobody vouches for is ignored
    assert app_user.client_credentials().status_code == 401


def test_only_the_api_users_own_mtls_certificates_can_be_bound(app, bound):
    participant, certificate, _app_user = bound
    client = db.session.scalar(db.select(Client).where(Client.client_id == "bound-app"))
    strangers = sign_csr(bank().id, _csr(), "mtls")
    signing = sign_csr(participant.id, _csr(), "signing")
    for serial in (strangers.serial, signing.serial, "ffff"):
        with pytest.raises(ClientRegistrationError):
            bind_certificates(client, [serial])
    assert client.bound_certificate_serials == [certificate.serial]
    bind_certificates(client, [])
    assert client.bound_certificate_serials is None


def test_an_unbound_app_needs_no_certificate(app, http, clock, behind_mtls):
    key = register(app, "plain-app", participant_id=fintech().id)
    assert (
        ApiUser(http=http, client_id="plain-app", key=key, now=clock.now).client_credentials().status_code
        == 200
    )
