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


def test_old_factor_challenges_are_forgotten(app, clock) -> None:
    from biometrics.models import BiometricChallenge
    from idp.otp import OtpChallenge

    now = int(clock.now())
    for age, suffix in ((KEEP_EXPIRED_SECONDS + 200, "old"), (10, "new")):
        db.session.add(
            BiometricChallenge(
                id=f"face-{suffix}",
                iin="900101300017",
                poses=["left", "up"],
                turn_degrees=15.0,
                nonce=suffix,
                issued_at=now - age - 90,
                deadline=now - age,
            )
        )
        db.session.add(
            OtpChallenge(
                id=f"code-{suffix}",
                subject="900101300017",
                phone="+77010000001",
                code_hash="0" * 64,
                created_at=now - age - 300,
                expires_at=now - age,
                attempts=0,
            )
        )
    db.session.commit()

    counts = purge_expired_state()

    assert counts["biometric_challenges"] == 1 and counts["otp_challenges"] == 1
    assert db.session.scalars(select(BiometricChallenge.id)).all() == ["face-new"]
    assert db.session.scalars(select(OtpChallenge.id)).all() == ["code-new"]


def test_cabinet_sessions_keep_their_logins_until_they_are_old(app, clock) -> None:
    from idp.cabinet import SESSION_TTL, CabinetSession, login_of, start_session

    old, _secret = start_session()
    login_of(old)
    clock.advance(SESSION_TTL + KEEP_EXPIRED_SECONDS + 1)
    live, _secret = start_session()
    login_of(live)

    counts = purge_expired_state()

    assert counts["cabinet_sessions"] == 1 and counts["customer_logins"] == 1
    assert db.session.scalars(select(CabinetSession.id)).all() == [live.id]
    assert db.session.scalars(select(CustomerLogin.interaction_id)).all() == [f"cabinet:{live.id}"]
