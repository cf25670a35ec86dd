"""verify_liveness on synthetic captures: a live head is accepted, each attack is refused with its reason.

Captures are generated once per module from public-domain portraits
(tests/fixtures/faces) by biometrics.liveness.synthetic; every frame is sent
as JPEG bytes, as the page would.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from biometrics.liveness import Challenge, LivenessDecision, Pose, frame_set_fingerprint, verify_liveness
from biometrics.liveness import synthetic as S

FACES = Path(__file__).resolve().parent.parent / "fixtures" / "faces"
POSES = (Pose.LEFT, Pose.UP)


def _challenge(poses: tuple[Pose, ...] = POSES) -> Challenge:
    now = time.time()
    return Challenge(poses=poses, turn_degrees=15.0, nonce="test-nonce", issued_at=now, deadline=now + 60)


def _jpegs(frames: list[np.ndarray]) -> list[bytes]:
    return [S.encode_jpeg(frame) for frame in frames]


@pytest.fixture(scope="module")
def obama() -> S.SourceFace:
    return S.prepare_source(S.load_photo(FACES / "obama_portrait.jpg"))


@pytest.fixture(scope="module")
def biden() -> S.SourceFace:
    return S.prepare_source(S.load_photo(FACES / "biden_portrait.jpg"))


@pytest.fixture(scope="module")
def genuine(obama: S.SourceFace) -> list[np.ndarray]:
    return S.genuine_frames(obama, POSES, np.random.default_rng(11), amplitude=(20.0, 22.0))


@pytest.fixture(scope="module")
def genuine_decision(genuine: list[np.ndarray]) -> LivenessDecision:
    return verify_liveness(_challenge(), _jpegs(genuine))


def test_a_live_head_following_the_challenge_is_accepted(genuine_decision: LivenessDecision) -> None:
    assert genuine_decision.reasons == []
    assert genuine_decision.accepted
    assert set(genuine_decision.checks.values()) <= {"passed", "skipped"}
    for score in (
        "parallax_min",
        "same_person_distance",
        "sharpness_min",
        "face_width_min",
        "pose_0_left_degrees",
    ):
        assert score in genuine_decision.scores
    assert genuine_decision.probe_encoding is not None and genuine_decision.probe_encoding.shape == (128,)


def test_the_decision_never_shows_the_encoding(genuine_decision: LivenessDecision) -> None:
    assert "probe_encoding" not in repr(genuine_decision)


def test_a_tilted_photo_is_refused_as_a_flat_surface(obama: S.SourceFace) -> None:
    frames = S.flat_photo_frames(obama, POSES, np.random.default_rng(12), amplitude=(30.0, 35.0))
    decision = verify_liveness(_challenge(), _jpegs(frames))
    assert not decision.accepted
    assert "flat_surface" in decision.reasons


def test_another_person_in_the_turned_frames_is_refused(
    genuine: list[np.ndarray], biden: S.SourceFace
) -> None:
    theirs = S.genuine_frames(biden, POSES, np.random.default_rng(13), amplitude=(20.0, 22.0))
    decision = verify_liveness(_challenge(), _jpegs(genuine[:1] + theirs[1:]))
    assert "different_people" in decision.reasons


def test_a_second_face_in_the_frame_is_refused(genuine: list[np.ndarray], biden: S.SourceFace) -> None:
    frames = S.second_face_frames(genuine, biden, np.random.default_rng(14))
    decision = verify_liveness(_challenge(), _jpegs(frames))
    assert "several_faces" in decision.reasons


def test_frames_without_a_face_are_refused() -> None:
    decision = verify_liveness(_challenge(), _jpegs(S.no_face_frames(np.random.default_rng(15))))
    assert decision.reasons == ["no_face"]


def test_poses_in_the_wrong_order_are_refused(genuine: list[np.ndarray]) -> None:
    decision = verify_liveness(_challenge((Pose.UP, Pose.LEFT)), _jpegs(genuine))
    assert decision.reasons == ["poses_out_of_order"]


def test_a_pose_not_asked_is_refused(genuine: list[np.ndarray]) -> None:
    decision = verify_liveness(_challenge((Pose.RIGHT, Pose.DOWN)), _jpegs(genuine))
    assert decision.reasons == ["pose_not_followed"]


def test_a_still_image_repeated_is_refused_without_face_analysis(obama: S.SourceFace) -> None:
    decision = verify_liveness(_challenge(), _jpegs(S.still_frames(obama)))
    assert decision.reasons == ["frames_identical"]
    assert decision.checks["real_parallax"] == "skipped"


def test_frames_replayed_for_another_challenge_have_the_same_fingerprint_and_are_refused(
    genuine: list[np.ndarray], genuine_decision: LivenessDecision
) -> None:
    replayed = _jpegs(genuine)
    assert frame_set_fingerprint(replayed) == genuine_decision.fingerprint
    seen = {genuine_decision.fingerprint}
    decision = verify_liveness(_challenge(), replayed, seen_before=seen.__contains__)
    assert decision.reasons == ["replayed_frames"]


def test_too_few_frames_are_refused(genuine: list[np.ndarray]) -> None:
    decision = verify_liveness(_challenge((Pose.LEFT, Pose.UP, Pose.RIGHT)), _jpegs(genuine[:3]))
    assert "too_few_frames" in decision.reasons


def test_an_expired_challenge_is_refused(genuine: list[np.ndarray]) -> None:
    challenge = _challenge()
    decision = verify_liveness(challenge, _jpegs(genuine), now=challenge.deadline + 1)
    assert decision.reasons == ["challenge_expired"]


def test_blurred_frames_are_refused(genuine: list[np.ndarray]) -> None:
    frames = [cv2.GaussianBlur(frame, (0, 0), 3.0) for frame in genuine]
    decision = verify_liveness(_challenge(), _jpegs(frames))
    assert "too_blurry" in decision.reasons


def test_a_face_too_far_away_is_refused(obama: S.SourceFace) -> None:
    far = S.prepare_source(obama.canvas, face_width=60.0)
    frames = S.genuine_frames(far, POSES, np.random.default_rng(16), amplitude=(20.0, 22.0))
    decision = verify_liveness(_challenge(), _jpegs(frames))
    assert "face_too_small" in decision.reasons


def test_a_video_clip_of_a_live_head_is_accepted(obama: S.SourceFace, tmp_path: Path) -> None:
    frames = S.genuine_frames(obama, POSES, np.random.default_rng(17), frame_count=7, amplitude=(20.0, 22.0))
    path = tmp_path / "capture.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 5, (S.FRAME_WIDTH, S.FRAME_HEIGHT))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    decision = verify_liveness(_challenge(), path.read_bytes())
    assert decision.reasons == []
    assert decision.scores["frames"] == 7.0
