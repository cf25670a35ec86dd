"""Head pose from landmarks: ``cv2.solvePnP`` against a 3-D face model.

The camera is taken to be an ordinary webcam: focal length about the frame's
width, principal point at the centre, no distortion.

Two models: the generic face (face_model.GENERIC_FACE_68) for the absolute
pose of the first frame, and, for the turns that follow, the person's own
first-frame landmarks given the generic depths. The second reads turns much
better: on synthetic captures of frontal photos, turns of 16–25° were mostly
read within ~5°, at 0.76–0.98 of the true angle (median per photo; a
glasses-wearer's worst single reading 0.49). The generic model alone read 15°
turns as 11.7° at the median and some as the opposite direction, mistaking
the person's face shape for a rotation.

Head angle alone does not tell a head from a tilted photo (a tilted photo
reads up to ~19° of yaw, DEPENDENCIES.md); it is only used to check that the
asked direction was followed.
"""

from __future__ import annotations

import cv2
import numpy as np

from biometrics.liveness.face_model import (
    GENERIC_FACE_68,
    LANDMARK_DEPTHS,
    LEFT_EYE,
    POSE_LANDMARKS,
    RIGHT_EYE,
    eye_distance,
    facing_angles,
)


def camera_matrix(width: int, height: int) -> np.ndarray:
    focal = float(width)
    return np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])


def personal_face_model(frontal: np.ndarray) -> np.ndarray:
    """A person's 3-D face: their frontal landmarks (in eye distances) with the generic depths."""
    eyes = (frontal[LEFT_EYE].mean(axis=0) + frontal[RIGHT_EYE].mean(axis=0)) / 2
    return np.column_stack([(frontal - eyes) / eye_distance(frontal), LANDMARK_DEPTHS])


def head_angles(
    landmarks: np.ndarray, width: int, height: int, *, model: np.ndarray | None = None
) -> tuple[float, float]:
    """(yaw, pitch) in degrees: yaw > 0 nose towards the image's right, pitch > 0 nose up.

    ``model`` is a 68×3 face (default: the generic one).
    """
    model = GENERIC_FACE_68 if model is None else model
    camera = camera_matrix(width, height)
    # Start from a frontal face at the distance its eye distance implies: the
    # landmarks are nearly planar, and without a start the solver can settle
    # on the mirror-image pose (a left turn read as a right one).
    eyes = (landmarks[LEFT_EYE].mean(axis=0) + landmarks[RIGHT_EYE].mean(axis=0)) / 2
    depth = camera[0, 0] / max(eye_distance(landmarks), 1.0)
    start = np.array(
        [
            (eyes[0] - camera[0, 2]) * depth / camera[0, 0],
            (eyes[1] - camera[1, 2]) * depth / camera[1, 1],
            depth,
        ]
    )
    ok, rotation_vector, _ = cv2.solvePnP(
        model[POSE_LANDMARKS],
        landmarks[POSE_LANDMARKS].astype(np.float64),
        camera,
        np.zeros(4),
        rvec=np.zeros((3, 1)),
        tvec=start.reshape(3, 1),
        useExtrinsicGuess=True,
        flags=cv2.SOLVEPNP_ITERATIVE,
    )
    if not ok:
        return (float("nan"), float("nan"))
    rotation, _ = cv2.Rodrigues(rotation_vector)
    return facing_angles(rotation)
