"""The reference encoding: exactly one face in a reference photo."""

from __future__ import annotations

import numpy as np
import pytest

from biometrics.encoding import Box, real_faces, reference_encoding
from biometrics.errors import NoFaceFound, SeveralFacesFound
from biometrics.images import load_photo
from tests.biometrics.reference_photos import BIDEN, OBAMA, OBAMA_AGAIN, TWO_FACES, blank_png, encoding_of


def test_a_portrait_gives_a_128_number_encoding() -> None:
    encoding = encoding_of(OBAMA)
    assert encoding.shape == (128,)
    assert encoding.dtype == np.float64
    assert np.isfinite(encoding).all()


def test_encodings_tell_the_same_person_from_another() -> None:
    same = np.linalg.norm(encoding_of(OBAMA) - encoding_of(OBAMA_AGAIN))
    other = np.linalg.norm(encoding_of(OBAMA) - encoding_of(BIDEN))
    assert same < 0.6 < other


def test_a_photo_without_a_face_is_refused() -> None:
    with pytest.raises(NoFaceFound, match="no face"):
        reference_encoding(load_photo(blank_png()))


def test_a_photo_with_two_people_is_refused() -> None:
    with pytest.raises(SeveralFacesFound, match="2 faces"):
        reference_encoding(load_photo(TWO_FACES.read_bytes()))


def test_a_large_photo_is_scaled_down_before_detection_and_still_encodes() -> None:
    pixels = load_photo(OBAMA.read_bytes())
    big = np.ascontiguousarray(np.kron(pixels, np.ones((4, 4, 1), dtype=np.uint8)))  # 1600 × 1280
    distance = np.linalg.norm(reference_encoding(big) - encoding_of(OBAMA))
    assert distance < 0.2


def test_boxes_much_smaller_than_the_largest_face_do_not_count() -> None:
    face = Box(top=100, right=300, bottom=300, left=100)  # 200 wide
    badge = Box(top=350, right=360, bottom=410, left=300)  # 60 wide: under a third
    second_face = Box(top=100, right=600, bottom=250, left=450)  # 150 wide
    assert real_faces([face, badge]) == [face]
    assert real_faces([badge, face, second_face]) == [face, second_face]
    assert real_faces([]) == []


def test_only_rgb_arrays_are_accepted() -> None:
    with pytest.raises(ValueError, match="RGB uint8"):
        reference_encoding(np.zeros((10, 10), dtype=np.uint8))
