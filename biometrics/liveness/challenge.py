"""The liveness challenge: a random sequence of head poses with a nonce and a deadline.

The server issues it, the page shows it ("turn your head to your left, then
up"), and the frames sent back must show the poses in that order before the
deadline. Storing the nonce, refusing a second use and locking out repeated
failures are the caller's job; this module only makes and describes challenges.
"""

from __future__ import annotations

import base64
import random
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum


class Pose(StrEnum):
    """A head turn, named from the customer's point of view.

    "left" is the customer's own left: in the camera's (unmirrored) image the
    nose moves towards the image's right edge. "up" moves the nose towards the
    top edge.
    """

    LEFT = "left"
    RIGHT = "right"
    UP = "up"
    DOWN = "down"


# Each asked turn is at least this many degrees; the verifier accepts a pose as
# reached from 10° on (verify.POSE_REACHED_DEGREES), so a genuine turn has margin.
MIN_TURN_DEGREES = 15.0
MIN_POSES = 2
MAX_POSES = 3
DEFAULT_LIFETIME_SECONDS = 60.0


@dataclass(frozen=True)
class Challenge:
    """What the customer is asked to do, and until when."""

    poses: tuple[Pose, ...]
    turn_degrees: float
    nonce: str
    issued_at: float
    deadline: float

    def expired(self, now: float) -> bool:
        return now > self.deadline


def issue_challenge(
    rng: random.Random | None = None,
    *,
    now: float | None = None,
    lifetime_seconds: float = DEFAULT_LIFETIME_SECONDS,
) -> Challenge:
    """A fresh challenge: 2–3 poses, no pose twice in a row, a 128-bit nonce.

    ``rng`` defaults to the operating system's generator; tests pass a seeded
    ``random.Random`` to get a known sequence.
    """
    rng = rng if rng is not None else secrets.SystemRandom()
    count = rng.randint(MIN_POSES, MAX_POSES)
    poses: list[Pose] = []
    while len(poses) < count:
        pose = rng.choice(list(Pose))
        if not poses or pose != poses[-1]:
            poses.append(pose)
    nonce = base64.urlsafe_b64encode(rng.getrandbits(128).to_bytes(16, "big")).rstrip(b"=").decode()
    issued_at = time.time() if now is None else now
    return Challenge(
        poses=tuple(poses),
        turn_degrees=MIN_TURN_DEGREES,
        nonce=nonce,
        issued_at=issued_at,
        deadline=issued_at + lifetime_seconds,
    )
