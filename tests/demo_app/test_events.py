"""Qarjy's RFC 8935 receiver: the platform's signed consent events delete what Qarjy held.

The SETs are signed by the live platform itself (``idp.rfc8417_security_event_token``)
and verified by Qarjy against the platform's ``/jwks`` over HTTP; forged ones
are signed with another key, or name another audience or issuer.
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey

from demo_app.store import Connection
from tests.interop.conftest import LiveServer
from tests.support.demo_app import HTTP_TIMEOUT, QARJY_CLIENT_ID, Qarjy

REVOKED = "https://senim.kz/secevents/consent/revoked"
BROWSER = "browser-1"


def _hold(qarjy: Qarjy, consent_id: str, browser: str = BROWSER) -> None:
    """Qarjy holds tokens and one bank's data under ``consent_id``."""
    key = ECKey.generate_key("P-256").as_dict(private=True)
    qarjy.store.save_connection(
        Connection(
            consent_id, browser, ["bank-1"], key, "access-token", "refresh-token", int(time.time()), None
        )
    )
    qarjy.store.save_bank_data(consent_id, "bank-1", {"accounts": [{"account": {"AccountId": "a1"}}]})


def _claims(live: LiveServer, consent_id: str, **overrides: object) -> dict:
    from idp.rfc8417_security_event_token import opaque_subject, security_event_claims

    with live.app.app_context():
        claims = security_event_claims(
            jti=str(uuid.uuid4()),
            audience=QARJY_CLIENT_ID,
            issued_at=int(time.time()),
            event_type=REVOKED,
            event={
                "consent_id": consent_id,
                "status": "Revoked",
                "reason": "CUSTOMER_REVOKED",
                "occurred_at": int(time.time()),
            },
            subject=opaque_subject(consent_id),
            time_of_event=int(time.time()),
        )
    claims.update(overrides)
    return claims


def _signed_by_platform(live: LiveServer, claims: dict) -> str:
    from idp.rfc8417_security_event_token import sign_security_event

    with live.app.app_context():
        return sign_security_event(claims)


def _push(qarjy: Qarjy, body: str, content_type: str = "application/secevent+jwt") -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False
        return session.post(
            f"{qarjy.base_url}/events",
            data=body.encode(),
            headers={"Content-Type": content_type, "Accept": "application/json"},
            timeout=HTTP_TIMEOUT,
        )


def test_a_revocation_event_deletes_everything_held_under_the_consent(
    live_server: LiveServer, qarjy: Qarjy
) -> None:
    _hold(qarjy, "consent-revoked")
    _hold(qarjy, "consent-other")
    claims = _claims(live_server, "consent-revoked")

    answer = _push(qarjy, _signed_by_platform(live_server, claims))

    assert answer.status_code == 202
    assert not qarjy.store.holds_anything_under("consent-revoked")
    assert qarjy.store.holds_anything_under("consent-other")  # only that consent's data
    assert qarjy.store.notices(BROWSER) == ["revoked_in_senim"]
    # The platform retries until it reads a 2xx: the same event again is accepted, told once.
    again = _push(qarjy, _signed_by_platform(live_server, claims))
    assert again.status_code == 202
    assert qarjy.store.notices(BROWSER) == ["revoked_in_senim"]


def test_an_event_for_a_consent_qarjy_holds_nothing_under_is_accepted(
    live_server: LiveServer, qarjy: Qarjy
) -> None:
    answer = _push(qarjy, _signed_by_platform(live_server, _claims(live_server, "never-seen")))
    assert answer.status_code == 202


def _forged_signature(live: LiveServer, claims: dict) -> str:
    # Another key, claiming the kid of the platform's key: the signature cannot verify.
    with requests.Session() as session:
        session.trust_env = False
        platform_kid = session.get(f"{live.issuer}/jwks", timeout=HTTP_TIMEOUT).json()["keys"][0]["kid"]
    header = {"typ": "secevent+jwt", "alg": "ES256", "kid": platform_kid}
    return jwt.encode(header, claims, ECKey.generate_key("P-256"))


def _unknown_key(live: LiveServer, claims: dict) -> str:
    header = {"typ": "secevent+jwt", "alg": "ES256", "kid": "not-a-platform-key"}
    return jwt.encode(header, claims, ECKey.generate_key("P-256"))


@pytest.mark.parametrize(
    ("make", "err"),
    [
        (lambda live, c: _forged_signature(live, c), "invalid_key"),
        (lambda live, c: _unknown_key(live, c), "invalid_key"),
        (lambda live, c: _signed_by_platform(live, {**c, "aud": "another-client"}), "invalid_audience"),
        (
            lambda live, c: _signed_by_platform(live, {**c, "iss": "https://not-senim.example"}),
            "invalid_issuer",
        ),
    ],
    ids=["bad-signature", "unknown-key", "wrong-audience", "wrong-issuer"],
)
def test_a_set_that_does_not_verify_is_refused_and_deletes_nothing(
    live_server: LiveServer, qarjy: Qarjy, make, err: str
) -> None:
    _hold(qarjy, "consent-kept")
    answer = _push(qarjy, make(live_server, _claims(live_server, "consent-kept")))

    assert answer.status_code == 400
    assert answer.json()["err"] == err  # RFC 8935 §2.4
    assert qarjy.store.holds_anything_under("consent-kept")
    assert qarjy.store.notices(BROWSER) == []


def test_an_access_token_or_plain_body_is_not_taken_for_a_set(live_server: LiveServer, qarjy: Qarjy) -> None:
    _hold(qarjy, "consent-kept")
    claims = _claims(live_server, "consent-kept")
    from idp.signing import sign

    with live_server.app.app_context():
        not_a_set = sign(claims, "at+jwt")  # signed by the platform, but not typed as a SET

    refused = [
        _push(qarjy, not_a_set),
        _push(qarjy, "not a jwt"),
        _push(qarjy, _signed_by_platform(live_server, claims), content_type="application/jwt"),
    ]

    assert [(r.status_code, r.json()["err"]) for r in refused] == [(400, "invalid_request")] * 3
    assert qarjy.store.holds_anything_under("consent-kept")
