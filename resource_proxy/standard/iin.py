"""The Kazakh IIN/BIN check digit, so a bank (which does not import the platform) can name holders.

The standard identifies an account holder by IIN (a person) or BIN (a legal
entity): 12 digits, the last a check digit — the weighted sum of the first
eleven with weights 1..11, mod 11; when that is 10, again with weights
3..11, 1, 2; when still 10, no such number is issued. The same rule as the
platform's ``biometrics.iin``, repeated here because the standard package
stands alone.
"""

from __future__ import annotations

import re

IIN_PATTERN = r"^[0-9]{12}$"
_FIRST = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_SECOND = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)


def iin_check_digit(first_eleven: str) -> int | None:
    """The check digit completing these eleven digits, or None when no number starts with them."""
    if not re.fullmatch(r"[0-9]{11}", first_eleven):
        raise ValueError("eleven digits are needed")
    for weights in (_FIRST, _SECOND):
        digit = sum(int(d) * w for d, w in zip(first_eleven, weights, strict=True)) % 11
        if digit != 10:
            return digit
    return None


def is_valid_iin(text: str) -> bool:
    """Whether ``text`` is 12 digits whose last is the right check digit (IIN or BIN)."""
    if not isinstance(text, str) or not re.fullmatch(IIN_PATTERN, text):
        return False
    return iin_check_digit(text[:11]) == int(text[11])
