"""The IIN: 12 digits, a real date of birth, a century-and-sex digit, the check digit."""

from __future__ import annotations

from datetime import date

import pytest

from biometrics.errors import InvalidIIN
from biometrics.iin import birth_date, iin_check_digit, make_iin, validate_iin

# Check digits worked out by hand from the published algorithm.
VALID = [
    "900101300017",  # 1990-01-01, male, first weighting
    "900101400404",  # 1990-01-01, female: the first weighting gives 10, the second 4
    "000229500018",  # 2000-02-29 (a leap year), male
    "000229601230",  # 2000-02-29, female
    "991231100427",  # 1899-12-31, male
    "750615200776",  # 1875-06-15, female
    "891231409994",  # 1989-12-31, female
]


@pytest.mark.parametrize("iin", VALID)
def test_computed_valid_iins_are_accepted(iin: str) -> None:
    assert validate_iin(iin) == iin


def test_surrounding_spaces_are_ignored() -> None:
    assert validate_iin(" 900101300017\n") == "900101300017"


@pytest.mark.parametrize("iin", VALID)
def test_every_other_check_digit_is_refused(iin: str) -> None:
    for digit in "0123456789":
        if digit != iin[-1]:
            with pytest.raises(InvalidIIN, match="check digit"):
                validate_iin(iin[:-1] + digit)


def test_second_weighting_is_used_when_the_first_gives_ten() -> None:
    assert iin_check_digit("90010140040") == 4


def test_eleven_digits_without_any_check_digit_are_never_an_iin() -> None:
    # Both weightings give 10 for these digits.
    with pytest.raises(InvalidIIN, match="no check digit"):
        iin_check_digit("01031530054")
    for digit in "0123456789":
        with pytest.raises(InvalidIIN, match="no valid check digit"):
            validate_iin("01031530054" + digit)


@pytest.mark.parametrize(
    "first_eleven",
    [
        "90130130001",  # month 13
        "90023030001",  # 30 February
        "00022930001",  # 29 February 1900: not a leap year
        "90000030001",  # month 0
        "90010030001",  # day 0
    ],
)
def test_a_birth_date_that_is_not_a_date_is_refused(first_eleven: str) -> None:
    iin = first_eleven + str(iin_check_digit(first_eleven))
    with pytest.raises(InvalidIIN, match="date of birth"):
        validate_iin(iin)


@pytest.mark.parametrize("century", "0789")
def test_a_century_digit_outside_one_to_six_is_refused(century: str) -> None:
    first_eleven = f"900101{century}0001"
    try:
        iin = first_eleven + str(iin_check_digit(first_eleven))
    except InvalidIIN:
        iin = first_eleven + "0"
    with pytest.raises(InvalidIIN, match="7th digit"):
        validate_iin(iin)


@pytest.mark.parametrize("text", ["90010130001X", "9001013000 7", "900101-30001", "٩٠٠١٠١٣٠٠٠١٧", ""])
def test_non_digits_are_refused(text: str) -> None:
    with pytest.raises(InvalidIIN, match="digits"):
        validate_iin(text)


@pytest.mark.parametrize("text", ["90010130001", "9001013000170", "1"])
def test_a_wrong_length_is_refused(text: str) -> None:
    with pytest.raises(InvalidIIN, match="12 digits"):
        validate_iin(text)


@pytest.mark.parametrize(
    ("born", "female", "century_digit"),
    [(date(1850, 5, 5), False, "1"), (date(1990, 1, 1), True, "4"), (date(2004, 2, 29), False, "5")],
)
def test_make_iin_gives_a_valid_iin_for_the_date_and_sex(
    born: date, female: bool, century_digit: str
) -> None:
    iin = make_iin(born, female=female)
    assert validate_iin(iin) == iin
    assert iin[6] == century_digit
    assert birth_date(iin) == born


def test_make_iin_skips_serials_without_a_check_digit() -> None:
    # 900101400430 would need serial 0043, which has no check digit.
    assert make_iin(date(1990, 1, 1), female=True, serial=43) == "900101400441"
