"""The local reference registry: adding and importing people, on both databases."""

from __future__ import annotations

import base64
import json
import logging

import numpy as np
import pytest
from sqlalchemy import select

from biometrics.errors import DuplicatePerson, InvalidIIN, NoFaceFound, PersonNotFound, SeveralFacesFound
from biometrics.models import Person
from biometrics.registry import ImportRejected, LocalReferenceRegistry, Reference, ReferenceRegistry
from senim.database import core
from tests.biometrics.reference_photos import BIDEN, OBAMA, TWO_FACES, blank_png, encoding_of, import_dir

OBAMA_IIN = "900101300017"
BIDEN_IIN = "850202300014"
THIRD_IIN = "000229500018"


@pytest.fixture
def registry(app) -> LocalReferenceRegistry:
    return LocalReferenceRegistry(app.extensions["senim.biometric_key"])


@pytest.fixture
def audit_lines():
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("senim.audit")
    handler = Collect(logging.INFO)
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


def _add_obama(registry: LocalReferenceRegistry, **overrides: object):
    params = {
        "iin": OBAMA_IIN,
        "full_name": "Customer One",
        "phone": "8 701 000 00 01",
        "photo": OBAMA.read_bytes(),
    }
    params.update(overrides)
    return registry.add_person(**params)


def test_the_local_registry_is_a_reference_registry(registry) -> None:
    assert isinstance(registry, ReferenceRegistry)


def test_an_added_person_is_found_by_iin_and_by_phone(registry) -> None:
    added = _add_obama(registry)
    assert (added.iin, added.phone, added.photo_kept, added.source) == (
        OBAMA_IIN,
        "+77010000001",
        False,
        "cli-add",
    )
    reference = registry.reference_for(OBAMA_IIN)
    assert isinstance(reference, Reference)
    assert reference.full_name == "Customer One"
    assert np.allclose(reference.encoding, encoding_of(OBAMA))
    assert registry.person_by_phone("+7 701 000 00 01").iin == OBAMA_IIN
    assert registry.reference_for(BIDEN_IIN) is None
    assert registry.person_by_phone("+7 701 999 99 99") is None


def test_a_reference_never_shows_its_name_or_encoding_in_its_repr(registry) -> None:
    _add_obama(registry)
    assert repr(registry.reference_for(OBAMA_IIN)) == f"Reference(iin='{OBAMA_IIN}')"
    assert "Customer" not in repr(registry.person(OBAMA_IIN))


def test_the_database_holds_the_encoding_and_photo_only_sealed(registry) -> None:
    photo = OBAMA.read_bytes()
    _add_obama(registry, photo=photo, keep_photo=True)
    table = Person.__table__
    sealed_encoding, sealed_photo = core(
        select(table.c.sealed_encoding, table.c.sealed_photo).where(table.c.iin == OBAMA_IIN)
    ).one()
    clear = encoding_of(OBAMA).astype("<f8").tobytes()
    assert clear not in bytes(sealed_encoding)
    assert clear[:16] not in bytes(sealed_encoding)
    assert photo[200:264] not in bytes(sealed_photo)
    assert len(sealed_photo) > len(photo)


def test_a_sealed_encoding_moved_to_another_row_does_not_open(registry) -> None:
    from biometrics.errors import SealBroken

    _add_obama(registry)
    registry.add_person(
        iin=BIDEN_IIN, full_name="Customer Two", phone="+77010000002", photo=BIDEN.read_bytes()
    )
    obama_row = Person.__table__.c
    sealed = core(select(obama_row.sealed_encoding).where(obama_row.iin == OBAMA_IIN)).scalar_one()
    core(Person.__table__.update().where(obama_row.iin == BIDEN_IIN).values(sealed_encoding=sealed))
    with pytest.raises(SealBroken):
        registry.reference_for(BIDEN_IIN)


def test_adding_refuses_a_photo_without_a_face_or_with_two(registry) -> None:
    with pytest.raises(NoFaceFound):
        _add_obama(registry, photo=blank_png())
    with pytest.raises(SeveralFacesFound):
        _add_obama(registry, photo=TWO_FACES.read_bytes())
    with pytest.raises(InvalidIIN):
        _add_obama(registry, iin="900101300018")
    assert registry.people() == []


def test_adding_an_iin_or_a_phone_already_on_record_is_refused(registry) -> None:
    _add_obama(registry)
    with pytest.raises(DuplicatePerson, match=f"IIN {OBAMA_IIN} is already on record"):
        _add_obama(registry, phone="+77010000009")
    with pytest.raises(DuplicatePerson, match="phone is already on record"):
        _add_obama(registry, iin=BIDEN_IIN)
    assert [p.iin for p in registry.people()] == [OBAMA_IIN]


