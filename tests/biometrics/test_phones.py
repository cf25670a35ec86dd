"""The phone on record: Kazakh mobile numbers, kept in E.164."""

from __future__ import annotations

import pytest

from biometrics.errors import InvalidPhone
from biometrics.phones import format_phone, mask_phone, normalize_phone


@pytest.mark.parametrize(
    "text",
    [
        "+77011234567",
        "+7 701 123 45 67",
        "+7 (701) 123-45-67",
        "+7-701-123-45-67",
        "87011234567",
        "8 701 123 45 67",
        "8-701-123-4567",
        "77011234567",
        " +7 701 123 45 67 ",
        "+7\u00a0701\u00a0123\u00a045\u00a067",  # non-breaking spaces, as pasted from documents
    ],
)
def test_kazakh_mobile_numbers_are_normalized_to_e164(text: str) -> None:
    assert normalize_phone(text) == "+77011234567"


@pytest.mark.parametrize(
    "text",
    [
        "+7 901 123 45 67",  # a Russian mobile number
        "+7 701 123 45 6",  # a digit short
        "+7 701 123 45 678",  # a digit too many
        "+8 701 123 45 67",
        "+998 90 123 45 67",  # Uzbekistan
        "7011234567",  # no country or trunk prefix
        "+7 701 123 45 6x",
        "+7 701 123.45.67",
        "",
    ],
)
def test_anything_else_is_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(InvalidPhone, match=r"\+7 7XX XXX XX XX"):
        normalize_phone(text)


def test_a_listed_phone_is_masked_but_for_its_last_two_digits() -> None:
    assert mask_phone("+77011234567") == "+7 7** *** ** 67"


def test_a_phone_is_formatted_in_the_usual_groups() -> None:
    assert format_phone("+77010000001") == "+7 701 000 00 01"
