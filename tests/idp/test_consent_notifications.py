"""Telling the API user: every consent ending becomes a signed SET, POSTed to
its notification URI from the outbox, retried until accepted, each attempt
audited. The receiver is a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, select, text

from idp.clients import set_notification_uri
from idp.consents.lifecycle import AUTHORISATION_WINDOW, change_status, settle_due_consents
from idp.consents.models import AUTHORISED, Consent, SecurityEvent
from idp.consents.notifications import (
    CLAIM_LEASE,
    EVENT_TYPES,
    claim,
    deliver_due,
    retry_delay,
    start_delivery_thread,
)
from senim.database import db
from tests.support.api_user import ISSUER, ApiUser
from tests.support.audit_log import AuditLines
from tests.support.consents import add_banks, consent_body
from tests.support.set_receiver import (
    ACCEPT,
    FAIL,
    REDIRECT,
    REFUSAL_DESCRIPTION,
    REFUSE,
    SetReceiver,
    verify_set,
)

REVOKED_TYPE = "https://senim.kz/secevents/consent/revoked"
REJECTED_TYPE = "https://senim.kz/secevents/consent/rejected"
EXPIRED_TYPE = "https://senim.kz/secevents/consent/expired"
CUSTOMER_IIN = "880101300123"


@pytest.fixture
def receiver():
    receiver = SetReceiver()
    yield receiver
    receiver.down()


@pytest.fixture
def told_api_user(app, api_user: ApiUser, receiver: SetReceiver) -> ApiUser:
    """The API user's client, with the receiver registered as its notification URI."""
    set_notification_uri(api_user.client_id, receiver.url, production=False)
    return api_user


@pytest.fixture
def banks(app) -> list[str]:
    return add_banks(2)


