"""The phone on record: a Kazakh mobile number, kept in E.164 (``+77xxxxxxxxx``).

Kazakhstan shares the country code +7 with Russia; its mobile numbers are
the ones whose national number starts with 7. Written the local way they
start with 8 (``8 701 234 56 78``).
"""

from __future__ import annotations

import re

from biometrics.errors import InvalidPhone

# Separators people type between the groups of digits.
_SEPARATORS = re.compile(r"[\s\-()]")
# +7 7xx xxx xx xx, 8 7xx xxx xx xx, or 7 7xx xxx xx xx without the plus.
_KAZAKH_MOBILE = re.compile(r"(?:\+7|8|7)(7[0-9]{9})")


def normalize_phone(text: str) -> str:
    """``+77xxxxxxxxx`` for a Kazakh mobile number in any usual writing, or ``InvalidPhone``."""
    if not isinstance(text, str):
        raise InvalidPhone("a phone number is text such as +7 701 234 56 78")
    compact = _SEPARATORS.sub("", text)
    match = _KAZAKH_MOBILE.fullmatch(compact)
    if match is None:
        raise InvalidPhone(
            "not a Kazakh mobile number: write it as +7 7XX XXX XX XX or 8 7XX XXX XX XX "
            "(spaces and dashes allowed)"
        )
    return "+7" + match.group(1)


def mask_phone(e164: str) -> str:
    """The number as a list may show it: ``+7 7** *** ** 67``."""
    national = e164.removeprefix("+7")
    if len(national) != 10:
        return "***"
    return f"+7 {national[0]}** *** ** {national[8:]}"


def format_phone(e164: str) -> str:
    """``+7 701 234 56 78`` for reading."""
    n = e164.removeprefix("+7")
    return f"+7 {n[0:3]} {n[3:6]} {n[6:8]} {n[8:10]}"
