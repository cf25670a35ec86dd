"""A generic 3-D face: the 68 dlib landmarks with average positions and depths.

Units are the distance between the eye centres; axes are OpenCV's camera axes
(x to the image's right, y down, z away from the camera), origin midway between
the eye centres. x/y are the symmetrised mean of the landmarks of six frontal
public-domain portraits (tests/fixtures/faces); z are generic depths (nose tip
forward, face outline back) from average facial proportions, not a scan.

It serves two purposes: ``cv2.solvePnP`` reads head yaw/pitch against it, and
the synthetic capture generator rotates a photo's own landmarks with its depths.
"""

from __future__ import annotations

import math

import numpy as np

# fmt: off
_MEAN_FRONTAL_XY = (
    (-1.14, 0.14), (-1.12, 0.43), (-1.08, 0.72), (-1.04, 0.99), (-0.94, 1.27), (-0.77, 1.50),
    (-0.54, 1.69), (-0.30, 1.83), (0.00, 1.87), (0.30, 1.83), (0.54, 1.69), (0.77, 1.50),
    (0.94, 1.27), (1.04, 0.99), (1.08, 0.72), (1.12, 0.43), (1.14, 0.14), (-0.93, -0.11),
    (-0.80, -0.27), (-0.60, -0.34), (-0.39, -0.34), (-0.18, -0.27), (0.18, -0.27), (0.39, -0.34),
    (0.60, -0.34), (0.80, -0.27), (0.93, -0.11), (0.00, -0.06), (0.00, 0.13), (0.00, 0.32),
    (0.00, 0.52), (-0.27, 0.66), (-0.14, 0.69), (0.00, 0.73), (0.14, 0.69), (0.27, 0.66),
    (-0.69, 0.02), (-0.57, -0.06), (-0.43, -0.06), (-0.30, 0.02), (-0.43, 0.04), (-0.57, 0.04),
    (0.30, 0.02), (0.43, -0.06), (0.57, -0.06), (0.69, 0.02), (0.57, 0.04), (0.43, 0.04),
    (-0.52, 1.02), (-0.33, 0.94), (-0.14, 0.93), (0.00, 0.95), (0.14, 0.93), (0.33, 0.94),
    (0.52, 1.02), (0.33, 1.17), (0.14, 1.23), (0.00, 1.24), (-0.14, 1.23), (-0.33, 1.17),
    (-0.45, 1.02), (-0.14, 1.00), (0.00, 1.02), (0.14, 1.00), (0.45, 1.02), (0.14, 1.10),
    (0.00, 1.12), (-0.14, 1.10),
)

# Depth of each landmark (negative = towards the camera), eye centres at 0.
_JAW_DEPTH = tuple(-0.15 + 0.95 * (abs(i - 8) / 8) ** 1.3 for i in range(17))
_DEPTH = (
    *_JAW_DEPTH,                                                    # 0-16 face outline
    0.10, -0.02, -0.10, -0.13, -0.12, -0.12, -0.13, -0.10, -0.02, 0.10,  # 17-26 eyebrows
    -0.12, -0.22, -0.34, -0.48,                                     # 27-30 nose bridge, tip
    -0.20, -0.28, -0.34, -0.28, -0.20,                              # 31-35 nostrils
    0.10, 0.00, -0.03, -0.02, -0.03, 0.00,                          # 36-41 right eye (image left)
    -0.02, -0.03, 0.00, 0.10, 0.00, -0.03,                          # 42-47 left eye (image right)
    -0.08, -0.20, -0.27, -0.30, -0.27, -0.20, -0.08,                # 48-54 upper lip, outer
    -0.20, -0.26, -0.28, -0.26, -0.20,                              # 55-59 lower lip, outer
    -0.10, -0.24, -0.27, -0.24, -0.10, -0.24, -0.26, -0.24,         # 60-67 lips, inner
)
# fmt: on

GENERIC_FACE_68 = np.array([(x, y, z) for (x, y), z in zip(_MEAN_FRONTAL_XY, _DEPTH, strict=True)])
LANDMARK_DEPTHS = GENERIC_FACE_68[:, 2].copy()

RIGHT_EYE = slice(36, 42)  # the subject's right eye: the image's left
LEFT_EYE = slice(42, 48)
# Landmarks that sit on the face's surface whatever the pose (the outline 0-16
# follows the silhouette of a turned head, so it is left out of pose estimation).
POSE_LANDMARKS = np.arange(17, 60)


def eye_distance(landmarks: np.ndarray) -> float:
    """Distance between the eye centres of 68 landmarks (pixels)."""
    return float(np.linalg.norm(landmarks[LEFT_EYE].mean(axis=0) - landmarks[RIGHT_EYE].mean(axis=0)))


def head_rotation(yaw_degrees: float, pitch_degrees: float) -> np.ndarray:
    """The rotation turning a frontal face so that it faces (yaw, pitch).

    Positive yaw: the nose points to the image's right (the subject's own left);
    positive pitch: the nose points up. Inverse of ``facing_angles``.
    """
    yaw, pitch = math.radians(yaw_degrees), math.radians(pitch_degrees)
    # Pitch about the x axis first, then yaw about the (camera) y axis.
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    pitch_up = np.array([[1.0, 0.0, 0.0], [0.0, cp, sp], [0.0, -sp, cp]])
    yaw_right = np.array([[cy, 0.0, -sy], [0.0, 1.0, 0.0], [sy, 0.0, cy]])
    return yaw_right @ pitch_up


def facing_angles(rotation: np.ndarray) -> tuple[float, float]:
    """(yaw, pitch) in degrees of where a rotated face's nose points.

    The face looks along -z (towards the camera) when frontal; yaw > 0 is
    towards the image's right, pitch > 0 towards its top.
    """
    forward = rotation @ np.array([0.0, 0.0, -1.0])
    yaw = math.degrees(math.atan2(forward[0], -forward[2]))
    pitch = math.degrees(math.atan2(-forward[1], math.hypot(forward[0], forward[2])))
    return yaw, pitch
