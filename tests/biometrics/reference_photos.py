"""Photos and import directories for the reference registry's tests.

Face encodings cost ~0.1 s each, so the ones tests compare with are computed
once per session (``encoding_of``).
"""

from __future__ import annotations

import csv
import functools
import io
from pathlib import Path

import numpy as np
from PIL import Image

FACES = Path(__file__).resolve().parent.parent / "fixtures" / "faces"
OBAMA = FACES / "obama_1.jpg"
OBAMA_AGAIN = FACES / "obama_2.jpg"
BIDEN = FACES / "biden_2.jpg"
TWO_FACES = FACES / "obama_biden_together.jpg"


def blank_png(width: int = 300, height: int = 300) -> bytes:
    """A grey picture with no face in it."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (128, 128, 128)).save(buffer, "PNG")
    return buffer.getvalue()


@functools.cache
def encoding_of(path: Path) -> np.ndarray:
    from biometrics.encoding import reference_encoding
    from biometrics.images import load_photo

    return reference_encoding(load_photo(path.read_bytes()))


def import_dir(root: Path, rows: list[tuple[str, str, str, str]], photos: dict[str, bytes | Path]) -> Path:
    """A directory to import: ``people.csv`` with these rows and these photo files."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in photos.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.read_bytes() if isinstance(content, Path) else content)
    with open(root / "people.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["iin", "name", "phone", "photo"])
        writer.writerows(rows)
    return root
