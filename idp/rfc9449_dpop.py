"""OAuth 2.0 Demonstrating Proof of Possession (DPoP), RFC 9449.

Every access token Senim issues is bound to the client's DPoP key (``cnf.jkt``,
§6); the token endpoint refuses a request without a valid proof. The same
verification serves protected resources (userinfo, the resource proxy), where
the proof must also carry ``ath``, the hash of the access token (§4.3, §7).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from idp.errors import (
    DPoPKeyMismatch,
    DPoPProofMissing,
    DPoPProofReplayed,
    DPoPProofStale,
    InvalidDPoPProof,
    UseDPoPNonce,
)
from idp.replay import use_once

#: §4.2: asymmetric algorithms only; FAPI 2.0 §5.4 allows PS256, ES256, EdDSA.
DPOP_ALGS = ("ES256", "PS256", "EdDSA")
_KEY_TYPES = {"EC": ECKey, "RSA": RSAKey, "OKP": OKPKey}
#: Proofs may be this many seconds ahead of our clock (clock skew).
FUTURE_SKEW = 5
NONCE_PERIOD = 300


@dataclass(frozen=True)
class DPoPProof:
    jkt: str
    jti: str
    iat: int


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def access_token_hash(access_token: str) -> str:
    """``ath`` (§4.2): base64url of the SHA-256 of the access token's ASCII."""
    return b64url(hashlib.sha256(access_token.encode()).digest())


def normalize_htu(url: str) -> str:
    """§4.3 step 9: compare without query and fragment, scheme and host lowercased."""
    parts = urlsplit(url)
    netloc = parts.netloc.lower()
    scheme = parts.scheme.lower()
    if (scheme, netloc.rsplit(":", 1)[-1]) in (("https", "443"), ("http", "80")):
        netloc = netloc.rsplit(":", 1)[0]
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


