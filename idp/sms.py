"""Sending SMS to the customer's phone on record: an interface, chosen by
settings (``SENIM_SMS_BACKEND``), with two real implementations.

- ``outbox`` (default for ``make run``): the message is stored in the
  database and shown on the development page ``/dev/sms``.
- ``twilio``: Twilio's Messages API through the official ``twilio`` client.

A sender never logs the message text (it carries the one-time code).
"""

from __future__ import annotations

import secrets
from typing import Protocol

from flask import Blueprint, current_app, render_template
from sqlalchemy import Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from senim import clock
from senim.database import db
from senim.settings import Settings


class SmsDeliveryFailed(Exception):
    """The message could not be handed to the SMS provider; safe to retry."""


class SmsSender(Protocol):
    def send(self, phone: str, text: str) -> str:
        """Send ``text`` to ``phone`` (E.164); returns the provider's message id."""


class OutboxMessage(db.Model):
    """An SMS kept in the database instead of being sent (development, demos)."""

    __tablename__ = "sms_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(Integer)


class OutboxSmsSender:
    def send(self, phone: str, text: str) -> str:
        message_id = f"outbox-{secrets.token_hex(8)}"
        db.session.add(
            OutboxMessage(message_id=message_id, phone=phone, text=text, created_at=clock.now_int())
        )
        db.session.flush()
        return message_id


class TwilioSmsSender:
    """Twilio's Messages API (``POST /2010-04-01/Accounts/{sid}/Messages.json``)."""

    def __init__(
        self, account_sid: str, auth_token: str, from_number: str, api_base: str | None = None
    ) -> None:
        from twilio.rest import Client

        self._client = Client(account_sid, auth_token)
        if api_base:
            # Another endpoint speaking Twilio's API (a regional proxy, a test stub).
            self._client.api.base_url = api_base
        self._from = from_number

    def send(self, phone: str, text: str) -> str:
        from twilio.base.exceptions import TwilioException

        try:
            message = self._client.messages.create(to=phone, from_=self._from, body=text)
        except (TwilioException, OSError) as error:
            # The provider's answer may quote the request; only its class is kept.
            raise SmsDeliveryFailed(type(error).__name__) from None
        return message.sid


def sms_sender_from_settings(settings: Settings) -> SmsSender:
    if settings.sms_backend == "twilio":
        return TwilioSmsSender(
            settings.twilio_account_sid or "",
            settings.twilio_auth_token or "",
            settings.twilio_from_number or "",
            settings.twilio_api_base,
        )
    return OutboxSmsSender()


def sms_sender() -> SmsSender:
    return current_app.extensions["senim.sms_sender"]


# -- the development outbox page ----------------------------------------------------
dev_sms_bp = Blueprint("dev_sms", __name__, template_folder="templates")


@dev_sms_bp.get("/dev/sms")
def outbox_page() -> str:
    """The outbox, newest first. Registered only when SENIM_ENV=development."""
    messages = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(50)).all()
    return render_template("idp/dev_sms.html", messages=messages)
