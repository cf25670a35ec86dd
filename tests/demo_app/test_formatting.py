"""How Qarjy shows money, IBANs and the banks it is given."""

from __future__ import annotations

from decimal import Decimal

import pytest

from demo_app.banks import Bank, parse_banks
from demo_app.dashboard import format_iban, format_money


def test_amounts_have_grouped_thousands_two_decimals_and_the_currency_sign() -> None:
    assert format_money(Decimal("1234567.5"), "KZT") == "1\u202f234\u202f567.50\u00a0₸"
    assert format_money(Decimal("-12.3"), "USD") == "−12.30\u00a0$"
    assert format_money(Decimal("40"), "KZT", signed=True) == "+40.00\u00a0₸"
    assert format_money(Decimal("7"), "CHF") == "7.00\u00a0CHF"
    assert format_money(None) == "—"


def test_an_iban_is_shown_in_groups_of_four() -> None:
    assert format_iban("KZ86125KZT5004100100") == "KZ86 125K ZT50 0410 0100"
    assert format_iban(None) == ""


def test_the_banks_option_names_each_bank_by_participant_id() -> None:
    assert parse_banks("a1=Altyn Demo Bank, b2=Dala Demo Bank,c3") == (
        Bank("a1", "Altyn Demo Bank"),
        Bank("b2", "Dala Demo Bank"),
        Bank("c3", "c3"),
    )
    assert parse_banks("") == ()
    with pytest.raises(ValueError, match="no bank id"):
        parse_banks("=Nameless")
