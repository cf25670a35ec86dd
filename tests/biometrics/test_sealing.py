"""Sealing: encodings and photos encrypted at rest, bound to their person and purpose."""

from __future__ import annotations

import os

import numpy as np
import pytest

from biometrics.errors import SealBroken
from biometrics.sealing import (
    seal,
    seal_encoding,
    seal_photo,
    unseal,
    unseal_encoding,
    unseal_photo,
)

KEY = bytes(range(32))
IIN = "900101300017"
OTHER_IIN = "850202300014"


@pytest.fixture(scope="module")
def encoding() -> np.ndarray:
    return np.random.default_rng(7).normal(0, 0.1, 128)


def test_an_encoding_opens_to_the_same_numbers(encoding) -> None:
    sealed = seal_encoding(KEY, encoding, iin=IIN)
    assert np.array_equal(unseal_encoding(KEY, sealed, iin=IIN), encoding)
    assert encoding.tobytes() not in sealed


def test_the_same_value_seals_differently_each_time(encoding) -> None:
    assert seal_encoding(KEY, encoding, iin=IIN) != seal_encoding(KEY, encoding, iin=IIN)


def test_another_key_does_not_open_it(encoding) -> None:
    sealed = seal_encoding(KEY, encoding, iin=IIN)
    with pytest.raises(SealBroken, match="does not open"):
        unseal_encoding(os.urandom(32), sealed, iin=IIN)


def test_an_encoding_moved_to_another_persons_row_does_not_open(encoding) -> None:
    sealed = seal_encoding(KEY, encoding, iin=IIN)
    with pytest.raises(SealBroken):
        unseal_encoding(KEY, sealed, iin=OTHER_IIN)


def test_a_sealed_photo_cannot_pass_for_an_encoding() -> None:
    sealed = seal_photo(KEY, b"\xff\xd8\xff" + bytes(1024), iin=IIN)
    with pytest.raises(SealBroken):
        unseal_encoding(KEY, sealed, iin=IIN)
    assert unseal_photo(KEY, sealed, iin=IIN) == b"\xff\xd8\xff" + bytes(1024)


def test_a_flipped_bit_is_detected(encoding) -> None:
    sealed = bytearray(seal_encoding(KEY, encoding, iin=IIN))
    sealed[40] ^= 1
    with pytest.raises(SealBroken):
        unseal_encoding(KEY, bytes(sealed), iin=IIN)


def test_damaged_or_unknown_versions_are_refused() -> None:
    sealed = seal(KEY, b"x", iin=IIN, purpose="test")
    with pytest.raises(SealBroken, match="version"):
        unseal(KEY, b"\x02" + sealed[1:], iin=IIN, purpose="test")
    with pytest.raises(SealBroken):
        unseal(KEY, sealed[:10], iin=IIN, purpose="test")


def test_only_a_256_bit_key_is_accepted(encoding) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        seal_encoding(bytes(16), encoding, iin=IIN)


def test_only_128_number_encodings_are_sealed() -> None:
    with pytest.raises(ValueError, match="128"):
        seal_encoding(KEY, np.zeros(64), iin=IIN)
