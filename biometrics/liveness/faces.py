"""What a frame shows: the faces dlib's HOG detector finds, the main face's
68 landmarks, its sharpness and, when asked, its encoding.

A HOG detector sometimes reports a non-face (a badge, a patch on a suit) as a
face (DEPENDENCIES.md). So boxes much smaller than the largest are ignored,
the main face is the most confident of the rest, and another box counts as a
second person only when it is both large and confidently a face.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import dlib
import face_recognition_models
import numpy as np

# Detection runs on the analysis-sized frame (long side ≤ 640) with one 2×
# upsampling, so faces down to ~40 px are seen (and refused as too small
# rather than reported missing); ~0.1 s per 640×480 frame here.
DETECTION_UPSAMPLE = 1
# Boxes narrower than this fraction of the widest box are ignored.
MIN_BOX_RATIO = 0.5
# A second box counts as another face from this HOG score on. Measured: the
# patch on the astronaut's suit scores 0.11 (the same size as her face, 1.21);
# main faces of frontal portraits 1.2–2.3; second faces pasted at 0.8× size
# beside the main one in synthetic frames (90 frames): median 0.97, 10th
# percentile 0.12 (some cut by the frame's edge). One frame with a second face
# refuses the capture, so a capture shows it in several chances.
SECOND_FACE_MIN_SCORE = 0.35
LANDMARK_BOX_SCALES = (0.9, 1.0, 1.1)
# Sharpness is measured on the face resized to this width, so it does not depend on distance.
SHARPNESS_SIDE = 128


@dataclass(frozen=True)
class FaceBox:
    top: int
    right: int
    bottom: int
    left: int
    score: float

    @property
    def width(self) -> int:
        return self.right - self.left

    def as_location(self) -> tuple[int, int, int, int]:
        """face_recognition's (top, right, bottom, left) order."""
        return (self.top, self.right, self.bottom, self.left)

    def centre_distance(self, other: FaceBox) -> float:
        return float(
            np.hypot(
                (self.left + self.right - other.left - other.right) / 2,
                (self.top + self.bottom - other.top - other.bottom) / 2,
            )
        )

    def overlaps(self, other: FaceBox) -> bool:
        return not (
            other.left >= self.right
            or other.right <= self.left
            or other.top >= self.bottom
            or other.bottom <= self.top
        )


@dataclass(frozen=True)
class FrameFaces:
    """The faces found in one frame: the main one (or None) and other real faces."""

    main: FaceBox | None
    others: tuple[FaceBox, ...]


@functools.cache
def _detector() -> dlib.fhog_object_detector:
    return dlib.get_frontal_face_detector()


@functools.cache
def _landmark_predictor() -> dlib.shape_predictor:
    return dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())


@functools.cache
def _encoder() -> tuple[dlib.shape_predictor, dlib.face_recognition_model_v1]:
    return (
        dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location()),
        dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location()),
    )


def find_faces(rgb: np.ndarray, *, near: FaceBox | None = None) -> FrameFaces:
    """The main face of a frame and any other real face beside it.

    ``near`` is the main face of the previous frame: the face is tracked, so
    a second face in the frame does not take its place.
    """
    height, width = rgb.shape[:2]
    rects, scores, _ = _detector().run(rgb, DETECTION_UPSAMPLE, 0.0)
    boxes = [
        FaceBox(
            top=max(rect.top(), 0),
            right=min(rect.right(), width),
            bottom=min(rect.bottom(), height),
            left=max(rect.left(), 0),
            score=float(score),
        )
        for rect, score in zip(rects, scores, strict=True)
    ]
    boxes = [box for box in boxes if box.width > 0 and box.bottom > box.top]
    if not boxes:
        return FrameFaces(main=None, others=())
    widest = max(box.width for box in boxes)
    candidates = [box for box in boxes if box.width >= MIN_BOX_RATIO * widest]
    if near is None:
        main = max(candidates, key=lambda box: box.score)
    else:
        main = min(candidates, key=lambda box: box.centre_distance(near))
    others = tuple(
        box
        for box in candidates
        if box is not main
        and not box.overlaps(main)
        and box.width >= MIN_BOX_RATIO * main.width
        and box.score >= SECOND_FACE_MIN_SCORE
    )
    return FrameFaces(main=main, others=others)


def landmarks_68(rgb: np.ndarray, box: FaceBox) -> np.ndarray:
    """The 68 landmarks (x, y) of a face whose box is known, averaged over three box sizes.

    dlib's predictor starts from its mean shape placed in the box, and HOG boxes
    jump between pyramid scales (~20 %) from frame to frame; averaging the
    predictions for the box at 0.9, 1.0 and 1.1 times its size (~3 ms each)
    cut the landmark noise between frames of a still photo by up to a quarter
    (worst of six photos: 0.050 → 0.037 eye distances of homography residual).
    """
    predictor = _landmark_predictor()
    centre_x, centre_y = (box.left + box.right) / 2, (box.top + box.bottom) / 2
    runs = []
    for scale in LANDMARK_BOX_SCALES:
        half = box.width * scale / 2
        rect = dlib.rectangle(
            round(centre_x - half), round(centre_y - half), round(centre_x + half), round(centre_y + half)
        )
        shape = predictor(rgb, rect)
        runs.append([(point.x, point.y) for point in shape.parts()])
    return np.mean(np.array(runs, dtype=np.float64), axis=0)


def sharpness(rgb: np.ndarray, box: FaceBox) -> float:
    """Variance of the Laplacian of the face, resized to a fixed width (higher is sharper)."""
    crop = rgb[box.top : box.bottom, box.left : box.right]
    if crop.size == 0:
        return 0.0
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (SHARPNESS_SIDE, SHARPNESS_SIDE), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def face_encoding(rgb: np.ndarray, box: FaceBox) -> np.ndarray:
    """The 128-d encoding of a known face (~90 ms), as face_recognition.face_encodings computes it.

    The same dlib models and steps (5-point landmarks, ResNet, one jitter) are
    called directly: importing face_recognition sets Pillow's process-wide
    LOAD_TRUNCATED_IMAGES, which would let cut-short uploads decode as grey.
    """
    five_points, resnet = _encoder()
    shape = five_points(rgb, dlib.rectangle(box.left, box.top, box.right, box.bottom))
    return np.array(resnet.compute_face_descriptor(rgb, shape, 1))
