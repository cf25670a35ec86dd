"""The reference photo registry: who a person is on record (IIN, name, phone)
and the face their biometric login is compared with.

``ReferenceRegistry`` is what the login needs from a registry; a remote
government registry can implement it later. ``LocalReferenceRegistry`` is the
default: the ``reference_people`` table, filled by the operator with
``add_person`` and ``import_directory``, the face encoding sealed with the
biometric key.

The audit log gets IINs and counts, never a name, a photo or an encoding.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from biometrics.encoding import reference_encoding
from biometrics.errors import (
    BiometricsError,
    DuplicatePerson,
    InvalidName,
    PersonNotFound,
    PhotoOutsideImport,
    UnreadablePhoto,
)
from biometrics.iin import validate_iin
from biometrics.images import load_photo, read_photo_file
from biometrics.models import SOURCES, Person
from biometrics.phones import normalize_phone
from biometrics.sealing import KEY_BYTES, seal_encoding, seal_photo, unseal_encoding
from senim import clock
from senim.audit import audit
from senim.database import db

MAX_NAME_LENGTH = 200
#: The file ``import_directory`` reads, unless the directory holds exactly one other CSV.
IMPORT_CSV = "people.csv"
IMPORT_COLUMNS = ("iin", "name", "phone", "photo")
# Lookups of many IINs or phones at once are split to stay under the
# databases' bound-parameter limits.
_LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class PersonOnRecord:
    """A person as the registry knows them, without the face."""

    iin: str
    full_name: str
    phone: str
    photo_kept: bool = False
    source: str = ""
    created_at: int = 0

    def __repr__(self) -> str:
        return f"PersonOnRecord(iin={self.iin!r})"  # the name is personal data: keep it out of logs


@dataclass(frozen=True, eq=False)
class Reference:
    """What a face is compared with: the person on record and their reference encoding."""

    iin: str
    full_name: str
    phone: str
    encoding: np.ndarray

    def __repr__(self) -> str:
        return f"Reference(iin={self.iin!r})"  # never the name or the encoding


@runtime_checkable
class ReferenceRegistry(Protocol):
    """A source of reference faces: the local table, or later a remote registry.

    Both lookups raise ``InvalidIIN`` / ``InvalidPhone`` for input that is
    not an IIN or a Kazakh mobile number at all, and return None for a
    well-formed one the registry does not know.
    """

    def reference_for(self, iin: str) -> Reference | None:
        """The reference of this IIN, or None when the registry has no such person."""
        ...

    def person_by_phone(self, phone: str) -> PersonOnRecord | None:
        """The person whose phone on record this is, or None."""
        ...


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


class ImportRejected(BiometricsError):
    """An import that wrote nothing; ``errors`` says which rows are wrong and why."""

    def __init__(self, message: str, errors: list[RowError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = list(errors or [])

    def __str__(self) -> str:
        lines = [self.message]
        lines += [f"  line {error.line}: {error.message}" for error in self.errors]
        return "\n".join(lines)


def validate_full_name(text: str) -> str:
    """The name with its spaces tidied, or ``InvalidName``."""
    if not isinstance(text, str):
        raise InvalidName("the full name is missing")
    name = " ".join(text.split())
    if not name:
        raise InvalidName("the full name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"the full name is longer than {MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in name):
        raise InvalidName("the full name contains control or unassigned characters")
    return name


@dataclass(eq=False)
class _NewPerson:
    """A validated person about to be written."""

    iin: str
    full_name: str
    phone: str
    encoding: np.ndarray
    photo: bytes | None
    line: int = 0


class LocalReferenceRegistry:
    """The registry in the platform's own database (``reference_people``)."""

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise ValueError("the biometric key must be exactly 32 bytes (AES-256)")
        self._key = key

    # -- ReferenceRegistry ---------------------------------------------------
    def reference_for(self, iin: str) -> Reference | None:
        """The reference of this IIN (``InvalidIIN`` when it is not an IIN at all).

        A sealed encoding that does not open raises ``SealBroken``: that is a
        wrong key or a tampered row, never "no such person".
        """
        iin = validate_iin(iin)
        person = db.session.get(Person, iin)
        if person is None:
            return None
        encoding = unseal_encoding(self._key, person.sealed_encoding, iin=person.iin)
        return Reference(person.iin, person.full_name, person.phone, encoding)

    def person_by_phone(self, phone: str) -> PersonOnRecord | None:
        """The person with this phone on record (``InvalidPhone`` when it is not a Kazakh mobile number)."""
        phone = normalize_phone(phone)
        person = db.session.scalar(select(Person).where(Person.phone == phone))
        return None if person is None else _on_record(person)

    # -- the operator's side -------------------------------------------------
    def person(self, iin: str) -> PersonOnRecord | None:
        """The person on record with this IIN, without unsealing anything."""
        person = db.session.get(Person, validate_iin(iin))
        return None if person is None else _on_record(person)

    def people(self) -> list[PersonOnRecord]:
        """Everyone on record, by IIN."""
        return [_on_record(p) for p in db.session.scalars(select(Person).order_by(Person.iin))]

    def add_person(
        self,
        *,
        iin: str,
        full_name: str,
        phone: str,
        photo: bytes,
        keep_photo: bool = False,
        source: str = "cli-add",
    ) -> PersonOnRecord:
        """Put one person on record; the photo must show exactly one face.

        Raises ``InvalidIIN``, ``InvalidName``, ``InvalidPhone``, a photo error
        (``UnreadablePhoto``, ``UnsupportedFormat``, ``PhotoTooLarge``,
        ``NoFaceFound``, ``SeveralFacesFound``) or ``DuplicatePerson``.
        """
        _check_source(source)
        try:
            iin = validate_iin(iin)
            new = _NewPerson(
                iin=iin,
                full_name=validate_full_name(full_name),
                phone=normalize_phone(phone),
                encoding=reference_encoding(load_photo(photo)),
                photo=photo if keep_photo else None,
            )
            self._refuse_registered(new)
            self._write([new], source)
        except BiometricsError as error:
            audit("person.added", outcome="refused", reason=type(error).__name__, source=source)
            raise
        audit("person.added", iin=new.iin, source=source, original_kept=keep_photo)
        return self._reload(new.iin)

    def import_directory(
        self, directory: Path, *, keep_photo: bool = False, source: str = "cli-import"
    ) -> list[PersonOnRecord]:
        """Put everyone listed in ``DIRECTORY/people.csv`` on record, or no one.

        The CSV has the columns ``iin,name,phone,photo``; ``photo`` is a path
        inside the directory. Every row is checked first (IIN, name, phone,
        photo with exactly one face, no IIN or phone twice, nobody already on
        record); one wrong row refuses the whole import with ``ImportRejected``
        listing every wrong row by line number. A valid import is written in
        one transaction.
        """
        _check_source(source)
        try:
            root = Path(directory).resolve(strict=True)
        except (FileNotFoundError, RuntimeError):
            raise ImportRejected(f"no directory {directory}") from None
        if not root.is_dir():
            raise ImportRejected(f"{directory} is not a directory")
        csv_path = _csv_in(root)
        rows, errors = _read_rows(csv_path)
        if not rows and not errors:
            raise ImportRejected(f"{csv_path.name} lists nobody: nothing imported")
        people: list[_NewPerson] = []
        problems_of_line: dict[int, list[str]] = {}
        first_line_of_iin: dict[str, int] = {}
        first_line_of_phone: dict[str, int] = {}
        for line, values in rows:
            problems = problems_of_line.setdefault(line, [])
            iin = _checked(validate_iin, values["iin"], problems)
            name = _checked(validate_full_name, values["name"], problems)
            phone = _checked(normalize_phone, values["phone"], problems)
            if iin is not None:
                if iin in first_line_of_iin:
                    problems.append(f"IIN {iin} is already on line {first_line_of_iin[iin]}")
                else:
                    first_line_of_iin[iin] = line
            if phone is not None:
                if phone in first_line_of_phone:
                    problems.append(f"this phone is already on line {first_line_of_phone[phone]}")
                else:
                    first_line_of_phone[phone] = line
            photo, encoding = self._photo_of_row(root, values["photo"], problems)
            if not problems and iin and name and phone and encoding is not None:
                people.append(_NewPerson(iin, name, phone, encoding, photo if keep_photo else None, line))
        for line, problem in self._registered_already(first_line_of_iin, first_line_of_phone):
            problems_of_line[line].append(problem)
        errors += [RowError(line, "; ".join(found)) for line, found in problems_of_line.items() if found]
        if errors:
            errors.sort(key=lambda e: e.line)
            total = len(rows) + len({e.line for e in errors} - {line for line, _ in rows})
            refused = len({e.line for e in errors})
            audit("people.imported", outcome="refused", source=source, rows=total, rows_refused=refused)
            raise ImportRejected(
                f"{csv_path.name}: {refused} of {total} rows refused, nothing imported", errors
            )
        try:
            self._write(people, source)
        except DuplicatePerson:
            audit("people.imported", outcome="refused", source=source, rows=len(rows), reason="concurrent")
            raise ImportRejected(
                "someone registered one of these people while the import ran: nothing imported; "
                "run it again to see which"
            ) from None
        for person in people:
            audit("person.added", iin=person.iin, source=source, original_kept=keep_photo)
        audit("people.imported", source=source, count=len(people), originals_kept=keep_photo)
        return [self._reload(p.iin) for p in people]

    def remove(self, iin: str) -> None:
        """Take a person off record (``PersonNotFound`` when not there)."""
        iin = validate_iin(iin)
        removed = db.session.execute(delete(Person).where(Person.iin == iin)).rowcount
        db.session.commit()
        if not removed:
            raise PersonNotFound(f"nobody with IIN {iin} is on record")
        audit("person.removed", iin=iin)

    # -- internals -------------------------------------------------------------
    def _photo_of_row(
        self, root: Path, value: str, problems: list[str]
    ) -> tuple[bytes | None, np.ndarray | None]:
        try:
            path = _photo_path(root, value)
            photo = read_photo_file(path)
            return photo, reference_encoding(load_photo(photo))
        except BiometricsError as error:
            problems.append(str(error))
            return None, None

    def _refuse_registered(self, new: _NewPerson) -> None:
        if db.session.get(Person, new.iin) is not None:
            raise DuplicatePerson(f"IIN {new.iin} is already on record")
        if db.session.scalar(select(Person.iin).where(Person.phone == new.phone)) is not None:
            raise DuplicatePerson("this phone is already on record for another person")

    def _registered_already(
        self, line_of_iin: dict[str, int], line_of_phone: dict[str, int]
    ) -> list[tuple[int, str]]:
        """(line, problem) for every IIN or phone of the file that is already on record."""
        found = []
        for chunk in _chunks(list(line_of_iin)):
            for iin in db.session.scalars(select(Person.iin).where(Person.iin.in_(chunk))):
                found.append((line_of_iin[iin], f"IIN {iin} is already on record"))
        for chunk in _chunks(list(line_of_phone)):
            for phone in db.session.scalars(select(Person.phone).where(Person.phone.in_(chunk))):
                found.append((line_of_phone[phone], "this phone is already on record for another person"))
        return found

    def _write(self, people: list[_NewPerson], source: str) -> None:
        now = clock.now_int()
        for new in people:
            db.session.add(
                Person(
                    iin=new.iin,
                    full_name=new.full_name,
                    phone=new.phone,
                    sealed_encoding=seal_encoding(self._key, new.encoding, iin=new.iin),
                    sealed_photo=None if new.photo is None else seal_photo(self._key, new.photo, iin=new.iin),
                    source=source,
                    created_at=now,
                    updated_at=now,
                )
            )
        try:
            db.session.commit()
        except IntegrityError:
            # Checked before, so only a concurrent registration gets here.
            db.session.rollback()
            raise DuplicatePerson("this IIN or phone was put on record meanwhile") from None

    def _reload(self, iin: str) -> PersonOnRecord:
        return _on_record(db.session.get(Person, iin))


