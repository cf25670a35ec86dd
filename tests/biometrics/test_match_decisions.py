"""Photo match: another photo of the same person is accepted, another person refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biometrics.liveness.faces import face_encoding, find_faces
from biometrics.liveness.synthetic import load_photo
from biometrics.match import MATCH_THRESHOLD, MatchDecision, match

FACES = Path(__file__).resolve().parent.parent / "fixtures" / "faces"


def _encoding(name: str) -> np.ndarray:
    rgb = load_photo(FACES / name)
    faces = find_faces(rgb)
    assert faces.main is not None
    return face_encoding(rgb, faces.main)


@pytest.fixture(scope="module")
def encodings() -> dict[str, np.ndarray]:
    return {name: _encoding(f"{name}.jpg") for name in ("obama_portrait", "obama_podium", "biden_portrait")}


def test_another_photo_of_the_same_person_matches(encodings: dict[str, np.ndarray]) -> None:
    decision = match(encodings["obama_portrait"], encodings["obama_podium"])
    assert decision.accepted
    assert decision.distance < decision.threshold == MATCH_THRESHOLD


def test_another_person_does_not_match(encodings: dict[str, np.ndarray]) -> None:
    decision = match(encodings["obama_portrait"], encodings["biden_portrait"])
    assert not decision.accepted
    assert decision.distance > MATCH_THRESHOLD


def test_the_decision_reports_distance_and_threshold(encodings: dict[str, np.ndarray]) -> None:
    decision = match(encodings["obama_podium"], encodings["obama_portrait"], threshold=0.2)
    assert decision == MatchDecision(distance=decision.distance, threshold=0.2, accepted=False)
    assert 0.2 < decision.distance < MATCH_THRESHOLD


def test_malformed_encodings_are_refused() -> None:
    with pytest.raises(ValueError, match="128"):
        match(np.zeros(128), np.zeros(64))
    with pytest.raises(ValueError, match="non-finite"):
        match(np.zeros(128), np.full(128, np.nan))
