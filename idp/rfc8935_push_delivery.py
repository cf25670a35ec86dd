"""Push-based SET delivery over HTTP (RFC 8935), the transmitter's side.

One attempt is one POST of one SET (§2.1) to the address the receiver
registered, and its answer read as RFC 8935 §2.2–2.3 define it:

- ``202 Accepted`` (any 2xx is taken as acceptance): the receiver has the SET;
- ``400`` with ``{"err": …, "description": …}``: refused; the ``err`` code is
  kept when it is one of the registered codes (§2.4), the free-text
  ``description`` never is (it may quote the SET or the receiver's state);
- anything else — another status, a redirect (never followed: the receiver
  registered this address, not another), a refused connection, a timeout —
  is a failed attempt; the caller decides when to try again.

What is kept of a failure is short and safe to log: ``HTTP 503``,
``HTTP 400 invalid_key``, an exception's class name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import requests

from idp.rfc8417_security_event_token import SET_MEDIA_TYPE

#: (connect, read) seconds: a receiver gets 5 s in all before the attempt counts as failed.
TIMEOUT = (2.0, 3.0)
#: RFC 8935 §2.4 (IANA "Security Event Token Error Codes").
ERROR_CODES = frozenset(
    {
        "invalid_request",
        "invalid_key",
        "invalid_issuer",
        "invalid_audience",
        "authentication_failed",
        "access_denied",
    }
)
#: The most of a refusal's body read, to find its ``err`` code.
_MAX_ERROR_BODY = 4096


@dataclass(frozen=True)
class PushResult:
    """What one attempt came to."""

    accepted: bool
    http_status: int | None = None
    error: str | None = None  # short, no body text: "HTTP 503", "ConnectTimeout"


def push_security_event(uri: str, security_event_token: str) -> PushResult:
    """POST one SET to ``uri`` (RFC 8935 §2.1) and say whether the receiver accepted it."""
    try:
        with requests.Session() as session:
            response = session.post(
                uri,
                data=security_event_token.encode("ascii"),
                headers={"Content-Type": SET_MEDIA_TYPE, "Accept": "application/json"},
                timeout=TIMEOUT,
                allow_redirects=False,
                stream=True,
            )
            with response:
                if 200 <= response.status_code < 300:
                    return PushResult(accepted=True, http_status=response.status_code)
                return PushResult(
                    accepted=False,
                    http_status=response.status_code,
                    error=_describe_refusal(response),
                )
    except requests.RequestException as error:
        return PushResult(accepted=False, error=type(error).__name__)


def _describe_refusal(response: requests.Response) -> str:
    described = f"HTTP {response.status_code}"
    if response.status_code != 400:
        return described
    try:
        body = next(response.iter_content(_MAX_ERROR_BODY), b"")
        err = json.loads(body).get("err")
    except (ValueError, AttributeError, requests.RequestException):
        return described
    return f"{described} {err}" if isinstance(err, str) and err in ERROR_CODES else described
