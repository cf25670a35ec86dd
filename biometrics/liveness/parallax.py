"""Real 3-D parallax: a flat surface moves its landmarks by a homography, a head does not.

A photo or a screen tilted in front of the camera is a plane; whatever the
tilt, the landmarks of the tilted frame are the frontal frame's landmarks
mapped by one 3×3 homography (up to detection noise). A turning head moves
its nose, eyes and outline by different amounts because they lie at different
depths, and no single homography fits. The measure is the RMS distance of the
turned frame's landmarks from the best homography's prediction, relative to
the eye distance so it does not depend on how close the face is.
"""

from __future__ import annotations

import cv2
import numpy as np

from biometrics.liveness.face_model import eye_distance


def planar_residual(frontal: np.ndarray, turned: np.ndarray) -> float:
    """RMS residual of ``turned`` around the best homography from ``frontal``, in eye distances."""
    source = frontal.astype(np.float64)
    target = turned.astype(np.float64)
    homography, _ = cv2.findHomography(source, target, 0)
    if homography is None:
        return float("inf")
    predicted = cv2.perspectiveTransform(source.reshape(-1, 1, 2), homography).reshape(-1, 2)
    rms = float(np.sqrt(np.mean(np.sum((predicted - target) ** 2, axis=1))))
    return rms / eye_distance(frontal)
