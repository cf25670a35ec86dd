"""Forwarding a checked call to the bank, and judging its answer.

The bank is called at its published base URL with a short-lived assertion
signed by the platform (``typ: senim-ais-assertion+jwt``, see
docs/resource-proxy.md) saying what the consent allows; it verifies it with
the platform's JWKS. Connections are pooled (one ``urllib3.PoolManager`` per
process, thread-safe); each call has a deadline (``SENIM_PROXY_TIMEOUT``).
The platform stays up whatever the bank does:

- unreachable (refused, reset, DNS) → 502 ``BankUnavailable``;
- no complete answer within the deadline → 504 ``BankTimeout``;
- an answer outside the standard (``validate_answer``), a 5xx, a redirect,
  non-JSON, too large → 502 ``BankAnswerInvalid``: never passed on;
- a 4xx in the standard's shape (e.g. 404 for an account it does not hold)
  is passed on, except a 401: the bank refused the platform's assertion,
  which is the platform's failure, not the caller's (502).

``Links`` in the answer are rewritten from the bank's base URL to the
proxy's, so the API user never learns (or calls) a bank's address.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.exceptions import (
    TimeoutError as Urllib3Timeout,
)

from idp.signing import sign
from resource_proxy import errors as E
from resource_proxy.checks import ProxyCall
from resource_proxy.standard import ASSERTION_TYP, INTERACTION_HEADER
from resource_proxy.standard.validation import validate_answer
from senim import clock

#: One pool per process for every bank (urllib3 pools are thread-safe); no retries
#: (a GET retried after the deadline would only double the load on a slow bank).
POOL = urllib3.PoolManager(num_pools=64, maxsize=16, retries=False)
ASSERTION_LIFETIME = 60
#: An answer larger than this is not an answer of the standard (25 transactions a page).
MAX_ANSWER_BYTES = 2 * 1024 * 1024
#: Query parameters of the standard passed on to the bank (anything else is dropped).
FORWARDED_QUERY = ("fromBookingDateTime", "toBookingDateTime", "page")
#: Where the proxy serves the standard, under the issuer.
PROXY_PREFIX = "/open-banking/v1"


@dataclass(frozen=True)
class BankAnswer:
    status: int
    body: dict
    #: how the metering row names it ("routed", or "bank_error:<status>" for a 4xx passed on)
    outcome: str


def _iso(epoch: int | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def assertion_claims(call: ProxyCall, issuer: str) -> dict:
    """What the bank is told: who asks (API user, client), for whom (the customer's IIN),
    under which consent, with which permissions (and transaction window)."""
    now = clock.now_int()
    consent = call.consent
    claims = {
        "iss": issuer,
        "aud": call.provider_id,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME,
        "jti": uuid.uuid4().hex,
        "sub": consent.customer_iin,
        "consent_id": consent.id,
        "permissions": list(consent.permissions),
        "api_user": call.api_user_id,
        "client_id": call.client_id,
        "interaction_id": call.interaction_id,
    }
    if consent.transaction_from is not None:
        claims["transaction_from"] = _iso(consent.transaction_from)
    if consent.transaction_to is not None:
        claims["transaction_to"] = _iso(consent.transaction_to)
    return claims


def bank_url(call: ProxyCall, query: dict[str, str]) -> str:
    path = call.endpoint.path
    for name, value in call.path_params.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    passed = {k: query[k] for k in FORWARDED_QUERY if k in query}
    return call.api.base_url + path + (f"?{urlencode(passed)}" if passed else "")


def rewrite_links(body: dict, bank_base: str, proxy_base: str) -> None:
    """Links point at the proxy (the same path and query under ``/open-banking/v1``)."""
    links = body.get("Links")
    if not isinstance(links, dict):
        return
    for name, url in list(links.items()):
        if not isinstance(url, str) or not (url == bank_base or url.startswith(bank_base + "/")):
            # A link elsewhere would send the API user around the proxy.
            raise E.BankAnswerInvalid(reason="bank_link_foreign")
        links[name] = proxy_base + url[len(bank_base) :]


def forward(call: ProxyCall, query: dict[str, str], *, issuer: str, timeout: float) -> BankAnswer:
    """Call the bank for ``call``; its answer, checked against the standard, or a refusal."""
    headers = {
        "Authorization": f"Bearer {sign(assertion_claims(call, issuer), ASSERTION_TYP)}",
        INTERACTION_HEADER: call.interaction_id,
        "Accept": "application/json",
    }
    try:
        response = POOL.request(
            "GET",
            bank_url(call, query),
            headers=headers,
            timeout=urllib3.Timeout(total=timeout),
            redirect=False,
            preload_content=False,
        )
        try:
            raw = response.read(MAX_ANSWER_BYTES + 1)
        finally:
            response.release_conn()
    # NewConnectionError is a ConnectTimeoutError in urllib3: the refusal first.
    except NewConnectionError:
        raise E.BankUnavailable() from None
    except (ConnectTimeoutError, ReadTimeoutError, Urllib3Timeout):
        raise E.BankTimeout() from None
    except HTTPError:
        raise E.BankUnavailable() from None
    answer = judge_answer(call, response.status, raw)
    if answer.status == 200:
        rewrite_links(answer.body, call.api.base_url, issuer + PROXY_PREFIX)
    return answer


def judge_answer(call: ProxyCall, status: int, raw: bytes) -> BankAnswer:
    if status >= 500 or status < 200 or 300 <= status < 400:
        raise E.BankAnswerInvalid(reason=f"bank_status_{status}" if status >= 500 else "bank_status_invalid")
    if status == 401:
        # The bank refused the platform's assertion: the platform's problem, not the caller's token.
        raise E.BankAnswerInvalid(
            "The bank refused the platform's assertion.", reason="bank_refused_assertion"
        )
    if len(raw) > MAX_ANSWER_BYTES:
        raise E.BankAnswerInvalid(reason="bank_answer_too_large")
    try:
        body = json.loads(raw)
    except ValueError:
        raise E.BankAnswerInvalid(reason="bank_answer_not_json") from None
    permissions = call.consent.permissions if status == 200 else None
    if validate_answer(call.endpoint.key, status, body, permissions):
        # The problems describe the bank's data: they stay out of logs and answers.
        raise E.BankAnswerInvalid()
    if status == 200:
        return BankAnswer(status, body, "routed")
    body["Id"] = call.interaction_id
    return BankAnswer(status, body, f"bank_refused:{status}")