def test_an_import_puts_everyone_on_record(registry, tmp_path) -> None:
    directory = import_dir(
        tmp_path / "batch",
        [
            (OBAMA_IIN, "Customer One", "+7 701 000 00 01", "photos/one.jpg"),
            (BIDEN_IIN, "  Customer   Two ", "87010000002", "two.jpg"),
        ],
        {"photos/one.jpg": OBAMA, "two.jpg": BIDEN},
    )
    added = registry.import_directory(directory, keep_photo=True)
    assert [(p.iin, p.full_name, p.phone, p.photo_kept, p.source) for p in added] == [
        (OBAMA_IIN, "Customer One", "+77010000001", True, "cli-import"),
        (BIDEN_IIN, "Customer Two", "+77010000002", True, "cli-import"),
    ]
    assert np.allclose(registry.reference_for(BIDEN_IIN).encoding, encoding_of(BIDEN))


def test_an_import_with_one_bad_row_writes_nothing_and_names_the_line(registry, tmp_path) -> None:
    directory = import_dir(
        tmp_path / "batch",
        [
            (OBAMA_IIN, "Customer One", "+77010000001", "one.jpg"),
            (BIDEN_IIN, "Customer Two", "+77010000002", "two.jpg"),
            ("900101300018", "Customer Three", "+77010000003", "one.jpg"),
        ],
        {"one.jpg": OBAMA, "two.jpg": BIDEN},
    )
    with pytest.raises(ImportRejected) as refused:
        registry.import_directory(directory)
    assert [(e.line, "check digit" in e.message) for e in refused.value.errors] == [(4, True)]
    assert "1 of 3 rows refused, nothing imported" in str(refused.value)
    assert "line 4:" in str(refused.value)
    assert registry.people() == []


def test_an_import_reports_every_bad_row_at_once(registry, tmp_path) -> None:
    directory = import_dir(
        tmp_path / "batch",
        [
            ("90010130001", "Customer One", "+77010000001", "one.jpg"),  # line 2: 11 digits
            (BIDEN_IIN, "", "+7 901 000 00 02", "two.jpg"),  # line 3: no name, Russian phone
            (THIRD_IIN, "Customer Three", "+77010000003", "blank.png"),  # line 4: no face
            ("850202401237", "Customer Four", "+77010000004", "missing.jpg"),  # line 5: no file
        ],
        {"one.jpg": OBAMA, "two.jpg": BIDEN, "blank.png": blank_png()},
    )
    with pytest.raises(ImportRejected) as refused:
        registry.import_directory(directory)
    by_line = {e.line: e.message for e in refused.value.errors}
    assert sorted(by_line) == [2, 3, 4, 5]
    assert "12 digits" in by_line[2]
    assert "name is empty" in by_line[3] and "Kazakh mobile" in by_line[3]
    assert "no face" in by_line[4]
    assert "does not exist" in by_line[5]


def test_an_iin_twice_in_the_csv_is_refused(registry, tmp_path) -> None:
    directory = import_dir(
        tmp_path / "batch",
        [
            (OBAMA_IIN, "Customer One", "+77010000001", "one.jpg"),
            (OBAMA_IIN, "Customer One Again", "+77010000002", "two.jpg"),
        ],
        {"one.jpg": OBAMA, "two.jpg": BIDEN},
    )
    with pytest.raises(ImportRejected) as refused:
        registry.import_directory(directory)
    assert [(e.line, e.message) for e in refused.value.errors] == [
        (3, f"IIN {OBAMA_IIN} is already on line 2")
    ]
    assert registry.people() == []


def test_an_iin_already_on_record_refuses_the_import(registry, tmp_path) -> None:
    _add_obama(registry)
    directory = import_dir(
        tmp_path / "batch",
        [
            (BIDEN_IIN, "Customer Two", "+77010000002", "two.jpg"),
            (OBAMA_IIN, "Customer One", "+77010000005", "two.jpg"),
        ],
        {"two.jpg": BIDEN},
    )
    with pytest.raises(ImportRejected) as refused:
        registry.import_directory(directory)
    assert [(e.line, e.message) for e in refused.value.errors] == [
        (3, f"IIN {OBAMA_IIN} is already on record")
    ]
    assert [p.iin for p in registry.people()] == [OBAMA_IIN]


