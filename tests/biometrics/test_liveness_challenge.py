"""The liveness challenge: random poses, a nonce, a deadline."""

from __future__ import annotations

import random

from biometrics.liveness import Pose, issue_challenge
from biometrics.liveness.challenge import MIN_TURN_DEGREES


def test_challenge_asks_two_or_three_poses_without_immediate_repeats() -> None:
    rng = random.Random(7)
    lengths = set()
    for _ in range(200):
        challenge = issue_challenge(rng, now=1000.0)
        lengths.add(len(challenge.poses))
        assert all(isinstance(pose, Pose) for pose in challenge.poses)
        assert all(a != b for a, b in zip(challenge.poses, challenge.poses[1:], strict=False))
        assert challenge.turn_degrees >= 15.0 == MIN_TURN_DEGREES
    assert lengths == {2, 3}


def test_challenge_nonces_are_unique_and_long() -> None:
    nonces = {issue_challenge().nonce for _ in range(100)}
    assert len(nonces) == 100
    assert all(len(nonce) >= 22 for nonce in nonces)  # 128 bits, base64url


def test_challenge_expires_at_its_deadline() -> None:
    challenge = issue_challenge(now=1000.0, lifetime_seconds=60)
    assert challenge.deadline == 1060.0
    assert not challenge.expired(1060.0)
    assert challenge.expired(1060.5)
