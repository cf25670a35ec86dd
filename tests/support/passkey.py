"""A software passkey for tests: soft-webauthn's authenticator, with user verification.

``soft_webauthn.SoftWebauthnDevice`` makes real ES256 credentials and
signatures but sets only the "user present" flag; Senim requires "user
verified" (a PIN or biometric on the device), so this wrapper sets that
flag and signs again with the device's key. Options and answers are the
JSON the page's script exchanges with the server (base64url for bytes).
"""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor
from soft_webauthn import SoftWebauthnDevice

USER_VERIFIED = 0x04


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Passkey:
    """One credential on one device, as a browser would present it."""

    def __init__(self, *, verify_user: bool = True) -> None:
        self.device = SoftWebauthnDevice()
        self.verify_user = verify_user

    @property
    def credential_id(self) -> bytes:
        return self.device.credential_id

    def create(self, options: dict, origin: str) -> dict:
        """``navigator.credentials.create`` for the server's ``publicKey`` options (JSON form)."""
        public_key = dict(options)
        public_key["challenge"] = unb64url(options["challenge"])
        public_key["user"] = {**options["user"], "id": unb64url(options["user"]["id"])}
        answer = self.device.create({"publicKey": public_key}, origin)
        attestation = cbor.decode(answer["response"]["attestationObject"])
        if self.verify_user:
            auth_data = bytearray(attestation["authData"])
            auth_data[32] |= USER_VERIFIED
            attestation["authData"] = bytes(auth_data)
        return {
            "id": b64url(answer["rawId"]),
            "rawId": b64url(answer["rawId"]),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(answer["response"]["clientDataJSON"]),
                "attestationObject": b64url(cbor.encode(attestation)),
            },
        }

    def get(self, options: dict, origin: str) -> dict:
        """``navigator.credentials.get`` for the server's ``publicKey`` options (JSON form)."""
        public_key = {"rpId": options["rpId"], "challenge": unb64url(options["challenge"])}
        answer = self.device.get({"publicKey": public_key}, origin)
        auth_data = bytearray(answer["response"]["authenticatorData"])
        client_data = answer["response"]["clientDataJSON"]
        signature = answer["response"]["signature"]
        if self.verify_user:
            auth_data[32] |= USER_VERIFIED
            signed = bytes(auth_data) + hashlib.sha256(client_data).digest()
            signature = self.device.private_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(answer["rawId"]),
            "rawId": b64url(answer["rawId"]),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(bytes(auth_data)),
                "signature": b64url(signature),
                "userHandle": b64url(answer["response"]["userHandle"]),
            },
        }


def client_data(credential: dict) -> dict:
    return json.loads(unb64url(credential["response"]["clientDataJSON"]))
