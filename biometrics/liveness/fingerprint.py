"""A fingerprint of a frame set, so that a caller can refuse one it has seen before.

The fingerprint is a SHA-256 over the perceptual hashes (16×16 difference
hashes) of the decoded frames, in order. Sending the same frames again —
as the same bytes, or re-encoded without visible change — gives the same
fingerprint; two real captures never do, because a live head and the camera's
noise move the frames. The caller stores fingerprints of accepted and refused
attempts for as long as it keeps challenges, and refuses a repeat.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import cv2
import numpy as np

from biometrics.liveness.frames import Capture, load_capture

_HASH_SIDE = 16


def difference_hash(rgb: np.ndarray) -> bytes:
    """A 256-bit difference hash: is each cell of a 17×16 grey thumbnail brighter than its neighbour?"""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (_HASH_SIDE + 1, _HASH_SIDE), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = small[:, 1:] > small[:, :-1]
    return np.packbits(bits.ravel()).tobytes()


def frame_set_fingerprint(frames: Sequence[np.ndarray] | Capture) -> str:
    """Hex SHA-256 over the frames' perceptual hashes; takes decoded frames or the capture as sent."""
    if isinstance(frames, bytes | bytearray | memoryview) or (
        len(frames) > 0 and not isinstance(frames[0], np.ndarray)
    ):
        frames = load_capture(frames)  # type: ignore[arg-type]
    digest = hashlib.sha256(b"senim-liveness-frames-v1")
    digest.update(len(frames).to_bytes(2, "big"))
    for frame in frames:
        digest.update(difference_hash(frame))
    return digest.hexdigest()