def _create_consent(api_user: ApiUser, banks: list[str], clock, **data) -> str:
    answer = api_user.call(
        "POST", "/consents", api_user.consents_token(), json=consent_body(clock.now(), banks, **data)
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["Data"]["ConsentId"]


def _authorise(consent_id: str) -> None:
    """What the customer's approval does (the consent step), without the login pages."""
    consent = db.session.get(Consent, consent_id)
    consent.customer_iin = CUSTOMER_IIN
    consent.authorised_provider_ids = list(consent.provider_ids)
    change_status(consent, AUTHORISED, actor="customer", reason="CUSTOMER_AUTHORISED")
    db.session.commit()


def _end(api_user: ApiUser, consent_id: str) -> None:
    answer = api_user.call("DELETE", f"/consents/{consent_id}", api_user.consents_token())
    assert answer.status_code == 204


def _events() -> list[SecurityEvent]:
    return list(db.session.scalars(select(SecurityEvent).execution_options(populate_existing=True)))


def _only_event() -> SecurityEvent:
    [event] = _events()
    return event


def _jwks(http) -> dict:
    return http.get("/jwks").get_json()


# -- which changes are told -----------------------------------------------------------------------
def test_revocation_by_the_api_user_is_told_with_a_signed_event(
    told_api_user, receiver, banks, clock, http
) -> None:
    consent_id = _create_consent(told_api_user, banks, clock)
    _authorise(consent_id)
    assert _events() == []  # authorising is not an ending: nothing to tell
    _end(told_api_user, consent_id)

    event = _only_event()
    assert (event.consent_id, event.client_id, event.event_type) == (consent_id, "app-1", REVOKED_TYPE)
    assert deliver_due().delivered == 1
    [received] = receiver.received
    assert received.path == "/senim-events"
    assert received.headers["Content-Type"] == "application/secevent+jwt"
    assert received.headers["Accept"] == "application/json"

    token = verify_set(received.body, _jwks(http))
    assert token.header["typ"] == "secevent+jwt"
    assert token.header["kid"] in {key["kid"] for key in _jwks(http)["keys"]}
    occurred_at = db.session.get(Consent, consent_id).status_updated_at
    assert token.claims == {
        "iss": ISSUER,
        "aud": "app-1",
        "iat": int(clock.now()),
        "jti": event.id,
        "toe": occurred_at,
        "sub_id": {"format": "opaque", "id": consent_id},
        "events": {
            REVOKED_TYPE: {
                "consent_id": consent_id,
                "status": "Revoked",
                "reason": "API_USER_ENDED",
                "occurred_at": occurred_at,
            }
        },
    }
    assert CUSTOMER_IIN not in json.dumps(token.claims)  # never the customer, never their data
    event = _only_event()
    assert (event.delivered_at, event.attempts, event.last_error) == (int(clock.now()), 1, None)


def test_ending_a_consent_still_awaiting_authorisation_is_told_as_rejected(
    told_api_user, receiver, banks, clock
) -> None:
    consent_id = _create_consent(told_api_user, banks, clock)
    _end(told_api_user, consent_id)
    event = _only_event()
    assert (event.event_type, event.status, event.reason) == (REJECTED_TYPE, "Rejected", "API_USER_ENDED")


def test_a_consent_not_authorised_in_time_is_told_as_rejected(told_api_user, receiver, banks, clock) -> None:
    consent_id = _create_consent(told_api_user, banks, clock)
    clock.advance(AUTHORISATION_WINDOW - 1)
    settle_due_consents()
    assert _events() == []
    clock.advance(1)
    settle_due_consents()
    event = _only_event()
    assert (event.consent_id, event.event_type, event.reason) == (
        consent_id,
        REJECTED_TYPE,
        "NOT_AUTHORISED_IN_TIME",
    )
    assert deliver_due().delivered == 1
    [body] = receiver.tokens()
    assert verify_set(body, _jwks(told_api_user.http)).claims["events"][REJECTED_TYPE]["status"] == "Rejected"


def test_an_authorised_consent_past_its_expiry_is_told_as_expired(
    told_api_user, receiver, banks, clock
) -> None:
    consent_id = _create_consent(told_api_user, banks, clock)
    _authorise(consent_id)
    expires_at = db.session.get(Consent, consent_id).expires_at
    clock.advance(expires_at - clock.now())
    settle_due_consents()
    event = _only_event()
    assert (event.event_type, event.status, event.reason) == (EXPIRED_TYPE, "Expired", "EXPIRED")
    assert event.occurred_at == expires_at


def test_every_ending_has_its_own_event_type() -> None:
    assert EVENT_TYPES == {"Revoked": REVOKED_TYPE, "Expired": EXPIRED_TYPE, "Rejected": REJECTED_TYPE}


def test_a_client_without_a_notification_uri_is_not_told(api_user, banks, clock) -> None:
    consent_id = _create_consent(api_user, banks, clock)
    _authorise(consent_id)
    _end(api_user, consent_id)
    assert db.session.get(Consent, consent_id).status == "Revoked"
    assert _events() == []


def test_the_event_is_rolled_back_with_a_status_change_that_fails(app, told_api_user, banks, clock) -> None:
    from idp.consents.service import end_by_api_user

    consent_id = _create_consent(told_api_user, banks, clock)
    _authorise(consent_id)
    consent = db.session.get(Consent, consent_id)
    # another node changes the consent meanwhile: this change is stale and must not commit
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with engine.begin() as other:
        other.execute(text("UPDATE consents SET version = version + 1 WHERE id = :id"), {"id": consent_id})
    engine.dispose()
    from sqlalchemy.orm.exc import StaleDataError

    with pytest.raises(StaleDataError):
        end_by_api_user(consent, "app-1")
    db.session.rollback()
    assert _events() == []
    assert db.session.get(Consent, consent_id, populate_existing=True).status == "Authorised"


def test_a_settle_that_loses_a_race_leaves_no_event(app, told_api_user, banks, clock) -> None:
    from idp.consents.lifecycle import settle

    consent_id = _create_consent(told_api_user, banks, clock)
    consent = db.session.get(Consent, consent_id)
    clock.advance(AUTHORISATION_WINDOW)
    # another node settles it first (its own event is its own business)
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with engine.begin() as other:
        other.execute(
            text("UPDATE consents SET version = version + 1, status = 'Rejected' WHERE id = :id"),
            {"id": consent_id},
        )
    engine.dispose()
    assert settle(consent).status == "Rejected"  # what the other node wrote, read back
    assert _events() == []


# -- delivery: retried until accepted ------------------------------------------------------------
def test_notifications_are_retried_until_accepted(told_api_user, receiver, banks, clock) -> None:
    consent_id = _create_consent(told_api_user, banks, clock)
    _authorise(consent_id)
    _end(told_api_user, consent_id)
    event_id = _only_event().id

    with AuditLines() as audit:
        # 1. the receiver is down: the attempt is recorded and the next one backed off
        receiver.down()
        start = int(clock.now())
        assert deliver_due().failed == 1
        event = _only_event()
        assert (event.attempts, event.delivered_at) == (1, None)
        assert event.last_error == "ConnectionError"
        assert event.next_attempt_at == start + 30

        # 2. not retried before its time
        receiver.up(FAIL)
        clock.advance(29)
        assert deliver_due().attempted == 0
        assert receiver.received == [] and _only_event().attempts == 1

        # 3. retried at its time; the receiver answers 503: backed off again, twice as long
        clock.advance(1)
        assert deliver_due().failed == 1
        event = _only_event()
        assert (event.attempts, event.last_error, event.delivered_at) == (2, "HTTP 503", None)
        assert event.next_attempt_at == start + 30 + 60
        clock.advance(59)
        assert deliver_due().attempted == 0

        # 4. the receiver accepts: delivered once, with the same jti as the failed attempt
        receiver.up(ACCEPT)
        clock.advance(1)
        assert deliver_due().delivered == 1
        event = _only_event()
        assert (event.attempts, event.last_error, event.delivered_at) == (3, None, int(clock.now()))
        jwks = _jwks(told_api_user.http)
        assert [verify_set(body, jwks).claims["jti"] for body in receiver.tokens()] == [event_id, event_id]

        # 5. never sent again
        clock.advance(24 * 3600)
        assert deliver_due().attempted == 0
        assert len(receiver.received) == 2

    failed = audit.events("consent_event.delivery_failed")
    delivered = audit.events("consent_event.delivered")
    assert [(e["attempt"], e["http_status"], e["error"]) for e in failed] == [
        (1, None, "ConnectionError"),
        (2, 503, "HTTP 503"),
    ]
    assert all(e["outcome"] == "failed" for e in failed)
    assert [(e["attempt"], e["http_status"]) for e in delivered] == [(3, 202)]
    for line in failed + delivered:
        assert (line["event_id"], line["consent_id"], line["client_id"]) == (event_id, consent_id, "app-1")
    assert "eyJ" not in audit.text()  # the SET itself is never logged
    assert "secret-detail" not in audit.text()  # nor what the receiver answered


def test_the_delay_between_attempts_doubles_up_to_an_hour() -> None:
    assert [retry_delay(n) for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert retry_delay(10_000) == 3600


@pytest.mark.parametrize(
    ("err", "kept"),
    [("invalid_key", "HTTP 400 invalid_key"), ("customer 880101300123 unknown", "HTTP 400")],
)
def test_a_refusal_keeps_its_registered_error_code_and_never_its_text(
    told_api_user, receiver, banks, clock, err, kept
) -> None:
    receiver.mode = REFUSE
    receiver.refusal_err = err
    _end(told_api_user, _create_consent(told_api_user, banks, clock))
    with AuditLines() as audit:
        assert deliver_due().failed == 1
    event = _only_event()
    assert event.last_error == kept
    assert event.delivered_at is None
    assert REFUSAL_DESCRIPTION not in audit.text()
    [line] = audit.events("consent_event.delivery_failed")
    assert (line["http_status"], line["error"]) == (400, kept)


def test_a_redirect_is_not_followed(told_api_user, receiver, banks, clock) -> None:
    elsewhere = SetReceiver()
    try:
        receiver.mode = REDIRECT
        receiver.redirect_to = elsewhere.url
        _end(told_api_user, _create_consent(told_api_user, banks, clock))
        assert deliver_due().failed == 1
        assert _only_event().last_error == "HTTP 307"
        assert elsewhere.received == []
    finally:
        elsewhere.down()


def test_an_event_waits_while_the_client_has_no_notification_uri(
    told_api_user, receiver, banks, clock
) -> None:
    _end(told_api_user, _create_consent(told_api_user, banks, clock))
    set_notification_uri("app-1", None, production=False)
    assert deliver_due().failed == 1
    event = _only_event()
    assert (event.delivered_at, event.last_error) == (None, "no notification URI registered")
    assert receiver.received == []

    set_notification_uri("app-1", receiver.url, production=False)
    clock.advance(retry_delay(1))
    assert deliver_due().delivered == 1
    assert len(receiver.received) == 1


def test_an_address_no_longer_allowed_is_not_called(app, told_api_user, receiver, banks, clock) -> None:
    _end(told_api_user, _create_consent(told_api_user, banks, clock))
    settings = app.extensions["senim.settings"]
    app.extensions["senim.settings"] = settings.with_overrides(environment="production")
    try:
        assert deliver_due().failed == 1  # http to loopback is for development only
    finally:
        app.extensions["senim.settings"] = settings
    assert _only_event().last_error == "notification URI not allowed"
    assert receiver.received == []


def test_a_claimed_event_is_sent_by_one_worker_only_and_again_after_a_crash(
    told_api_user, receiver, banks, clock
) -> None:
    _end(told_api_user, _create_consent(told_api_user, banks, clock))
    event = _only_event()
    seen = event.next_attempt_at
    assert claim(event.id, seen) is True
    assert claim(event.id, seen) is False  # a second worker that read the same row gets nothing
    # the first worker dies before sending: nobody sends until its lease ends, then someone does
    assert deliver_due().attempted == 0
    clock.advance(CLAIM_LEASE)
    assert deliver_due().delivered == 1
    assert len(receiver.received) == 1


def test_the_background_thread_delivers_and_stops(app, told_api_user, receiver, banks, clock) -> None:
    assert start_delivery_thread(app, 0) is None  # SENIM_NOTIFY_INTERVAL=0: no thread
    _end(told_api_user, _create_consent(told_api_user, banks, clock))
    db.session.commit()
    delivery = start_delivery_thread(app, 0.05)
    try:
        assert receiver.arrived.wait(10), "the background thread delivered nothing"
    finally:
        delivery.stop(10)
    assert not delivery.thread.is_alive()
    assert len(receiver.received) == 1
