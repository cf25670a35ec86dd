"""The reference face encoding: the 128 numbers face_recognition (dlib's
ResNet) computes for the one face of a reference photo."""

from __future__ import annotations

import warnings
from types import ModuleType
from typing import NamedTuple

import numpy as np

from biometrics.errors import NoFaceFound, SeveralFacesFound

ENCODING_SIZE = 128
#: Photos are scaled down to this many pixels on their long side before
#: detection: HOG with one upsample costs in proportion to the pixel count
#: (~0.1 s at 512×512), and the encoding works on a 150×150 chip anyway.
MAX_DETECTION_SIDE = 1024
#: A detected box narrower than this share of the widest one is not counted.
SMALL_BOX_RATIO = 1 / 3


class Box(NamedTuple):
    """A face's box in face_recognition's order (top, right, bottom, left)."""

    top: int
    right: int
    bottom: int
    left: int

    @property
    def width(self) -> int:
        return self.right - self.left


def _face_recognition() -> ModuleType:
    # Imported here: loading dlib and its models takes ~2 s, which commands
    # that never compute an encoding (people list, remove) should not pay.
    with warnings.catch_warnings():
        # face_recognition_models needs pkg_resources (hence setuptools<82,
        # DEPENDENCIES.md) and setuptools warns that it is deprecated.
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import face_recognition

    return face_recognition


def _scaled_for_detection(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    longest = max(height, width)
    if longest <= MAX_DETECTION_SIDE:
        return image
    import cv2

    scale = MAX_DETECTION_SIDE / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def real_faces(boxes: list[Box]) -> list[Box]:
    """The boxes that count as faces of a reference photo.

    A HOG detector can report a non-face (a badge, a patch of texture) as a
    small extra face (DEPENDENCIES.md). A reference photo is a portrait, so
    boxes much smaller than the largest one (under a third of its width) are
    discarded before counting; two real faces of similar size still make
    the photo unusable as a reference.
    """
    if not boxes:
        return []
    widest = max(box.width for box in boxes)
    return [box for box in boxes if box.width >= widest * SMALL_BOX_RATIO]


def reference_encoding(image: np.ndarray) -> np.ndarray:
    """The 128-d encoding of the single face in a reference photo (RGB uint8 array).

    ``NoFaceFound`` when no face is detected, ``SeveralFacesFound`` when more
    than one face of comparable size is.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("reference_encoding expects an RGB uint8 array (height × width × 3)")
    fr = _face_recognition()
    scaled = np.ascontiguousarray(_scaled_for_detection(image))
    found = [Box(*box) for box in fr.face_locations(scaled, number_of_times_to_upsample=1, model="hog")]
    faces = real_faces(found)
    if not faces:
        raise NoFaceFound("no face found in the reference photo: use a frontal portrait, face well lit")
    if len(faces) > 1:
        raise SeveralFacesFound(
            f"{len(faces)} faces found in the reference photo: it must show exactly one person"
        )
    (encoding,) = fr.face_encodings(scaled, known_face_locations=[tuple(faces[0])], num_jitters=1)
    return np.asarray(encoding, dtype=np.float64)
