"""Active, geometric liveness: a random head-pose challenge, and the checks a capture must pass.

    challenge = issue_challenge()
    decision = verify_liveness(challenge, frames, seen_before=store.has)
    store.add(decision.fingerprint)

Storing nonces and fingerprints, refusing replays and locking out repeated
failures belong to the caller; this package keeps no state.
"""

from biometrics.liveness.challenge import Challenge, Pose, issue_challenge
from biometrics.liveness.fingerprint import frame_set_fingerprint
from biometrics.liveness.frames import InvalidCapture, load_capture
from biometrics.liveness.verify import LivenessDecision, verify_liveness

__all__ = [
    "Challenge",
    "InvalidCapture",
    "LivenessDecision",
    "Pose",
    "frame_set_fingerprint",
    "issue_challenge",
    "load_capture",
    "verify_liveness",
]
