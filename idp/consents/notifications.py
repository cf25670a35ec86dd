"""Telling the API user: a consent that ends (Rejected, Revoked, Expired) is
announced to the client's notification URI as a signed Security Event Token.

The pilot requires API users to delete the data they hold when a consent is
revoked; the event is what tells them. So an event is never lost:

1. ``enqueue`` (called by ``lifecycle.change_status``) adds a row to the
   outbox (``security_events``) in the transaction that changes the consent:
   the event exists if and only if the change was committed.
2. ``deliver_due`` sends what is due. Each event is first *claimed* with a
   conditional UPDATE (its ``next_attempt_at`` moved a lease ahead, only if
   nobody moved it meanwhile) and committed, so two workers never send one
   event at once; a worker that dies mid-way leaves the event due again when
   the lease runs out. The SET is built and signed at sending time (the key
   that signs now, published at /jwks) with the event's id as ``jti`` on
   every attempt, so receivers de-duplicate by ``jti``.
3. Accepted (2xx, RFC 8935 §2.2): ``delivered_at`` is set, never sent again.
   Anything else: ``attempts`` + 1, ``last_error``, and the next attempt
   backed off (30 s, doubling, at most an hour). Never dropped: an event is
   retried until its receiver accepts it (``senim notifications list
   --pending`` shows what waits, and why).

Every attempt is audited (``consent_event.delivered`` /
``consent_event.delivery_failed``). The format and the contract for
receivers: docs/consent-events.md.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import select, update

from idp.client_keys import NotAPublicAddress, check_public_destination
from idp.clients import ClientRegistrationError, validate_notification_uri
from idp.consents.models import EXPIRED, REJECTED, REVOKED, Consent, ConsentStatusChange, SecurityEvent
from idp.models import Client
from idp.rfc8417_security_event_token import opaque_subject, security_event_claims, sign_security_event
from idp.rfc8935_push_delivery import PushResult, push_security_event
from senim import clock
from senim.audit import audit
from senim.database import db

logger = logging.getLogger(__name__)

#: Senim's own event types (RFC 8417 §2.2: a URI naming the kind of event), one per ending.
EVENT_TYPE_BASE = "https://senim.kz/secevents/consent/"
EVENT_TYPES = {
    REVOKED: EVENT_TYPE_BASE + "revoked",
    EXPIRED: EVENT_TYPE_BASE + "expired",
    REJECTED: EVENT_TYPE_BASE + "rejected",
}

#: Seconds before the first retry; doubled after each failure, up to MAX_RETRY_DELAY.
FIRST_RETRY_DELAY = 30
MAX_RETRY_DELAY = 3600
#: How long a claimed event belongs to the worker sending it (far longer than one POST may take).
CLAIM_LEASE = 60
#: Events one round sends at most.
BATCH_SIZE = 100


# -- writing the outbox ----------------------------------------------------------------------
def enqueue(consent: Consent, change: ConsentStatusChange) -> SecurityEvent | None:
    """Add the event of this status change to the outbox, in the caller's transaction.

    Only endings are told, and only to clients with a notification URI.
    """
    event_type = EVENT_TYPES.get(change.to_status)
    if event_type is None:
        return None
    # no autoflush: the consent's own pending change is flushed by the caller's commit
    with db.session.no_autoflush:
        uri = db.session.scalar(select(Client.notification_uri).where(Client.client_id == consent.client_id))
    if not uri:
        return None
    event = SecurityEvent(
        id=str(uuid.uuid4()),
        client_id=consent.client_id,
        consent_id=consent.id,
        event_type=event_type,
        status=change.to_status,
        reason=change.reason,
        occurred_at=change.at,
        attempts=0,
        next_attempt_at=change.at,
    )
    db.session.add(event)
    return event


# -- the SET ------------------------------------------------------------------------------------
def security_event_token(event: SecurityEvent) -> str:
    """The event as a signed SET (RFC 8417); only identifiers, never the customer or their data."""
    claims = security_event_claims(
        jti=event.id,
        audience=event.client_id,
        issued_at=clock.now_int(),
        event_type=event.event_type,
        event={
            "consent_id": event.consent_id,
            "status": event.status,
            "reason": event.reason,
            "occurred_at": event.occurred_at,
        },
        subject=opaque_subject(event.consent_id),
        time_of_event=event.occurred_at,
    )
    return sign_security_event(claims)


# -- delivering it ------------------------------------------------------------------------------
def retry_delay(attempts: int) -> int:
    """Seconds to wait after the ``attempts``-th failed attempt: 30, 60, 120, … at most an hour."""
    return min(FIRST_RETRY_DELAY * 2 ** min(max(attempts - 1, 0), 16), MAX_RETRY_DELAY)


@dataclass
class DeliveryRound:
    """What one ``deliver_due`` did."""

    delivered: int = 0
    failed: int = 0
    due: int = 0  # events found due (some may have been taken by another worker)

    @property
    def attempted(self) -> int:
        return self.delivered + self.failed


def deliver_due(limit: int = BATCH_SIZE) -> DeliveryRound:
    """Send every event that is due now (at most ``limit``), each claimed and committed on its own."""
    now = clock.now_int()
    due = db.session.execute(
        select(SecurityEvent.id, SecurityEvent.next_attempt_at)
        .where(SecurityEvent.delivered_at.is_(None), SecurityEvent.next_attempt_at <= now)
        .order_by(SecurityEvent.next_attempt_at, SecurityEvent.id)
        .limit(limit)
    ).all()
    db.session.commit()  # no transaction stays open while receivers answer
    done = DeliveryRound(due=len(due))
    for event_id, seen_next_attempt_at in due:
        if not claim(event_id, seen_next_attempt_at):
            continue  # another worker has it
        if deliver_claimed(event_id):
            done.delivered += 1
        else:
            done.failed += 1
    return done


def deliver_all_due() -> DeliveryRound:
    """Rounds of ``deliver_due`` until no full batch is left (each event is tried once at most)."""
    total = DeliveryRound()
    while True:
        done = deliver_due()
        total.delivered += done.delivered
        total.failed += done.failed
        total.due += done.due
        if done.due < BATCH_SIZE or done.attempted == 0:
            return total


def claim(event_id: str, seen_next_attempt_at: int) -> bool:
    """Take the event for one attempt, unless another worker took (or delivered) it since it was read.

    The lease is the new ``next_attempt_at``: if this worker never reports
    back, the event is due again when the lease ends.
    """
    claimed = db.session.execute(
        update(SecurityEvent)
        .where(
            SecurityEvent.id == event_id,
            SecurityEvent.next_attempt_at == seen_next_attempt_at,
            SecurityEvent.delivered_at.is_(None),
        )
        .values(next_attempt_at=clock.now_int() + CLAIM_LEASE)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return claimed.rowcount == 1


def deliver_claimed(event_id: str) -> bool:
    """One attempt at a claimed event; records and audits its outcome. True when accepted."""
    event = db.session.get(SecurityEvent, event_id, populate_existing=True)
    uri = db.session.scalar(select(Client.notification_uri).where(Client.client_id == event.client_id))
    db.session.commit()
    try:
        result = _attempt(event, uri)
    except Exception as error:  # one broken event must not stop the others (logged)
        logger.exception("consent event %s could not be sent", event_id)
        db.session.rollback()
        result = PushResult(accepted=False, error=f"internal {type(error).__name__}")
    _record(event, result)
    return result.accepted


def _attempt(event: SecurityEvent, uri: str | None) -> PushResult:
    if not uri:
        # kept, not dropped: it goes out once the client registers an address again
        return PushResult(accepted=False, error="no notification URI registered")
    production = current_app.extensions["senim.settings"].production
    try:
        # checked again at sending: only an address that passes today's rules is called,
        # and in production only one whose name resolves to public addresses (SSRF)
        validate_notification_uri(uri, production)
        if production:
            check_public_destination(uri)
    except (ClientRegistrationError, NotAPublicAddress):
        return PushResult(accepted=False, error="notification URI not allowed")
    return push_security_event(uri, security_event_token(event))


def _record(event: SecurityEvent, result: PushResult) -> None:
    now = clock.now_int()
    attempt = event.attempts + 1
    values: dict = {"attempts": SecurityEvent.attempts + 1}
    if result.accepted:
        values.update(delivered_at=now, last_error=None)
    else:
        values.update(last_error=(result.error or "failed")[:200], next_attempt_at=now + retry_delay(attempt))
    db.session.execute(
        update(SecurityEvent)
        .where(SecurityEvent.id == event.id, SecurityEvent.delivered_at.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    fields = {
        "event_id": event.id,
        "event_type": event.event_type,
        "consent_id": event.consent_id,
        "client_id": event.client_id,
        "attempt": attempt,
        "http_status": result.http_status,
    }
    if result.accepted:
        audit("consent_event.delivered", **fields)
    else:
        audit(
            "consent_event.delivery_failed",
            outcome="failed",
            error=values["last_error"],
            next_attempt_at=values["next_attempt_at"],
            **fields,
        )


# -- reading the outbox ------------------------------------------------------------------------
def list_events(*, pending_only: bool = False, limit: int = 1000) -> list[SecurityEvent]:
    """Events, oldest first; ``pending_only``: those not yet accepted."""
    query = select(SecurityEvent).order_by(SecurityEvent.occurred_at, SecurityEvent.id).limit(limit)
    if pending_only:
        query = query.where(SecurityEvent.delivered_at.is_(None))
    return list(db.session.scalars(query))


def event_record(event: SecurityEvent) -> dict:
    """An event as operators see it (``senim notifications list``)."""
    return {
        "id": event.id,
        "client_id": event.client_id,
        "consent_id": event.consent_id,
        "event_type": event.event_type,
        "occurred_at": event.occurred_at,
        "attempts": event.attempts,
        "next_attempt_at": None if event.delivered_at is not None else event.next_attempt_at,
        "delivered_at": event.delivered_at,
        "last_error": event.last_error,
    }


# -- running it ------------------------------------------------------------------------------------
def delivery_loop(
    app: Flask,
    interval: float,
    stop: threading.Event,
    on_round: Callable[[DeliveryRound], None] | None = None,
) -> None:
    """Deliver what is due every ``interval`` seconds until ``stop`` is set."""
    while not stop.is_set():
        try:
            with app.app_context():
                done = deliver_due()
            if on_round is not None:
                on_round(done)
        except Exception:  # e.g. the database restarting: logged, tried again next round
            logger.exception("consent event delivery round failed")
        stop.wait(interval)


class DeliveryThread:
    """Delivery in a daemon thread of this process (each ``senim run`` worker), until stopped."""

    def __init__(self, app: Flask, interval: float) -> None:
        self._stop = threading.Event()
        self.thread = threading.Thread(
            target=delivery_loop,
            args=(app, interval, self._stop),
            name="senim-consent-events",
            daemon=True,
        )

    def start(self) -> DeliveryThread:
        self.thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self.thread.join(timeout)


def start_delivery_thread(app: Flask, interval: float) -> DeliveryThread | None:
    """Start delivering every ``interval`` seconds in the background; ``interval`` 0: not at all."""
    if interval <= 0:
        return None
    return DeliveryThread(app, interval).start()