def test_a_phone_already_on_record_is_reported_with_the_rows_other_problems(registry, tmp_path) -> None:
    _add_obama(registry)
    directory = import_dir(
        tmp_path / "batch",
        [(BIDEN_IIN, "Customer Two", "8 701 000 00 01", "blank.png")],
        {"blank.png": blank_png()},
    )
    with pytest.raises(ImportRejected) as refused:
        registry.import_directory(directory)
    (error,) = refused.value.errors
    assert error.line == 2
    assert "no face" in error.message
    assert "phone is already on record" in error.message


@pytest.mark.parametrize("photo", ["../outside.jpg", "sub/../../outside.jpg", "/etc/passwd", "link.jpg"])
def test_a_photo_outside_the_import_directory_is_refused(registry, tmp_path, photo: str) -> None:
    (tmp_path / "outside.jpg").write_bytes(OBAMA.read_bytes())
    directory = import_dir(tmp_path / "batch", [(OBAMA_IIN, "Customer One", "+77010000001", photo)], {})
    (directory / "sub").mkdir()
    (directory / "link.jpg").symlink_to(tmp_path / "outside.jpg")
    with pytest.raises(ImportRejected) as refused:
        registry.import_directory(directory)
    (error,) = refused.value.errors
    assert error.line == 2
    assert "import directory" in error.message
    assert registry.people() == []


def test_the_audit_log_of_an_import_has_iins_and_counts_only(registry, tmp_path, audit_lines) -> None:
    directory = import_dir(
        tmp_path / "batch",
        [
            (OBAMA_IIN, "Aigerim Nurlanovna", "+77010000001", "one.jpg"),
            (BIDEN_IIN, "Yerlan Serikovich", "+77010000002", "two.jpg"),
        ],
        {"one.jpg": OBAMA, "two.jpg": BIDEN},
    )
    registry.import_directory(directory, keep_photo=True)
    text = "\n".join(audit_lines)
    records = [json.loads(line) for line in audit_lines]
    assert [r["event"] for r in records] == ["person.added", "person.added", "people.imported"]
    assert records[-1]["count"] == 2
    assert {r.get("iin") for r in records[:2]} == {OBAMA_IIN, BIDEN_IIN}
    for name_part in ("Aigerim", "Nurlanovna", "Yerlan", "Serikovich"):
        assert name_part not in text
    for photo in (OBAMA, BIDEN):
        clear = encoding_of(photo).astype("<f8").tobytes()
        assert clear.hex()[:16] not in text
        assert base64.b64encode(clear[:12]).decode() not in text
        assert repr(float(encoding_of(photo)[0]))[:8] not in text
    assert "+7701" not in text  # no phone either


def test_a_refused_import_is_audited_without_names(registry, tmp_path, audit_lines) -> None:
    directory = import_dir(
        tmp_path / "batch", [("123", "Aigerim Nurlanovna", "+77010000001", "one.jpg")], {"one.jpg": OBAMA}
    )
    with pytest.raises(ImportRejected):
        registry.import_directory(directory)
    (record,) = [json.loads(line) for line in audit_lines]
    assert (record["event"], record["outcome"], record["rows_refused"]) == ("people.imported", "refused", 1)
    assert "Aigerim" not in audit_lines[0]


def test_import_needs_a_header_and_rows(registry, tmp_path) -> None:
    directory = tmp_path / "batch"
    directory.mkdir()
    (directory / "people.csv").write_text("iin;name;phone;photo\n")
    with pytest.raises(ImportRejected, match="header must name the columns iin,name,phone,photo"):
        registry.import_directory(directory)
    (directory / "people.csv").write_text("iin,name,phone,photo\n\n")
    with pytest.raises(ImportRejected, match="lists nobody"):
        registry.import_directory(directory)
    with pytest.raises(ImportRejected, match="no directory"):
        registry.import_directory(tmp_path / "absent")


def test_a_row_with_the_wrong_number_of_fields_is_reported(registry, tmp_path) -> None:
    directory = import_dir(tmp_path / "batch", [], {})
    with open(directory / "people.csv", "a") as fh:
        fh.write(f"{OBAMA_IIN},Customer One,+77010000001\n")
    with pytest.raises(ImportRejected) as refused:
        registry.import_directory(directory)
    assert [(e.line, e.message) for e in refused.value.errors] == [(2, "3 fields, expected 4")]


def test_removing_takes_a_person_off_record(registry) -> None:
    _add_obama(registry)
    registry.remove(OBAMA_IIN)
    assert registry.reference_for(OBAMA_IIN) is None
    with pytest.raises(PersonNotFound):
        registry.remove(OBAMA_IIN)
