"""The participants' inbox: messages the platform leaves for a participant (its API
suspended by a failed re-check, published again, refused at submission…), shown
in its cabinet. Messages are never deleted; reading one marks it read.

A message names the API and the checks that failed, never account data or
secrets: the cabinet may show it to any of the participant's staff.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from registry.models import ParticipantNotification
from senim import clock
from senim.database import db

MAX_SUBJECT = 200
MAX_BODY = 4000
MAX_LISTED = 500


class NotificationError(ValueError):
    """A notification cannot be found or changed as asked; ``str(error)`` says why."""


def notify_participant(participant_id: str, kind: str, subject: str, body: str) -> ParticipantNotification:
    """Leave a message for a participant (committed with the caller's other changes)."""
    notification = ParticipantNotification(
        id=str(uuid.uuid4()),
        participant_id=participant_id,
        kind=kind[:64],
        subject=subject[:MAX_SUBJECT],
        body=body[:MAX_BODY],
        created_at=clock.now_int(),
    )
    db.session.add(notification)
    return notification


def list_notifications(
    participant_id: str, *, unread_only: bool = False, limit: int = 100
) -> list[ParticipantNotification]:
    """A participant's messages, newest first."""
    query = select(ParticipantNotification).where(ParticipantNotification.participant_id == participant_id)
    if unread_only:
        query = query.where(ParticipantNotification.read_at.is_(None))
    query = query.order_by(ParticipantNotification.created_at.desc(), ParticipantNotification.id.desc())
    return list(db.session.scalars(query.limit(max(1, min(limit, MAX_LISTED)))))


def mark_read(participant_id: str, notification_id: str) -> ParticipantNotification:
    """Mark one of the participant's messages read (reading it again changes nothing)."""
    notification = (
        db.session.get(ParticipantNotification, notification_id)
        if isinstance(notification_id, str) and len(notification_id) <= 36
        else None
    )
    # another participant's message is "not found": its existence is not told
    if notification is None or notification.participant_id != participant_id:
        raise NotificationError(f"no notification {notification_id}")
    if notification.read_at is None:
        notification.read_at = clock.now_int()
        db.session.commit()
    return notification
