"""The first factor as the login pages use it: a stored liveness challenge,
answered once, checked for liveness and matched against the reference face.

``start_face_check`` issues a challenge for an IIN on record (unless the IIN
is throttled); ``finish_face_check`` takes the capture and decides, in order:

| # | check                               | reason code              |
|---|-------------------------------------|--------------------------|
| 1 | the challenge exists, for this IIN  | (ChallengeInvalid)       |
| 2 | it has not been answered before     | (ChallengeInvalid)       |
| 3 | the IIN is not throttled            | (TooManyFailures)        |
| 4 | the deadline has not passed         | ``challenge_expired``    |
| 5 | the capture can be read             | ``unreadable_capture``   |
| 6 | the frame set was never seen before | ``replayed_frames``      |
| 7 | liveness (biometrics.liveness)      | its reason codes         |
| 8 | the face matches the reference      | ``face_does_not_match``  |

Every refused attempt counts towards throttling (biometrics.lockout); the
decision, its reasons and scores are audited; no image or encoding is.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from biometrics.errors import BiometricsError
from biometrics.liveness import Challenge, InvalidCapture, Pose, issue_challenge, verify_liveness
from biometrics.lockout import check_not_throttled, record_failure, record_success
from biometrics.match import match
from biometrics.models import BiometricChallenge, SeenCapture
from biometrics.registry import ReferenceRegistry
from senim import clock
from senim.audit import audit
from senim.database import db
from senim.metrics import record_biometric_check

CHALLENGE_LIFETIME = 90


class ChallengeInvalid(BiometricsError):
    """Unknown, already answered, or issued for someone else."""


class NotOnRecord(BiometricsError):
    """No reference face for this IIN."""


@dataclass(frozen=True)
class FaceCheck:
    """A challenge as the page shows it."""

    challenge_id: str
    poses: tuple[str, ...]
    turn_degrees: float
    deadline: int


@dataclass(frozen=True)
class FaceCheckResult:
    accepted: bool
    reasons: list[str]
    scores: dict[str, float] = field(default_factory=dict)
    match_distance: float | None = None
    retry_after: int | None = None


def start_face_check(iin: str, registry: ReferenceRegistry) -> FaceCheck:
    """Issue and store a challenge for a person on record."""
    check_not_throttled(iin)
    if registry.reference_for(iin) is None:
        raise NotOnRecord("There is no reference photo for this IIN.")
    now = clock.now()
    challenge = issue_challenge(now=now, lifetime_seconds=CHALLENGE_LIFETIME)
    row = BiometricChallenge(
        id=secrets.token_urlsafe(18),
        iin=iin,
        poses=[pose.value for pose in challenge.poses],
        turn_degrees=challenge.turn_degrees,
        nonce=challenge.nonce,
        issued_at=int(challenge.issued_at),
        deadline=int(challenge.deadline),
    )
    db.session.add(row)
    db.session.commit()
    audit("biometric.challenge_issued", iin=iin, challenge_id=row.id, poses=row.poses)
    return FaceCheck(row.id, tuple(row.poses), row.turn_degrees, row.deadline)


def _claim(challenge_id: str, iin: str) -> BiometricChallenge:
    row = db.session.get(BiometricChallenge, challenge_id) if isinstance(challenge_id, str) else None
    if row is None or row.iin != iin:
        raise ChallengeInvalid("This face check is unknown; start again.")
    claimed = db.session.execute(
        update(BiometricChallenge)
        .where(BiometricChallenge.id == challenge_id, BiometricChallenge.answered_at.is_(None))
        .values(answered_at=clock.now_int())
        .returning(BiometricChallenge.id)
    ).first()
    if claimed is None:
        raise ChallengeInvalid("This face check was already answered; start again.")
    db.session.commit()
    return row


def _first_sighting(fingerprint: str) -> bool:
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = SeenCapture.__table__
    inserted = db.session.execute(
        insert(table)
        .values(fingerprint=fingerprint, seen_at=clock.now_int())
        .on_conflict_do_nothing()
        .returning(table.c.fingerprint)
    ).first()
    return inserted is not None


def _seen_before(fingerprint: str) -> bool:
    return (
        db.session.scalar(select(SeenCapture.fingerprint).where(SeenCapture.fingerprint == fingerprint))
        is not None
    )


def finish_face_check(
    challenge_id: str, iin: str, capture: list[bytes] | bytes, registry: ReferenceRegistry
) -> FaceCheckResult:
    """Decide the first factor for ``iin`` from the capture answering ``challenge_id``."""
    row = _claim(challenge_id, iin)
    check_not_throttled(iin)
    now = clock.now()
    if now > row.deadline:
        return _refused(row, iin, ["challenge_expired"])
    challenge = Challenge(
        poses=tuple(Pose(p) for p in row.poses),
        turn_degrees=row.turn_degrees,
        nonce=row.nonce,
        issued_at=float(row.issued_at),
        deadline=float(row.deadline),
    )
    try:
        decision = verify_liveness(challenge, capture, now=now, seen_before=_seen_before)
    except InvalidCapture:
        return _refused(row, iin, ["unreadable_capture"])
    if not _first_sighting(decision.fingerprint) and "replayed_frames" not in decision.reasons:
        decision.reasons.append("replayed_frames")
    if decision.reasons or not decision.accepted:
        return _refused(row, iin, decision.reasons or ["liveness_not_shown"], decision.scores)
    reference = registry.reference_for(iin)
    if reference is None or decision.probe_encoding is None:
        return _refused(row, iin, ["face_does_not_match"], decision.scores)
    matched = match(reference.encoding, decision.probe_encoding)
    scores = {**decision.scores, "match_distance": matched.distance}
    if not matched.accepted:
        return _refused(row, iin, ["face_does_not_match"], scores, matched.distance)
    row.outcome, row.reasons = "accepted", []
    db.session.commit()
    record_success(iin)
    audit("biometric.accepted", iin=iin, challenge_id=row.id, scores=scores)
    record_biometric_check(True)
    return FaceCheckResult(True, [], scores, matched.distance)


def _refused(
    row: BiometricChallenge,
    iin: str,
    reasons: list[str],
    scores: dict[str, float] | None = None,
    distance: float | None = None,
) -> FaceCheckResult:
    row.outcome, row.reasons = "refused", reasons
    db.session.commit()
    state = record_failure(iin)
    retry_after = max(0, state.locked_until - clock.now_int()) or None
    audit(
        "biometric.refused",
        outcome="refused",
        iin=iin,
        challenge_id=row.id,
        reasons=reasons,
        scores=scores or {},
    )
    record_biometric_check(False, reasons)
    return FaceCheckResult(False, reasons, scores or {}, distance, retry_after)
