"""`senim purge`: expired short-lived state goes, live state stays."""

from __future__ import annotations

from sqlalchemy import select

from idp.customer_login import CustomerLogin
from idp.models import Interaction
from senim.database import db
from senim.maintenance import KEEP_EXPIRED_SECONDS, purge_expired_state
from tests.support.flow import start


def test_expired_interactions_go_with_their_customer_logins(app, api_user, clock) -> None:
    old = start(api_user)
    db.session.add(CustomerLogin(interaction_id=old, created_at=int(clock.now()), iin="900101300017"))
    db.session.commit()
    clock.advance(600 + KEEP_EXPIRED_SECONDS + 1)
    fresh = start(api_user)
    db.session.add(CustomerLogin(interaction_id=fresh, created_at=int(clock.now())))
    db.session.commit()

    counts = purge_expired_state()

    assert counts["interactions"] == 1 and counts["customer_logins"] == 1
    assert db.session.scalars(select(Interaction.id)).all() == [fresh]
    assert db.session.scalars(select(CustomerLogin.interaction_id)).all() == [fresh]
