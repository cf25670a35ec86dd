"""The first factor end to end: a stored challenge, answered once with a
capture that must be live, fresh and the person on record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biometrics.face_check import ChallengeInvalid, NotOnRecord, finish_face_check, start_face_check
from biometrics.liveness import Pose
from biometrics.liveness import synthetic as S
from biometrics.lockout import TooManyFailures
from biometrics.registry import LocalReferenceRegistry

FACES = Path(__file__).resolve().parent.parent / "fixtures" / "faces"
OBAMA_IIN = "900101300017"
BIDEN_IIN = "850202300014"


@pytest.fixture(scope="module")
def sources() -> dict[str, S.SourceFace]:
    return {
        "obama": S.prepare_source(S.load_photo(FACES / "obama_portrait.jpg")),
        "biden": S.prepare_source(S.load_photo(FACES / "biden_portrait.jpg")),
    }


@pytest.fixture
def registry(app) -> LocalReferenceRegistry:
    registry = LocalReferenceRegistry(app.extensions["senim.biometric_key"])
    registry.add_person(
        iin=OBAMA_IIN, full_name="Demo One", phone="+77010000001", photo=(FACES / "obama_1.jpg").read_bytes()
    )
    return registry


def _capture(source: S.SourceFace, poses: tuple[str, ...], seed: int = 5) -> list[bytes]:
    frames = S.genuine_frames(
        source, [Pose(p) for p in poses], np.random.default_rng(seed), amplitude=(20.0, 22.0)
    )
    return [S.encode_jpeg(frame) for frame in frames]


def test_a_live_capture_of_the_person_on_record_passes(registry, sources) -> None:
    check = start_face_check(OBAMA_IIN, registry)
    assert 2 <= len(check.poses) <= 3
    result = finish_face_check(
        check.challenge_id, OBAMA_IIN, _capture(sources["obama"], check.poses), registry
    )
    assert result.accepted, result.reasons
    assert result.match_distance is not None and result.match_distance <= 0.5


def test_a_live_capture_of_someone_else_is_refused(registry, sources) -> None:
    check = start_face_check(OBAMA_IIN, registry)
    result = finish_face_check(
        check.challenge_id, OBAMA_IIN, _capture(sources["biden"], check.poses), registry
    )
    assert not result.accepted
    assert result.reasons == ["face_does_not_match"]


def test_a_capture_is_accepted_once_even_for_a_new_challenge(registry, sources, clock) -> None:
    first = start_face_check(OBAMA_IIN, registry)
    capture = _capture(sources["obama"], first.poses)
    assert finish_face_check(first.challenge_id, OBAMA_IIN, capture, registry).accepted
    again = start_face_check(OBAMA_IIN, registry)
    replay = finish_face_check(again.challenge_id, OBAMA_IIN, capture, registry)
    assert not replay.accepted
    assert "replayed_frames" in replay.reasons


def test_a_challenge_is_answered_once(registry, sources) -> None:
    check = start_face_check(OBAMA_IIN, registry)
    finish_face_check(check.challenge_id, OBAMA_IIN, [b"not an image"], registry)
    with pytest.raises(ChallengeInvalid):
        finish_face_check(check.challenge_id, OBAMA_IIN, _capture(sources["obama"], check.poses), registry)


def test_a_late_answer_is_refused(registry, sources, clock) -> None:
    check = start_face_check(OBAMA_IIN, registry)
    clock.advance(91)
    result = finish_face_check(check.challenge_id, OBAMA_IIN, [b"irrelevant"], registry)
    assert result.reasons == ["challenge_expired"]


def test_a_challenge_of_another_iin_is_refused(registry) -> None:
    check = start_face_check(OBAMA_IIN, registry)
    with pytest.raises(ChallengeInvalid):
        finish_face_check(check.challenge_id, BIDEN_IIN, [b"x"], registry)


def test_an_unreadable_capture_is_a_failed_attempt(registry) -> None:
    check = start_face_check(OBAMA_IIN, registry)
    result = finish_face_check(check.challenge_id, OBAMA_IIN, [b"not an image"], registry)
    assert result.reasons == ["unreadable_capture"]


def test_nobody_on_record_gets_no_challenge(registry) -> None:
    with pytest.raises(NotOnRecord):
        start_face_check(BIDEN_IIN, registry)


def test_five_failures_pause_the_face_check(registry, clock) -> None:
    for _ in range(5):
        check = start_face_check(OBAMA_IIN, registry)
        result = finish_face_check(check.challenge_id, OBAMA_IIN, [b"garbage"], registry)
    assert result.retry_after == 30
    with pytest.raises(TooManyFailures):
        start_face_check(OBAMA_IIN, registry)
    clock.advance(30)
    start_face_check(OBAMA_IIN, registry)
