"""The platform's signing keys: generated on first start, stored as files
(mode 0600) under the key directory, rotated with ``senim keys rotate``.

A new key is published in the JWKS before it signs anything (for as long as
verifiers may cache the JWKS), and a rotated-out key stays published until
every token it signed has expired (its ``retired_at`` plus the longest token
lifetime): resource servers and clients never meet a signature they cannot
verify.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from joserfc.jwk import ECKey, KeySet, RSAKey

KEY_FILE_SUFFIX = ".jwk.json"
SECRET_FILE = "server-secret"
#: How long verifiers may cache /jwks; a new key is published this long before it signs.
JWKS_MAX_AGE = 60


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    created_at: float
    not_before: float
    retired_at: float | None
    key: ECKey | RSAKey

    def signs_at(self, now: float) -> bool:
        return self.not_before <= now and (self.retired_at is None or self.retired_at > now)

    def public_jwk(self) -> dict:
        jwk = self.key.as_dict(private=False)
        jwk.update({"kid": self.kid, "alg": self.alg, "use": "sig"})
        return jwk


def _generate(alg: str) -> ECKey | RSAKey:
    if alg == "ES256":
        return ECKey.generate_key("P-256")
    if alg == "PS256":
        return RSAKey.generate_key(2048)
    raise ValueError(f"unsupported signing alg {alg}")


def _write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read, atomically."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


class KeyRing:
    """Signing keys of the platform, loaded from ``key_dir``.

    Workers notice a rotation made by another process by the directory's
    modification time, checked at most once a second.
    """

    def __init__(
        self, key_dir: Path, alg: str, retention_seconds: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.key_dir = Path(key_dir)
        self.alg = alg
        self.retention_seconds = retention_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: list[SigningKey] = []
        self._loaded_signature: tuple = ()
        self._checked_at = 0.0

    # -- files -------------------------------------------------------------
    def ensure(self) -> None:
        """Create the directory and a first key if there is none."""
        self.key_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.key_dir, 0o700)
        if not any(self.key_dir.glob(f"*{KEY_FILE_SUFFIX}")):
            now = self.clock()
            self._create_key(now, not_before=now)
        secret = self.key_dir / SECRET_FILE
        if not secret.exists():
            _write_private(secret, secrets.token_bytes(32))
        self._load()

    def _create_key(self, now: float, not_before: float) -> SigningKey:
        key = _generate(self.alg)
        kid = f"{time.strftime('%Y%m%d', time.gmtime(now))}-{secrets.token_hex(4)}"
        record = {
            "kid": kid,
            "alg": self.alg,
            "created_at": now,
            "not_before": not_before,
            "retired_at": None,
            "jwk": key.as_dict(private=True),
        }
        _write_private(self.key_dir / f"{kid}{KEY_FILE_SUFFIX}", json.dumps(record).encode())
        return SigningKey(kid, self.alg, now, not_before, None, key)

    def rotate(self, now: float | None = None) -> SigningKey:
        """Make a new signing key. It is published at once and signs after
        ``JWKS_MAX_AGE``; until then, and for as long as their tokens live, the
        current keys stay published. The new key is written before the old
        ones are retired, so a worker reloading in between always finds a key
        that signs."""
        now = self.clock() if now is None else now
        with self._lock:
            self.key_dir.mkdir(parents=True, exist_ok=True)
            old = sorted(self.key_dir.glob(f"*{KEY_FILE_SUFFIX}"))
            new = self._create_key(now, not_before=now + JWKS_MAX_AGE)
            for path in old:
                record = json.loads(path.read_text())
                if record.get("retired_at") is None:
                    record["retired_at"] = new.not_before
                    _write_private(path, json.dumps(record).encode())
            self._load()
            return new

    def prune(self, now: float | None = None) -> list[str]:
        """Delete retired keys no token can still depend on; returns their kids."""
        now = self.clock() if now is None else now
        removed = []
        for path in sorted(self.key_dir.glob(f"*{KEY_FILE_SUFFIX}")):
            record = json.loads(path.read_text())
            retired = record.get("retired_at")
            if retired is not None and retired + self.retention_seconds < now:
                path.unlink()
                removed.append(record["kid"])
        self._load()
        return removed

    def _signature(self) -> tuple:
        """What the key files look like now: names and modification times."""
        entries = []
        for path in self.key_dir.glob(f"*{KEY_FILE_SUFFIX}"):
            try:
                entries.append((path.name, path.stat().st_mtime_ns))
            except FileNotFoundError:
                continue
        return tuple(sorted(entries))

    def _load(self) -> None:
        signature = self._signature()
        keys = []
        for path in self.key_dir.glob(f"*{KEY_FILE_SUFFIX}"):
            record = json.loads(path.read_text())
            jwk = record["jwk"]
            key = ECKey.import_key(jwk) if jwk["kty"] == "EC" else RSAKey.import_key(jwk)
            keys.append(
                SigningKey(
                    record["kid"],
                    record["alg"],
                    record["created_at"],
                    record.get("not_before", record["created_at"]),
                    record.get("retired_at"),
                    key,
                )
            )
        keys.sort(key=lambda k: k.created_at, reverse=True)
        self._keys = keys
        self._loaded_signature = signature

    def _refresh_if_changed(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < 1.0:
            return
        self._checked_at = now
        if self._signature() != self._loaded_signature:
            with self._lock:
                self._load()

    # -- use ---------------------------------------------------------------
    @property
    def signing_key(self) -> SigningKey:
        self._refresh_if_changed()
        now = self.clock()
        active = [k for k in self._keys if k.signs_at(now)]
        if not active:
            raise RuntimeError(f"no active signing key in {self.key_dir}; run 'senim keys rotate'")
        return active[0]

    @property
    def keys(self) -> list[SigningKey]:
        """Every key on disk, newest first."""
        self._refresh_if_changed()
        return list(self._keys)

    def published(self, now: float | None = None) -> list[SigningKey]:
        """Keys a verifier may need: upcoming, signing, and recently retired ones."""
        self._refresh_if_changed()
        now = self.clock() if now is None else now
        return [k for k in self._keys if k.retired_at is None or k.retired_at + self.retention_seconds >= now]

    def jwks(self, now: float | None = None) -> dict:
        return {"keys": [k.public_jwk() for k in self.published(now)]}

    def verification_keyset(self, now: float | None = None) -> KeySet:
        keys = []
        for k in self.published(now):
            data = k.key.as_dict(private=False)
            data.update({"kid": k.kid, "alg": k.alg, "use": "sig"})
            keys.append(data)
        return KeySet.import_key_set({"keys": keys})

    @functools.cached_property
    def server_secret(self) -> bytes:
        """A random secret of this deployment (HMAC of DPoP nonces, session cookies, customer
        subjects); read once: it never changes while the platform runs."""
        return (self.key_dir / SECRET_FILE).read_bytes()


BIOMETRIC_KEY_FILE = "biometric-key"


class KeyConfigurationError(ValueError):
    """A configured key cannot be used; the message says which and why."""


def load_biometric_key(configured: str | None, key_dir: Path) -> bytes:
    """The 32-byte key that encrypts biometric references at rest (AES-256-GCM).

    From ``SENIM_BIOMETRIC_KEY`` (base64url of 32 bytes) when set; otherwise
    generated once into the key directory (mode 0600) for a laptop run.
    """
    if configured:
        try:
            key = base64.urlsafe_b64decode(configured + "=" * (-len(configured) % 4))
        except (ValueError, binascii.Error):
            raise KeyConfigurationError("SENIM_BIOMETRIC_KEY is not base64url") from None
        if len(key) != 32:
            raise KeyConfigurationError("SENIM_BIOMETRIC_KEY must encode exactly 32 bytes")
        return key
    path = Path(key_dir) / BIOMETRIC_KEY_FILE
    if not path.exists():
        Path(key_dir).mkdir(parents=True, exist_ok=True)
        # Written whole to a private temporary file, then linked into place:
        # of two processes starting together, one key wins and none reads half a file.
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        _write_private(tmp, secrets.token_bytes(32))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        tmp.unlink()
    return path.read_bytes()
