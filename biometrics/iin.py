"""The Kazakhstan individual identification number (IIN, ЖСН/ИИН).

Twelve digits:

    YYMMDD  C  SSSS  K
    birth   |  |     check digit
    date    |  serial number
            century and sex: 1/2 born in the 1800s, 3/4 in the 1900s,
            5/6 in the 2000s (odd: male, even: female)

The check digit is the weighted sum of the first eleven digits with weights
1..11, modulo 11. When that gives 10, the sum is taken again with weights
3, 4, …, 11, 1, 2; when that gives 10 too, no check digit exists and such a
number is never issued.
"""

from __future__ import annotations

import re
from datetime import date

from biometrics.errors import InvalidIIN

_TWELVE_DIGITS = re.compile(r"[0-9]{12}")
_FIRST_WEIGHTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_SECOND_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
#: The seventh digit: the century of birth it stands for.
_CENTURY = {"1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000}


def _weighted(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11


def iin_check_digit(first_eleven: str) -> int:
    """The check digit that completes these eleven digits.

    Raises ``InvalidIIN`` when none exists (both weightings give 10).
    """
    if not re.fullmatch(r"[0-9]{11}", first_eleven):
        raise InvalidIIN("the first eleven digits of an IIN are needed to compute its check digit")
    digit = _weighted(first_eleven, _FIRST_WEIGHTS)
    if digit == 10:
        digit = _weighted(first_eleven, _SECOND_WEIGHTS)
    if digit == 10:
        raise InvalidIIN(f"no check digit exists for {first_eleven}: no IIN starts with these digits")
    return digit


def validate_iin(text: str) -> str:
    """The IIN in ``text`` (surrounding spaces ignored), or ``InvalidIIN`` saying what is wrong."""
    if not isinstance(text, str):
        raise InvalidIIN("an IIN is text of 12 digits")
    iin = text.strip()
    if not _TWELVE_DIGITS.fullmatch(iin):
        if not iin.isascii() or not iin.isdigit():
            raise InvalidIIN("an IIN has digits only (12 digits)")
        raise InvalidIIN(f"an IIN has 12 digits, this one has {len(iin)}")
    century = _CENTURY.get(iin[6])
    if century is None:
        raise InvalidIIN(f"IIN {iin}: the 7th digit (century and sex) must be 1 to 6, not {iin[6]}")
    try:
        date(century + int(iin[0:2]), int(iin[2:4]), int(iin[4:6]))
    except ValueError:
        raise InvalidIIN(f"IIN {iin}: the first six digits are not a date of birth (YYMMDD)") from None
    try:
        expected = iin_check_digit(iin[:11])
    except InvalidIIN:
        raise InvalidIIN(f"IIN {iin}: no valid check digit exists for its first eleven digits") from None
    if int(iin[11]) != expected:
        raise InvalidIIN(f"IIN {iin}: wrong check digit (a typing error?)")
    return iin


def birth_date(iin: str) -> date:
    """The date of birth an IIN records."""
    iin = validate_iin(iin)
    return date(_CENTURY[iin[6]] + int(iin[0:2]), int(iin[2:4]), int(iin[4:6]))


def make_iin(born: date, *, female: bool = False, serial: int = 1) -> str:
    """A valid IIN for this date of birth and sex (for tests and demo data).

    Takes the first serial number from ``serial`` on that has a check digit.
    """
    if not 1800 <= born.year <= 2099:
        raise InvalidIIN("an IIN records a birth year from 1800 to 2099")
    century_digit = (born.year - 1800) // 100 * 2 + (2 if female else 1)
    for candidate in range(serial, 10_000):
        first_eleven = f"{born:%y%m%d}{century_digit}{candidate:04d}"
        try:
            return first_eleven + str(iin_check_digit(first_eleven))
        except InvalidIIN:
            continue
    raise InvalidIIN(f"no serial number from {serial} on gives a valid IIN for {born}")
