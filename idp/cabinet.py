"""The customer's cabinet sessions: signed in with the same two factors as an authorization.

A cabinet session starts when the customer opens ``/cabinet`` without one: a
random secret goes to the browser as a cookie, the database keeps its hash.
The sign-in runs the steps of ``idp.customer_login`` on a login of its own
(keyed ``cabinet:<session id>``, never an interaction's); once both factors
are passed, the session is the customer's until it ends (sign-out) or
expires. Each request re-checks the factors through
``customer_login.authenticated_customer``.
"""

from __future__ import annotations

import hmac
import re
import secrets

from sqlalchemy import BigInteger, String, select
from sqlalchemy.orm import Mapped, mapped_column

from idp import customer_login
from idp.models import secret_hash
from senim import clock
from senim.audit import audit
from senim.database import db

CABINET_COOKIE = "senim_cabinet"
#: A session lasts this long from the moment it starts, signed in or not.
SESSION_TTL = 20 * 60
LOGIN_PREFIX = "cabinet:"
SESSION_ID_FORMAT = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class CabinetSession(db.Model):
    """One browser's visit to the cabinet: its sign-in, then its signed-in time."""

    __tablename__ = "cabinet_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_binding_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    ended_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    @property
    def login_id(self) -> str:
        return LOGIN_PREFIX + self.id


class SessionInvalid(Exception):
    """No live cabinet session for this browser (never started, ended, expired or another browser's)."""


def start_session() -> tuple[CabinetSession, str]:
    """A new session and the secret for the browser's cookie (only its hash is kept)."""
    browser_secret = secrets.token_urlsafe(32)
    now = clock.now_int()
    session = CabinetSession(
        id=secrets.token_urlsafe(24),
        browser_binding_hash=secret_hash(browser_secret),
        created_at=now,
        expires_at=now + SESSION_TTL,
    )
    db.session.add(session)
    db.session.commit()
    return session, browser_secret


def _live(session: CabinetSession | None) -> CabinetSession:
    if session is None or session.ended_at is not None or session.expires_at <= clock.now_int():
        raise SessionInvalid()
    return session


def session_of_browser(browser_secret: str | None) -> CabinetSession:
    """The live session this browser's cookie names."""
    if not browser_secret or len(browser_secret) > 128:
        raise SessionInvalid()
    return _live(
        db.session.scalar(
            select(CabinetSession).where(CabinetSession.browser_binding_hash == secret_hash(browser_secret))
        )
    )


def session_for_sign_in(session_id: str, browser_secret: str | None) -> CabinetSession:
    """The live session a sign-in page names, if it is this browser's."""
    if not SESSION_ID_FORMAT.match(session_id or ""):
        raise SessionInvalid()
    session = _live(db.session.get(CabinetSession, session_id))
    if not hmac.compare_digest(secret_hash(browser_secret or ""), session.browser_binding_hash):
        raise SessionInvalid()
    return session


def login_of(session: CabinetSession) -> customer_login.CustomerLogin:
    return customer_login.login_for(session.login_id)


def signed_in_customer(session: CabinetSession) -> str | None:
    """The IIN of the customer signed in to this session; None while the sign-in is not finished.

    Raises ``SessionInvalid`` (and ends the session) if the factors it was signed in with no longer hold.
    """
    login = login_of(session)
    if login.step != "authenticated":
        return None
    try:
        return customer_login.authenticated_customer(login)
    except customer_login.LoginRefused:  # the factors no longer hold: the session is over
        db.session.rollback()
        end_session(session)
        raise SessionInvalid() from None


def end_session(session: CabinetSession) -> None:
    session.ended_at = clock.now_int()
    db.session.commit()
    audit("cabinet.signed_out", session_id=session.id)