class NonceSource:
    """Server-provided nonces (§8) without server-side state: an HMAC of the
    current time period; the current and the previous period are accepted."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _for_period(self, period: int) -> str:
        mac = hmac.new(self._secret, f"dpop-nonce:{period}".encode(), hashlib.sha256)
        return b64url(mac.digest()[:18])

    def current(self, now: float) -> str:
        return self._for_period(int(now) // NONCE_PERIOD)

    def is_valid(self, nonce: str, now: float) -> bool:
        period = int(now) // NONCE_PERIOD
        return any(
            hmac.compare_digest(nonce.encode(), self._for_period(p).encode()) for p in (period, period - 1)
        )


#: Anything a malformed proof can make the parsers raise; each is a refusal, never a 500.
_MALFORMED = (JoseError, ValueError, TypeError, KeyError, AttributeError, RecursionError, binascii.Error)
MAX_PROOF_LENGTH = 8192
MIN_RSA_BITS = 2048  # FAPI 2.0 SP §5.4.1


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _json_object(data: bytes | str) -> dict:
    value = json.loads(data, parse_constant=_reject_constant)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _parse_proof(proof: str) -> tuple[dict, ECKey | RSAKey | OKPKey, dict]:
    """§4.3 steps 2 to 7: the proof's header, its public key and its verified claims."""
    if len(proof) > MAX_PROOF_LENGTH:
        raise InvalidDPoPProof("The DPoP proof is too large.")
    try:
        segment = proof.split(".")[0]
        header = _json_object(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except _MALFORMED:
        raise InvalidDPoPProof("The DPoP proof is not a JWT.") from None
    # (4) typ, (5) an asymmetric algorithm we support.
    if header.get("typ") != "dpop+jwt":
        raise InvalidDPoPProof("The DPoP proof must have typ dpop+jwt.")
    alg = header.get("alg")
    if alg not in DPOP_ALGS:
        raise InvalidDPoPProof("The DPoP proof algorithm is not supported.")
    # (6) the jwk header is a public key.
    jwk = header.get("jwk")
    if not isinstance(jwk, dict) or not isinstance(jwk.get("kty"), str) or jwk["kty"] not in _KEY_TYPES:
        raise InvalidDPoPProof("The DPoP proof must carry a public jwk.")
    if any(p in jwk for p in ("d", "p", "q", "dp", "dq", "qi", "k")):
        raise InvalidDPoPProof("The DPoP proof jwk must not contain a private key.")
    try:
        key = _KEY_TYPES[jwk["kty"]].import_key(jwk)
        if isinstance(key, RSAKey) and key.raw_value.key_size < MIN_RSA_BITS:
            raise InvalidDPoPProof("The DPoP proof key is too small.")
        # (7) the signature verifies with that key.
        obj = jws.deserialize_compact(proof, key, algorithms=[alg])
        claims = _json_object(obj.payload)
    except InvalidDPoPProof:
        raise
    except _MALFORMED:
        raise InvalidDPoPProof("The DPoP proof signature or key is invalid.") from None
    return header, key, claims


def _same(presented: object, expected: str) -> bool:
    """Constant-time comparison of a claim a client sent with what we expect."""
    return isinstance(presented, str) and hmac.compare_digest(presented.encode(), expected.encode())


def verify_dpop_proof(
    proofs: list[str],
    *,
    method: str,
    url: str,
    now: float,
    iat_window: int,
    nonces: NonceSource,
    require_nonce: bool,
    access_token: str | None = None,
    expected_jkt: str | None = None,
) -> DPoPProof:
    """Check a DPoP proof as RFC 9449 §4.3 lists, in its order; return the key's thumbprint."""
    # §4.3 (1): exactly one DPoP header.
    if not proofs:
        raise DPoPProofMissing()
    if len(proofs) > 1:
        raise InvalidDPoPProof("Exactly one DPoP header is allowed.")
    _header, key, claims = _parse_proof(proofs[0])
    # (3): required claims.
    for name in ("jti", "htm", "htu", "iat"):
        if name not in claims:
            raise InvalidDPoPProof(f"The DPoP proof lacks the '{name}' claim.")
    jti, iat = claims["jti"], claims["iat"]
    if not isinstance(jti, str) or not 8 <= len(jti) <= 256:
        raise InvalidDPoPProof("The DPoP proof 'jti' is invalid.")
    # iat is a NumericDate (RFC 7519 §2): an integer or a fraction.
    if not isinstance(iat, (int, float)) or isinstance(iat, bool) or iat != iat:
        raise InvalidDPoPProof("The DPoP proof 'iat' is invalid.")
    # (8) and (9): bound to this request's method and URI.
    if claims["htm"] != method:
        raise InvalidDPoPProof("The DPoP proof 'htm' does not match the request method.")
    try:
        htu_matches = isinstance(claims["htu"], str) and normalize_htu(claims["htu"]) == normalize_htu(url)
    except ValueError:
        htu_matches = False
    if not htu_matches:
        raise InvalidDPoPProof("The DPoP proof 'htu' does not match the request URI.")
    # (10): server-provided nonce, when this server requires one.
    if require_nonce:
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not nonce.isascii() or not nonces.is_valid(nonce, now):
            raise UseDPoPNonce(nonces.current(now))
    # (11): created within an acceptable window.
    if iat > now + FUTURE_SKEW or iat < now - iat_window:
        raise DPoPProofStale()
    # (12): at a protected resource, bound to the presented access token.
    if access_token is not None and not _same(claims.get("ath"), access_token_hash(access_token)):
        raise InvalidDPoPProof("The DPoP proof 'ath' does not match the access token.")
    jkt = key.thumbprint()
    # §7.1 / §5: the key is the one the token or grant is bound to.
    if expected_jkt is not None and not _same(jkt, expected_jkt):
        raise DPoPKeyMismatch()
    # §11.1: a proof is used once within its window.
    use_once("dpop", f"{jkt}:{jti}", int(iat) + iat_window + FUTURE_SKEW, DPoPProofReplayed)
    return DPoPProof(jkt=jkt, jti=jti, iat=iat)