def _on_record(person: Person) -> PersonOnRecord:
    return PersonOnRecord(
        iin=person.iin,
        full_name=person.full_name,
        phone=person.phone,
        photo_kept=person.sealed_photo is not None,
        source=person.source,
        created_at=person.created_at,
    )


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}")


def _checked(validate: Callable[[str], str], value: str, problems: list[str]) -> str | None:
    try:
        return validate(value)
    except BiometricsError as error:
        problems.append(str(error))
        return None


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _LOOKUP_CHUNK):
        yield items[start : start + _LOOKUP_CHUNK]


def _photo_path(root: Path, value: str) -> Path:
    """The photo file a row names: a relative path that stays inside the import directory."""
    value = value.strip()
    if not value:
        raise UnreadablePhoto("the photo column is empty")
    relative = Path(value)
    if relative.is_absolute():
        raise PhotoOutsideImport(f"photo {value!r}: give a path relative to the import directory")
    # resolve() follows symbolic links too, so a link pointing outside is caught.
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise PhotoOutsideImport(f"photo {value!r} is outside the import directory")
    if not path.is_file():
        raise UnreadablePhoto(f"photo {value!r} does not exist in the import directory")
    return path


def _csv_in(root: Path) -> Path:
    named = root / IMPORT_CSV
    if named.is_file():
        return named
    others = sorted(p for p in root.glob("*.csv") if p.is_file())
    if len(others) == 1:
        return others[0]
    raise ImportRejected(f"{root} holds no {IMPORT_CSV} (columns {','.join(IMPORT_COLUMNS)})")


