"""`senim people …` as an operator uses it (SQLite under a temporary data directory)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from senim.cli import main
from tests.biometrics.reference_photos import BIDEN, OBAMA, TWO_FACES, import_dir

OBAMA_IIN = "900101300017"
BIDEN_IIN = "850202300014"


@pytest.fixture
def senim(tmp_path):
    runner = CliRunner()
    env = {"SENIM_DATA_DIR": str(tmp_path / "data"), "SENIM_ISSUER": "http://senim.test"}
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0

    def run(*args: str):
        return runner.invoke(main, list(args), env=env)

    return run


def _add(senim, iin: str = OBAMA_IIN, photo=OBAMA, *extra: str):
    return senim(
        "people", "add", "--iin", iin, "--name", "Customer One", "--phone", "+7 701 000 00 01",
        "--photo", str(photo), *extra,
    )  # fmt: skip


def test_people_add_then_list_shows_a_masked_phone_and_never_the_face(senim) -> None:
    added = _add(senim, OBAMA_IIN, OBAMA, "--keep-photo")
    assert added.exit_code == 0, added.output
    assert added.output.strip() == f"{OBAMA_IIN} added (+7 7** *** ** 01, photo kept)"
    listed = senim("people", "list")
    assert listed.exit_code == 0
    (record,) = [json.loads(line) for line in listed.output.splitlines()]
    assert record["iin"] == OBAMA_IIN
    assert record["name"] == "Customer One"
    assert record["phone"] == "+7 7** *** ** 01"
    assert record["photo_kept"] is True
    assert set(record) == {"iin", "name", "phone", "photo_kept", "source", "created_at"}


def test_people_add_explains_each_refusal_and_exits_non_zero(senim, tmp_path) -> None:
    text_as_jpg = tmp_path / "photo.jpg"
    text_as_jpg.write_text("not a photo")
    cases = [
        (_add(senim, "900101300018"), "wrong check digit"),
        (_add(senim, OBAMA_IIN, tmp_path / "absent.jpg"), "no photo file"),
        (_add(senim, OBAMA_IIN, text_as_jpg), "JPEG or PNG"),
        (_add(senim, OBAMA_IIN, TWO_FACES), "2 faces found"),
    ]
    for result, message in cases:
        assert result.exit_code == 1, result.output
        assert message in result.output
        assert "Traceback" not in result.output
    assert _add(senim).exit_code == 0
    again = _add(senim)
    assert again.exit_code == 1
    assert f"IIN {OBAMA_IIN} is already on record" in again.output


def test_people_import_then_remove(senim, tmp_path) -> None:
    directory = import_dir(
        tmp_path / "batch",
        [
            (OBAMA_IIN, "Customer One", "+77010000001", "one.jpg"),
            (BIDEN_IIN, "Customer Two", "+77010000002", "two.jpg"),
        ],
        {"one.jpg": OBAMA, "two.jpg": BIDEN},
    )
    imported = senim("people", "import", str(directory))
    assert imported.exit_code == 0, imported.output
    assert imported.output.startswith("2 people imported")
    removed = senim("people", "remove", OBAMA_IIN)
    assert removed.exit_code == 0
    listed = [json.loads(line) for line in senim("people", "list").output.splitlines()]
    assert [(p["iin"], p["photo_kept"], p["source"]) for p in listed] == [(BIDEN_IIN, False, "cli-import")]
    gone = senim("people", "remove", OBAMA_IIN)
    assert gone.exit_code == 1
    assert "nobody with IIN" in gone.output


def test_people_import_lists_the_bad_lines_and_imports_nothing(senim, tmp_path) -> None:
    directory = import_dir(
        tmp_path / "batch",
        [
            (OBAMA_IIN, "Customer One", "+77010000001", "one.jpg"),
            (BIDEN_IIN, "Customer Two", "+7 999 000 00 02", "../one.jpg"),
        ],
        {"one.jpg": OBAMA},
    )
    refused = senim("people", "import", str(directory))
    assert refused.exit_code == 1
    assert "1 of 2 rows refused, nothing imported" in refused.output
    assert "line 3: not a Kazakh mobile number" in refused.output
    assert "outside the import directory" in refused.output
    assert senim("people", "list").output == ""


def test_demo_seed_adds_two_demo_people_once(senim) -> None:
    seeded = senim("demo", "seed")
    assert seeded.exit_code == 0, seeded.output
    assert "demo person added: IIN 900101300017, Demo Customer One, +7 701 000 00 01" in seeded.output
    assert "demo person added: IIN 850202300014, Demo Customer Two, +7 701 000 00 02" in seeded.output
    again = senim("demo", "seed")
    assert again.exit_code == 0, again.output
    assert again.output.count("demo person present") == 2
    listed = [json.loads(line) for line in senim("people", "list").output.splitlines()]
    assert [(p["iin"], p["source"]) for p in listed] == [(BIDEN_IIN, "demo"), (OBAMA_IIN, "demo")]
