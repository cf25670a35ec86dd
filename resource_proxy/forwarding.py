"""Forwarding a checked call to the bank, and judging its answer.

The bank is called at its published base URL with a short-lived assertion
signed by the platform (``typ: senim-ais-assertion+jwt``, see
docs/resource-proxy.md) saying what the consent allows; it verifies it with
the platform's JWKS. Connections are pooled (one ``urllib3.PoolManager`` per
process, thread-safe); each call has a deadline (``SENIM_PROXY_TIMEOUT``) for the
whole answer, headers and body, not only for each read (``_DeadlineSocketReader``).
The platform stays up whatever the bank does:

- unreachable (refused, reset, DNS) → 502 ``BankUnavailable``;
- no complete answer within the deadline → 504 ``BankTimeout``;
- an answer outside the standard (``validate_answer``), a 5xx, a redirect,
  non-JSON, too large → 502 ``BankAnswerInvalid``: never passed on;
- a 4xx in the standard's shape (e.g. 404 for an account it does not hold)
  is passed on, rebuilt from the standard's fields only (``standard_error``),
  except a 401: the bank refused the platform's assertion, which is the
  platform's failure, not the caller's (502).

``Links`` in the answer are rewritten from the bank's base URL to the
proxy's, so the API user never learns (or calls) a bank's address.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import quote, urlencode

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
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


class _DeadlineSocketReader(io.RawIOBase):
    """The socket under one answer, read against one deadline.

    urllib3's timeouts bound each receive, so a bank sending a byte a little
    more often than that holds the proxy's thread for ever, in its headers as
    in its body. Here every receive may wait only for what is left of the
    deadline, and none starts after it (``socket.timeout``, which urllib3
    turns into ``ReadTimeoutError`` and answers by closing the connection).
    It reads through the ``SocketIO`` http.client made, which keeps the socket
    open for the answer after http.client closes a ``Connection: close``
    connection, and lets it go when the answer is closed."""

    def __init__(self, socket_io: io.RawIOBase, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._socket_io = socket_io
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._socket_io.fileno()

    def readinto(self, buffer: memoryview) -> int | None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the bank's answer is past its deadline")
        self._sock.settimeout(remaining)
        return self._socket_io.readinto(buffer)

    def close(self) -> None:
        self._socket_io.close()
        super().close()


class _AnswerWithinDeadline(http.client.HTTPResponse):
    """An answer read through ``_DeadlineSocketReader``. The deadline is the read timeout
    urllib3 sets on the socket just before the answer is read: with ``Timeout(total=…)``,
    what is left of the call's time once connected."""

    def __init__(self, sock: socket.socket, *args: object, **kwargs: object) -> None:
        super().__init__(sock, *args, **kwargs)
        timeout = sock.gettimeout()
        if timeout:
            socket_io = self.fp.detach()  # nothing read yet: no buffered byte is lost
            self.fp = io.BufferedReader(_DeadlineSocketReader(socket_io, sock, time.monotonic() + timeout))


class _BankConnection(HTTPConnection):
    response_class = _AnswerWithinDeadline


class _BankTlsConnection(HTTPSConnection):
    response_class = _AnswerWithinDeadline


class _BankPool(HTTPConnectionPool):
    ConnectionCls = _BankConnection


class _BankTlsPool(HTTPSConnectionPool):
    ConnectionCls = _BankTlsConnection


def _bank_pool_manager() -> urllib3.PoolManager:
    # No retries: a GET retried after the deadline would only double the load on a slow bank.
    manager = urllib3.PoolManager(num_pools=64, maxsize=16, retries=False)
    manager.pool_classes_by_scheme = {"http": _BankPool, "https": _BankTlsPool}
    return manager


#: One pool per process for every bank (urllib3 pools are thread-safe).
POOL = _bank_pool_manager()
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
    #: how the metering row names it ("routed", or "bank_refused:<status>" for a 4xx passed on)
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


@dataclass(frozen=True)
class RawAnswer:
    """A bank's answer as received: status, headers, at most ``MAX_ANSWER_BYTES + 1`` bytes of body."""

    status: int
    headers: dict[str, str]
    raw: bytes


def call_bank(url: str, headers: dict[str, str], *, timeout: float) -> RawAnswer:
    """One GET to a bank through the pooled client, the whole answer within ``timeout``.

    The proxy forwards calls with it, and the sandbox's conformance suite
    (``resource_proxy/conformance.py``) checks a bank with it, so a bank passes the
    suite only if it answers the way the proxy will call it."""
    try:
        response = POOL.request(
            "GET",
            url,
            headers=headers,
            # total: connecting may take all of it, the answer only what is left after.
            timeout=urllib3.Timeout(total=timeout),
            redirect=False,
            preload_content=False,
        )
        try:
            raw = response.read(MAX_ANSWER_BYTES + 1)
            if len(raw) > MAX_ANSWER_BYTES:
                # The rest of the answer is still on the connection: never reuse it.
                response.close()
        finally:
            response.release_conn()
    # NewConnectionError is a ConnectTimeoutError in urllib3: the refusal first.
    except NewConnectionError:
        raise E.BankUnavailable() from None
    except (ConnectTimeoutError, ReadTimeoutError, Urllib3Timeout):
        raise E.BankTimeout() from None
    except HTTPError:
        raise E.BankUnavailable() from None
    return RawAnswer(response.status, {k.lower(): v for k, v in response.headers.items()}, raw)


def forward(call: ProxyCall, query: dict[str, str], *, issuer: str, timeout: float) -> BankAnswer:
    """Call the bank for ``call``; its answer, checked against the standard, or a refusal."""
    headers = {
        "Authorization": f"Bearer {sign(assertion_claims(call, issuer), ASSERTION_TYP)}",
        INTERACTION_HEADER: call.interaction_id,
        "Accept": "application/json",
    }
    received = call_bank(bank_url(call, query), headers, timeout=timeout)
    answer = judge_answer(call, received.status, received.raw)
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
    except RecursionError:
        # Nested deeper than the parser's stack (b"[" * 200000): no answer of the standard is.
        raise E.BankAnswerInvalid(reason="bank_answer_too_deep") from None
    permissions = call.consent.permissions if status == 200 else None
    if validate_answer(call.endpoint.key, status, body, permissions):
        # The problems describe the bank's data: they stay out of logs and answers.
        raise E.BankAnswerInvalid()
    if status == 200:
        return BankAnswer(status, body, "routed")
    return BankAnswer(status, standard_error(status, body, call.interaction_id), f"bank_refused:{status}")


def standard_error(status: int, body: dict, interaction_id: str) -> dict:
    """A bank's 4xx (already validated) rebuilt from the standard's fields only: the Error
    schema is open, so anything else a bank adds (its own Links, an address, a debug
    block) would reach the API user. The Code is the status passed on, the Id the proxy's."""
    errors = []
    for item in body["Errors"]:
        kept = {"ErrorCode": item["ErrorCode"], "Message": item["Message"]}
        if isinstance(item.get("Path"), str):
            kept["Path"] = item["Path"]
        errors.append(kept)
    return {
        "Code": f"{status} {HTTPStatus(status).phrase}",
        "Id": interaction_id,
        "Message": body["Message"],
        "Errors": errors,
    }
