"""IBANs as ISO 13616 defines them, and the Kazakh form the standard requires.

A bank's answers name accounts by IBAN (Detail permission), and an API user
trusts them without asking the bank again, so the check digits must be right:
ISO 13616-1:2020 §6 (mod 97-10 of ISO/IEC 7064). A Kazakh IBAN is 20
characters: "KZ", two check digits, the 3-digit bank code, 13 alphanumerics
(the account number at that bank).
"""

from __future__ import annotations

import re

KZ_IBAN_PATTERN = r"^KZ[0-9]{2}[0-9]{3}[0-9A-Z]{13}$"
_ANY_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[0-9A-Z]{11,30}")
_BANK_CODE = re.compile(r"[0-9]{3}")
_ACCOUNT_NUMBER = re.compile(r"[0-9A-Z]{13}")


def _as_digits(text: str) -> int:
    # ISO 13616-1 §6.1: letters count as two digits, A = 10 … Z = 35.
    return int("".join(str(int(ch, 36)) for ch in text))


def _check_digits(country: str, bban: str) -> str:
    # §6.1: move country code and "00" to the end, take 98 - (number mod 97).
    return f"{98 - _as_digits(bban + country + '00') % 97:02d}"


def is_valid_iban(text: str) -> bool:
    """Whether ``text`` is an IBAN whose check digits are right (any country; no spaces)."""
    if not isinstance(text, str) or not _ANY_IBAN.fullmatch(text):
        return False
    # §6.2: the whole IBAN, rearranged, is 1 mod 97.
    return _as_digits(text[4:] + text[:4]) % 97 == 1


def is_valid_kz_iban(text: str) -> bool:
    """Whether ``text`` is a Kazakh IBAN (20 characters) with right check digits."""
    return isinstance(text, str) and re.fullmatch(KZ_IBAN_PATTERN, text) is not None and is_valid_iban(text)


def make_kz_iban(bank_code: str, account_number: str) -> str:
    """The Kazakh IBAN of ``account_number`` (13 alphanumerics) at the bank ``bank_code`` (3 digits)."""
    if not _BANK_CODE.fullmatch(bank_code):
        raise ValueError("a Kazakh bank code is 3 digits")
    account_number = account_number.upper()
    if not _ACCOUNT_NUMBER.fullmatch(account_number):
        raise ValueError("a Kazakh account number in an IBAN is 13 letters or digits")
    bban = bank_code + account_number
    return "KZ" + _check_digits("KZ", bban) + bban