def _read_rows(csv_path: Path) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    """The CSV's data rows with their line numbers, and the rows of the wrong shape.

    A missing or wrong header refuses the import at once.
    """
    try:
        with open(csv_path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header: list[str] | None = None
            rows: list[tuple[int, dict[str, str]]] = []
            shape_errors: list[RowError] = []
            for record in reader:
                if not any(cell.strip() for cell in record):
                    continue  # blank line
                if header is None:
                    header = [cell.strip().lower() for cell in record]
                    if sorted(header) != sorted(IMPORT_COLUMNS):
                        raise ImportRejected(
                            f"{csv_path.name}, line {reader.line_num}: the header must name the columns "
                            f"{','.join(IMPORT_COLUMNS)}, found {','.join(header)}"
                        )
                    continue
                if len(record) != len(header):
                    shape_errors.append(
                        RowError(reader.line_num, f"{len(record)} fields, expected {len(header)}")
                    )
                    continue
                rows.append((reader.line_num, dict(zip(header, record, strict=True))))
    except UnicodeDecodeError:
        raise ImportRejected(f"{csv_path.name} is not UTF-8 text") from None
    except csv.Error as error:
        raise ImportRejected(f"{csv_path.name} is not a readable CSV file: {error}") from None
    if header is None:
        raise ImportRejected(f"{csv_path.name} is empty")
    return rows, shape_errors
