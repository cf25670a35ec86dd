"""Encryption at rest of reference encodings and kept photos (AES-256-GCM).

A sealed value is ``version (1 byte) || nonce (12 bytes) || ciphertext+tag``.
The nonce is random for every value (96 bits, NIST SP 800-38D §8.2.2: fine
far beyond the number of values one key will seal). The associated data
names the person's IIN and what the value is for, so a sealed encoding
copied into another person's row, or a sealed photo put where an encoding
belongs, fails to open instead of silently matching someone else.

The key is always passed in; where it comes from (a secret store, the key
directory) is the caller's business.
"""

from __future__ import annotations

import os

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from biometrics.encoding import ENCODING_SIZE
from biometrics.errors import SealBroken

KEY_BYTES = 32
NONCE_BYTES = 12
_VERSION = b"\x01"
ENCODING_PURPOSE = "reference-encoding"
PHOTO_PURPOSE = "reference-photo"
# Encodings are stored as little-endian float64, whatever the machine.
_ENCODING_DTYPE = np.dtype("<f8")


def _aead(key: bytes) -> AESGCM:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise ValueError("the biometric key must be exactly 32 bytes (AES-256)")
    return AESGCM(key)


def _associated_data(iin: str, purpose: str) -> bytes:
    return f"senim/biometrics/v1|{purpose}|{iin}".encode()


def seal(key: bytes, plaintext: bytes, *, iin: str, purpose: str) -> bytes:
    """``plaintext`` encrypted and bound to this IIN and purpose."""
    nonce = os.urandom(NONCE_BYTES)
    return _VERSION + nonce + _aead(key).encrypt(nonce, plaintext, _associated_data(iin, purpose))


def unseal(key: bytes, sealed: bytes, *, iin: str, purpose: str) -> bytes:
    """The plaintext, or ``SealBroken`` (wrong key, other IIN or purpose, altered bytes)."""
    aead = _aead(key)
    sealed = bytes(sealed)
    if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[:1] != _VERSION:
        raise SealBroken("a sealed biometric value is damaged or of an unknown version")
    nonce, ciphertext = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    try:
        return aead.decrypt(nonce, ciphertext, _associated_data(iin, purpose))
    except InvalidTag:
        raise SealBroken(
            f"the sealed {purpose} of IIN {iin} does not open with this key "
            "(another key, or the value belongs to someone else)"
        ) from None


def seal_encoding(key: bytes, encoding: np.ndarray, *, iin: str) -> bytes:
    values = np.asarray(encoding, dtype=_ENCODING_DTYPE)
    if values.shape != (ENCODING_SIZE,):
        raise ValueError(f"a face encoding has {ENCODING_SIZE} values, got shape {values.shape}")
    return seal(key, values.tobytes(), iin=iin, purpose=ENCODING_PURPOSE)


def unseal_encoding(key: bytes, sealed: bytes, *, iin: str) -> np.ndarray:
    raw = unseal(key, sealed, iin=iin, purpose=ENCODING_PURPOSE)
    if len(raw) != ENCODING_SIZE * _ENCODING_DTYPE.itemsize:
        raise SealBroken(f"the sealed encoding of IIN {iin} has the wrong length")
    return np.frombuffer(raw, dtype=_ENCODING_DTYPE).astype(np.float64)


def seal_photo(key: bytes, photo: bytes, *, iin: str) -> bytes:
    return seal(key, photo, iin=iin, purpose=PHOTO_PURPOSE)


def unseal_photo(key: bytes, sealed: bytes, *, iin: str) -> bytes:
    return unseal(key, sealed, iin=iin, purpose=PHOTO_PURPOSE)
