"""The face stack is really installed: a broken install must fail loudly.

``face_recognition_models`` imports ``pkg_resources``; without it
``import face_recognition`` prints a hint and calls ``quit()`` with status 0,
which would make a test run look green while nothing ran (DEPENDENCIES.md).
Importing it in a subprocess and computing a real encoding catches that.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FACES = Path(__file__).resolve().parent.parent / "fixtures" / "faces"

_PROBE = """
import json, sys
import numpy as np
import face_recognition
def encode(path):
    image = face_recognition.load_image_file(path)
    boxes = face_recognition.face_locations(image, number_of_times_to_upsample=1, model="hog")
    return boxes, face_recognition.face_encodings(image, known_face_locations=boxes)
a_boxes, a = encode(sys.argv[1])
_, b = encode(sys.argv[2])
_, c = encode(sys.argv[3])
print(json.dumps({
    "faces": len(a_boxes),
    "length": len(a[0]),
    "same_person": float(np.linalg.norm(a[0] - b[0])),
    "other_person": float(np.linalg.norm(a[0] - c[0])),
}))
"""


def test_face_recognition_computes_real_encodings() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _PROBE,
            str(FACES / "obama_1.jpg"),
            str(FACES / "obama_2.jpg"),
            str(FACES / "biden_2.jpg"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), f"face_recognition printed nothing (broken install?): {result.stderr}"
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["faces"] == 1
    assert measured["length"] == 128
    # dlib's documented operating point is 0.6; the same person is well below it, another person above.
    assert measured["same_person"] < 0.6 < measured["other_person"]


def test_opencv_has_its_haar_cascades() -> None:
    import cv2

    assert cv2.__version__.startswith("4.")
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    assert not cascade.empty()
