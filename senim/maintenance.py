"""Housekeeping of short-lived state."""

from __future__ import annotations

from sqlalchemy import String, delete, literal, select

from biometrics.models import BiometricChallenge
from idp.cabinet import LOGIN_PREFIX, CabinetSession
from idp.consents.lifecycle import settle_due_consents
from idp.customer_login import CustomerLogin
from idp.models import Interaction, PushedAuthorizationRequest
from idp.otp import OtpChallenge
from idp.replay import purge_expired
from senim import clock
from senim.database import db

#: Expired pushed requests and interactions are kept this long for support questions.
KEEP_EXPIRED_SECONDS = 24 * 3600


def purge_expired_state() -> dict[str, int]:
    now = clock.now_int()
    cutoff = now - KEEP_EXPIRED_SECONDS
    counts = {"seen_jtis": purge_expired(now), "consents_settled": settle_due_consents()}
    old_interactions = db.session.execute(delete(Interaction).where(Interaction.expires_at < cutoff))
    counts["interactions"] = old_interactions.rowcount or 0
    old_sessions = db.session.execute(delete(CabinetSession).where(CabinetSession.expires_at < cutoff))
    counts["cabinet_sessions"] = old_sessions.rowcount or 0
    # a login lives as long as its interaction or cabinet session (it holds the customer's IIN and phone)
    cabinet_logins = select(literal(LOGIN_PREFIX, String) + CabinetSession.id)
    old_logins = db.session.execute(
        delete(CustomerLogin).where(
            ~CustomerLogin.interaction_id.in_(select(Interaction.id)),
            ~CustomerLogin.interaction_id.in_(cabinet_logins),
        )
    )
    counts["customer_logins"] = old_logins.rowcount or 0
    # factor challenges name an IIN (and a phone): kept only as long as expired interactions
    old_faces = db.session.execute(delete(BiometricChallenge).where(BiometricChallenge.deadline < cutoff))
    counts["biometric_challenges"] = old_faces.rowcount or 0
    old_codes = db.session.execute(delete(OtpChallenge).where(OtpChallenge.expires_at < cutoff))
    counts["otp_challenges"] = old_codes.rowcount or 0
    old_par = db.session.execute(
        delete(PushedAuthorizationRequest).where(
            PushedAuthorizationRequest.expires_at < cutoff,
            ~PushedAuthorizationRequest.id.in_(db.session.query(Interaction.par_id)),
        )
    )
    counts["pushed_authorization_requests"] = old_par.rowcount or 0
    db.session.commit()
    return counts
