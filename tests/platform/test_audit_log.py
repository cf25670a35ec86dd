"""The audit log: every refusal is there, no secret ever is."""

from __future__ import annotations

import json
import logging

import pytest

from senim.audit import REDACTED, redact
from tests.support import flow


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def audit_lines():
    logger = logging.getLogger("senim.audit")
    handler = _Collect()
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in handler.lines]
    logger.removeHandler(handler)


def test_a_whole_flow_leaves_no_secret_in_the_audit_log(api_user, audit_lines, clock) -> None:
    params = flow.authorize(api_user)
    tokens = api_user.exchange(params["code"]).get_json()
    api_user.refresh(tokens["refresh_token"])
    clock.advance(61)
    api_user.refresh(tokens["refresh_token"])  # reuse after the retry grace: a refusal
    api_user.client_credentials(dpop=None)  # refusal
    text = json.dumps(audit_lines())
    secrets = [
        params["code"],
        tokens["access_token"],
        tokens["refresh_token"],
        tokens["id_token"],
        api_user.verifier,
        api_user.key.as_dict(private=True)["d"],
    ]
    for secret in secrets:
        assert secret not in text
    events = [line["event"] for line in audit_lines()]
    assert "token.issued" in events and "token.refreshed" in events
    issued = next(line for line in audit_lines() if line["event"] == "token.issued")
    assert issued["jkt"] == api_user.jkt  # the DPoP key thumbprint is an identifier, not a secret
    refusals = [line for line in audit_lines() if line["outcome"] == "refused"]
    assert {r["reason"] for r in refusals} >= {"refresh_token_reused", "dpop_proof_missing"}


def test_fields_named_like_secrets_are_dropped() -> None:
    record = redact(
        {
            "access_token": "a",
            "client_assertion": "b",
            "code": "c",
            "otp_code": "1",
            "DPoP": "x",
            "Authorization": "DPoP y",
            "private_key": "k",
            "face_encoding": [0.1],
            "client_id": "app",
        }
    )
    assert record == {"client_id": "app"}


def test_values_that_look_like_tokens_are_replaced() -> None:
    jwt_like = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    opaque = "A" * 43
    record = redact({"note": f"got {jwt_like} and {opaque}", "nested": {"x": jwt_like}, "n": 3})
    assert jwt_like not in json.dumps(record) and opaque not in json.dumps(record)
    assert REDACTED in record["note"] and record["n"] == 3
