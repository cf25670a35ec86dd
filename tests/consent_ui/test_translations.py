"""Every text of the customer pages is translated into Kazakh and Russian."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = ROOT / "consent_ui" / "translations"
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def _catalogue(language: str):
    with open(CATALOGUES / language / "LC_MESSAGES" / "messages.po", "rb") as file:
        return read_po(file, locale=language)


@pytest.fixture(scope="module")
def texts_in_the_code(tmp_path_factory) -> set[str]:
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [
            Path(sys.executable).parent / "pybabel",
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
    )
    with open(pot, "rb") as file:
        return {message.id for message in read_po(file) if message.id}


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_every_text_of_the_pages_has_a_translation(texts_in_the_code, language) -> None:
    catalogue = _catalogue(language)
    translated = {m.id for m in catalogue if m.id and m.string and not m.fuzzy}
    missing = sorted(texts_in_the_code - translated)
    assert not missing, f"run `make messages` and translate into {language}: {missing}"


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_translations_keep_the_placeholders(language) -> None:
    for message in _catalogue(language):
        if message.id:
            assert sorted(PLACEHOLDER.findall(message.string)) == sorted(PLACEHOLDER.findall(message.id)), (
                message.id
            )
