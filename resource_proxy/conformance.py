"""The sandbox's conformance suite: does an API provider's sandbox implement the
account-information standard the way the proxy will call it?

It lives with the proxy because it is the proxy's way of calling a bank, put
to the test; the registry runs it through ``registry.conformance``
(``ProxyConformanceSuite`` is registered by ``init_resource_proxy``) and keeps
the results, the statuses and the schedule (``registry/publication.py``).

The suite is an ordered table of small named checks (``SUITE``), run against
the sandbox base URL an API provider submitted. Each check makes its calls
exactly as the proxy does — an assertion built by ``assertion_claims`` and
signed with the platform's key ring, sent through the proxy's pooled client
with its deadline (``SENIM_PROXY_TIMEOUT``, ``call_bank``) — on behalf of the
sandbox test customer, under a synthetic consent whose id starts with
``conformance-`` so the bank's logs tell a check from a customer's call.

Each check yields one ``CheckResult``: its name, ``passed`` / ``failed`` /
``not_run``, a human sentence and its duration. The sentence names fields and
places ("field Amount missing in /Data/Balance/0"), never a value: the
sandbox's test data is still account data, and the details are stored, shown
on the showcase and sent to the provider.

- A connection that fails, or an answer later than the deadline, fails its
  check and the rest are ``not_run``: nothing more can be learnt from that
  sandbox, and waiting out the deadline for every check would hold a worker.
- A check that needs what an earlier one should have found (an account of
  the test customer, a first page of transactions) is ``not_run`` when that
  earlier check failed, so one fault fails one check.
- A check never crashes the suite: anything unexpected fails that check.
"""

from __future__ import annotations

import copy
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from urllib.parse import quote, urlsplit

from flask import current_app
from joserfc import jwt
from joserfc.jwk import ECKey
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.response.validators import V30ResponseDataValidator

from idp.signing import keyring, sign
from registry.conformance import FAILED, NOT_RUN, PASSED, CheckResult, SandboxTarget, SuiteReport
from resource_proxy import errors as proxy_errors
from resource_proxy.checks import ProxyCall
from resource_proxy.forwarding import ASSERTION_LIFETIME, MAX_ANSWER_BYTES, assertion_claims, call_bank
from resource_proxy.standard import (
    ACCOUNT_DETAIL_FIELDS,
    ASSERTION_TYP,
    ENDPOINTS,
    INTERACTION_HEADER,
    TRANSACTION_DETAIL_FIELDS,
    load_document,
)
from resource_proxy.standard.permissions import (
    READ_ACCOUNTS_BASIC,
    READ_ACCOUNTS_DETAIL,
    READ_BALANCES,
    READ_TRANSACTIONS_BASIC,
    READ_TRANSACTIONS_DETAIL,
)
from resource_proxy.standard.validation import validate_answer
from senim import clock

logger = logging.getLogger(__name__)

#: Who the assertion says is calling: the platform's sandbox, not an API user.
CONFORMANCE_API_USER = "senim-sandbox"
CONFORMANCE_CLIENT = "senim-conformance"
#: The synthetic consent's id starts with this: a conformance check, not a customer's consent.
CONSENT_PREFIX = "conformance-"
#: An AccountId no bank holds (the 404 check).
UNKNOWN_ACCOUNT_ID = "conformance-no-such-account"
#: Pages of transactions followed through Links.Next at most.
MAX_PAGES = 3

ACCOUNTS = "GET /accounts"
ACCOUNT = "GET /accounts/{AccountId}"
BALANCES = "GET /accounts/{AccountId}/balances"
TRANSACTIONS = "GET /accounts/{AccountId}/transactions"


class CheckFailed(Exception):
    """The sandbox does not do what the check asks; ``detail`` says what, without values."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class SandboxUnreachable(CheckFailed):
    """No connection to the sandbox: the checks after this one are not run."""


class SandboxTooSlow(CheckFailed):
    """No complete answer within the proxy's deadline: the checks after this one are not run."""


class CheckNotRun(Exception):
    """The check needs what an earlier, failed check should have found."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


# -- calling the sandbox as the proxy calls a bank --------------------------------------------------
@dataclass(frozen=True)
class SyntheticConsent:
    """What ``assertion_claims`` reads of a consent, for a conformance call."""

    id: str
    customer_iin: str
    permissions: tuple[str, ...]
    transaction_from: int | None = None
    transaction_to: int | None = None


@dataclass(frozen=True)
class Answer:
    endpoint_key: str
    path: str
    status: int
    headers: dict[str, str]
    raw: bytes
    #: the parsed JSON body, None when the answer is not JSON
    body: object | None
    #: the x-fapi-interaction-id the suite sent
    interaction_id: str


@dataclass
class Sandbox:
    """The sandbox under test, and what the checks learnt of it so far."""

    base_url: str
    provider_id: str
    customer_iin: str
    issuer: str
    timeout: float
    first: Answer | None = None
    first_too_slow: SandboxTooSlow | None = None
    account_id: str | None = None
    transactions: Answer | None = None


#: How an assertion is made for a call: the platform's, none, signed by a key not the
#: platform's (kid of the platform's), or the platform's but expired.
GENUINE, NO_ASSERTION, FOREIGN_KEY, EXPIRED = "genuine", "none", "foreign_key", "expired"


def call(
    sandbox: Sandbox,
    endpoint_key: str,
    permissions: tuple[str, ...],
    *,
    account_id: str | None = None,
    url: str | None = None,
    assertion: str = GENUINE,
) -> Answer:
    """One GET to the sandbox, as the proxy would forward it."""
    endpoint = ENDPOINTS[endpoint_key]
    path_params = {"AccountId": account_id} if account_id is not None else {}
    proxy_call = ProxyCall(
        endpoint=endpoint,
        path_params=path_params,
        interaction_id=str(uuid.uuid4()),
        started=time.perf_counter(),
        consent=SyntheticConsent(  # type: ignore[arg-type]  # what assertion_claims reads
            id=CONSENT_PREFIX + uuid.uuid4().hex,
            customer_iin=sandbox.customer_iin,
            permissions=permissions,
        ),
        provider_id=sandbox.provider_id,
        api_user_id=CONFORMANCE_API_USER,
        client_id=CONFORMANCE_CLIENT,
    )
    path = endpoint.path
    for name, value in path_params.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    headers = {INTERACTION_HEADER: proxy_call.interaction_id, "Accept": "application/json"}
    token = _assertion(assertion, assertion_claims(proxy_call, sandbox.issuer))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        received = call_bank(url or sandbox.base_url + path, headers, timeout=sandbox.timeout)
    except proxy_errors.BankUnavailable:
        raise SandboxUnreachable(
            f"the sandbox could not be reached for {endpoint_key} (connection refused, reset or no such host)"
        ) from None
    except proxy_errors.BankTimeout:
        raise SandboxTooSlow(
            f"no complete answer to {endpoint_key} within {sandbox.timeout:g} s "
            "(SENIM_PROXY_TIMEOUT, the deadline the proxy gives a bank)"
        ) from None
    body = None
    if len(received.raw) <= MAX_ANSWER_BYTES:
        try:
            body = json.loads(received.raw)
        except (ValueError, RecursionError):
            body = None
    return Answer(
        endpoint_key,
        urlsplit(url).path if url else path,
        received.status,
        received.headers,
        received.raw,
        body,
        proxy_call.interaction_id,
    )


def _assertion(kind: str, claims: dict) -> str | None:
    if kind == NO_ASSERTION:
        return None
    if kind == EXPIRED:
        # ten minutes old: well past the bank's allowed skew (reference_bank/assertion.py: 30 s)
        claims["iat"] = clock.now_int() - 600
        claims["exp"] = claims["iat"] + ASSERTION_LIFETIME
    if kind == FOREIGN_KEY:
        # the platform's kid, so the bank looks up the platform's key, which does not verify it
        header = {"alg": "ES256", "typ": ASSERTION_TYP, "kid": keyring().signing_key.kid}
        return jwt.encode(header, claims, ECKey.generate_key("P-256"), algorithms=["ES256"])
    return sign(claims, ASSERTION_TYP)


# -- judging answers against the standard's OpenAPI document -----------------------------------------
@cache
def _openapi() -> OpenAPI:
    # The document's server is the bank's base URL ({base_url}); paths are matched from "/".
    document = copy.deepcopy(load_document())
    document["servers"] = [{"url": "/"}]
    return OpenAPI.from_dict(document, config=Config(response_validator_cls=V30ResponseDataValidator))


_OPENAPI_PROBLEMS = {
    "ResponseNotFound": "status {status} is not an answer the standard defines for {endpoint}",
    "MediaTypeNotFound": "the answer to {endpoint} is not application/json",
    "MissingData": "the answer to {endpoint} has no body",
}


def shape_problems(answer: Answer) -> list[str]:
    """What in the answer departs from the standard's response for its status (openapi-core),
    each said without the values found."""
    if answer.body is None:
        return [f"the answer to {answer.endpoint_key} ({answer.status}) is not JSON"]
    request = MockRequest(
        "http://sandbox.invalid", "get", answer.path, path_pattern=ENDPOINTS[answer.endpoint_key].path
    )
    response = MockResponse(
        answer.raw,
        status_code=answer.status,
        content_type=answer.headers.get("content-type", "application/json"),
    )
    problems = []
    for error in _openapi().iter_response_errors(request, response):
        schema_errors = getattr(error.__cause__, "schema_errors", None)
        if schema_errors:
            problems += [_schema_problem(e) for e in schema_errors]
        else:
            template = _OPENAPI_PROBLEMS.get(
                type(error).__name__, "the answer to {endpoint} does not follow the standard"
            )
            problems.append(template.format(status=answer.status, endpoint=answer.endpoint_key))
    if not problems and answer.status == 200:
        # What a schema cannot say and the proxy refuses too: IBAN and IIN check digits
        # (these problems name the field, never its value).
        problems = [p for p in validate_answer(answer.endpoint_key, 200, answer.body) if "check digit" in p]
    return problems


def _pointer(path: object) -> str:
    return "/" + "/".join(str(p) for p in path)


def _schema_problem(error: object) -> str:
    """A jsonschema error as a sentence naming the field and where, never the value."""
    where = _pointer(getattr(error, "absolute_path", ()))
    kind = getattr(error, "validator", "")
    instance = getattr(error, "instance", None)
    if kind == "required" and isinstance(instance, dict):
        missing = [f for f in getattr(error, "validator_value", ()) if f not in instance]
        return f"field {', '.join(map(str, missing))} missing in {where}"
    if kind == "additionalProperties" and isinstance(instance, dict):
        allowed = set(getattr(error, "schema", {}).get("properties", {}))
        extra = sorted(str(k)[:64] for k in instance if k not in allowed)
        return f"field {', '.join(extra)} not allowed in {where}"
    return f"{where} does not follow the standard ({kind})"


def _fail_unless_status(answer: Answer, expected: int, what: str) -> None:
    if answer.status != expected:
        raise CheckFailed(f"{what} answered {answer.status}, not {expected}")


def _fail_unless_standard_shape(answer: Answer) -> None:
    problems = list(dict.fromkeys(shape_problems(answer)))  # once each, in order
    if problems:
        raise CheckFailed(
            "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        )


def _fail_unless_standard_refusal(answer: Answer, expected: int, what: str) -> None:
    """A refusal in the standard's error shape (resource_proxy/standard/errors.py), its Id the
    interaction id, so a complaint can be traced through proxy and bank."""
    _fail_unless_status(answer, expected, what)
    _fail_unless_standard_shape(answer)
    if answer.body.get("Id") != answer.interaction_id:
        raise CheckFailed(f"the error's Id is not the x-fapi-interaction-id sent ({what})")


def _data_items(answer: Answer, kind: str) -> list:
    return answer.body["Data"].get(kind, [])


def _need_account(sandbox: Sandbox) -> str:
    if sandbox.account_id is None:
        raise CheckNotRun("needs an account of the sandbox test customer (see accounts_detail_shape)")
    return sandbox.account_id


# -- the checks, in the order of SUITE ------------------------------------------------------------------
DETAIL = (READ_ACCOUNTS_DETAIL, READ_BALANCES, READ_TRANSACTIONS_DETAIL)


def check_sandbox_reachable(sandbox: Sandbox) -> str:
    """The sandbox answers HTTP at its base URL (GET /accounts under ReadAccountsDetail)."""
    try:
        sandbox.first = call(sandbox, ACCOUNTS, DETAIL)
    except SandboxTooSlow as slow:
        sandbox.first_too_slow = slow
        return "an answer to GET /accounts was awaited (its time is judged by answers_within_sla)"
    return f"GET /accounts answered {sandbox.first.status}"


def check_answers_within_sla(sandbox: Sandbox) -> str:
    """The whole answer arrived within SENIM_PROXY_TIMEOUT: the proxy answers 504 after it."""
    if sandbox.first_too_slow is not None:
        raise sandbox.first_too_slow
    return f"GET /accounts answered within {sandbox.timeout:g} s"


def check_interaction_id_echoed(sandbox: Sandbox) -> str:
    """FAPI 1.0 Part 1 §6.2.1.11: the answer carries the x-fapi-interaction-id sent."""
    echoed = sandbox.first.headers.get(INTERACTION_HEADER)
    if echoed is None:
        raise CheckFailed(f"header {INTERACTION_HEADER} missing in the answer to GET /accounts")
    if echoed != sandbox.first.interaction_id:
        raise CheckFailed(f"header {INTERACTION_HEADER} in the answer is not the one sent")
    return f"{INTERACTION_HEADER} echoed"


def check_accounts_detail_shape(sandbox: Sandbox) -> str:
    """GET /accounts under ReadAccountsDetail: a 200 AccountsResponse, Detail fields allowed,
    with at least one account of the sandbox test customer (the later checks use it)."""
    answer = sandbox.first
    _fail_unless_status(answer, 200, "GET /accounts")
    _fail_unless_standard_shape(answer)
    accounts = _data_items(answer, "Account")
    if not accounts:
        raise CheckFailed("the sandbox test customer has no account in /Data/Account")
    sandbox.account_id = accounts[0]["AccountId"]
    return "GET /accounts follows AccountsResponse (Detail)"


def check_accounts_basic_hides_detail(sandbox: Sandbox) -> str:
    """UK OB permissions: under ReadAccountsBasic no account shows Account (IBAN) or Holder."""
    answer = call(sandbox, ACCOUNTS, (READ_ACCOUNTS_BASIC,))
    _fail_unless_status(answer, 200, "GET /accounts (Basic)")
    _fail_unless_standard_shape(answer)
    shown = [
        f"field {name} present in /Data/Account/{i} under ReadAccountsBasic"
        for i, account in enumerate(_data_items(answer, "Account"))
        for name in ACCOUNT_DETAIL_FIELDS
        if name in account
    ]
    if shown:
        raise CheckFailed("; ".join(shown[:5]))
    return "no Detail field under ReadAccountsBasic"


def check_account_by_id(sandbox: Sandbox) -> str:
    """GET /accounts/{AccountId}: a 200 AccountsResponse holding that one account."""
    account_id = _need_account(sandbox)
    answer = call(sandbox, ACCOUNT, DETAIL, account_id=account_id)
    _fail_unless_status(answer, 200, "GET /accounts/{AccountId}")
    _fail_unless_standard_shape(answer)
    accounts = _data_items(answer, "Account")
    if [a.get("AccountId") for a in accounts] != [account_id]:
        raise CheckFailed("/Data/Account does not hold exactly the account asked for")
    return "GET /accounts/{AccountId} follows AccountsResponse"


def check_balances_shape(sandbox: Sandbox) -> str:
    """GET /accounts/{AccountId}/balances under ReadBalances: a 200 BalancesResponse."""
    answer = call(sandbox, BALANCES, DETAIL, account_id=_need_account(sandbox))
    _fail_unless_status(answer, 200, "GET /accounts/{AccountId}/balances")
    _fail_unless_standard_shape(answer)
    return "GET /accounts/{AccountId}/balances follows BalancesResponse"


def check_transactions_shape(sandbox: Sandbox) -> str:
    """GET /accounts/{AccountId}/transactions under ReadTransactionsDetail: a 200 TransactionsResponse."""
    answer = call(sandbox, TRANSACTIONS, DETAIL, account_id=_need_account(sandbox))
    _fail_unless_status(answer, 200, "GET /accounts/{AccountId}/transactions")
    _fail_unless_standard_shape(answer)
    sandbox.transactions = answer
    return "GET /accounts/{AccountId}/transactions follows TransactionsResponse (Detail)"


def check_transactions_basic_hides_detail(sandbox: Sandbox) -> str:
    """UK OB permissions: under ReadTransactionsBasic no transaction shows its description,
    merchant, bank transaction code or running balance."""
    answer = call(sandbox, TRANSACTIONS, (READ_TRANSACTIONS_BASIC,), account_id=_need_account(sandbox))
    _fail_unless_status(answer, 200, "GET /accounts/{AccountId}/transactions (Basic)")
    _fail_unless_standard_shape(answer)
    shown = [
        f"field {name} present in /Data/Transaction/{i} under ReadTransactionsBasic"
        for i, transaction in enumerate(_data_items(answer, "Transaction"))
        for name in TRANSACTION_DETAIL_FIELDS
        if name in transaction
    ]
    if shown:
        raise CheckFailed("; ".join(shown[:5]))
    return "no Detail field under ReadTransactionsBasic"


def _under(url: object, base_url: str) -> bool:
    return isinstance(url, str) and (url == base_url or url.startswith(base_url + "/"))


def _fail_if_links_elsewhere(page: Answer, number: int, base_url: str) -> None:
    # The proxy rewrites Links from the bank's base URL to its own and refuses an answer
    # linking elsewhere (forwarding.rewrite_links): the API user never learns another address.
    elsewhere = [name for name, url in page.body["Links"].items() if not _under(url, base_url)]
    if elsewhere:
        raise CheckFailed(
            f"Links.{', Links.'.join(elsewhere)} of page {number} not under the sandbox base URL"
        )


def check_transactions_paging(sandbox: Sandbox) -> str:
    """Links.Next followed (up to MAX_PAGES pages): each page in the standard's shape, its links
    under the sandbox base URL (the proxy refuses others), Meta.TotalPages the same on every
    page, and no transaction on two pages."""
    page = sandbox.transactions
    if page is None:
        raise CheckNotRun("needs a first page of transactions (see transactions_shape)")
    _fail_if_links_elsewhere(page, 1, sandbox.base_url)
    total = page.body["Meta"].get("TotalPages")
    seen = {t["TransactionId"] for t in _data_items(page, "Transaction")}
    followed = 1
    while followed < MAX_PAGES and "Next" in page.body["Links"]:
        page = call(
            sandbox, TRANSACTIONS, DETAIL, account_id=sandbox.account_id, url=page.body["Links"]["Next"]
        )
        followed += 1
        _fail_unless_status(page, 200, f"page {followed} of transactions")
        _fail_unless_standard_shape(page)
        _fail_if_links_elsewhere(page, followed, sandbox.base_url)
        if page.body["Meta"].get("TotalPages") != total:
            raise CheckFailed(f"Meta.TotalPages on page {followed} differs from page 1")
        ids = {t["TransactionId"] for t in _data_items(page, "Transaction")}
        if ids & seen:
            raise CheckFailed(f"page {followed} repeats transactions of an earlier page")
        seen |= ids
    if followed == 1:
        if isinstance(total, int) and total > 1:
            raise CheckFailed(f"Meta.TotalPages is {total} but page 1 has no Links.Next")
        return "one page only: Links.Next not exercised"
    return f"{followed} pages followed through Links.Next, consistent"


def check_refuses_missing_assertion(sandbox: Sandbox) -> str:
    """A call without the platform's assertion is refused: 401 in the standard's error shape."""
    answer = call(sandbox, ACCOUNTS, DETAIL, assertion=NO_ASSERTION)
    _fail_unless_standard_refusal(answer, 401, "GET /accounts without an assertion")
    return "401 in the standard's error shape"


def check_refuses_foreign_signature(sandbox: Sandbox) -> str:
    """An assertion signed by a key that is not the platform's is refused: 401."""
    answer = call(sandbox, ACCOUNTS, DETAIL, assertion=FOREIGN_KEY)
    _fail_unless_standard_refusal(answer, 401, "GET /accounts with a wrongly signed assertion")
    return "401 in the standard's error shape"


def check_refuses_expired_assertion(sandbox: Sandbox) -> str:
    """An expired assertion of the platform is refused: 401 (RFC 7519 §4.1.4)."""
    answer = call(sandbox, ACCOUNTS, DETAIL, assertion=EXPIRED)
    _fail_unless_standard_refusal(answer, 401, "GET /accounts with an expired assertion")
    return "401 in the standard's error shape"


def check_unknown_account_404(sandbox: Sandbox) -> str:
    """An account the customer does not hold is 404 in the standard's error shape (not 403:
    another customer's account is not even said to exist)."""
    answer = call(sandbox, ACCOUNT, DETAIL, account_id=UNKNOWN_ACCOUNT_ID)
    _fail_unless_standard_refusal(answer, 404, "GET /accounts/{AccountId} for an unknown account")
    return "404 in the standard's error shape"


Check = Callable[[Sandbox], str]

#: The suite, in order: (name, check). Names are stable: they are stored in the check
#: history, shown on the showcase and named in the provider's notifications.
SUITE: tuple[tuple[str, Check], ...] = (
    ("sandbox_reachable", check_sandbox_reachable),
    ("answers_within_sla", check_answers_within_sla),
    ("interaction_id_echoed", check_interaction_id_echoed),
    ("accounts_detail_shape", check_accounts_detail_shape),
    ("accounts_basic_hides_detail", check_accounts_basic_hides_detail),
    ("account_by_id", check_account_by_id),
    ("balances_shape", check_balances_shape),
    ("transactions_shape", check_transactions_shape),
    ("transactions_basic_hides_detail", check_transactions_basic_hides_detail),
    ("transactions_paging", check_transactions_paging),
    ("refuses_missing_assertion", check_refuses_missing_assertion),
    ("refuses_foreign_signature", check_refuses_foreign_signature),
    ("refuses_expired_assertion", check_refuses_expired_assertion),
    ("unknown_account_404", check_unknown_account_404),
)
CHECK_NAMES = tuple(name for name, _ in SUITE)


def run_suite(sandbox: Sandbox) -> SuiteReport:
    """Run every check of ``SUITE`` in order against ``sandbox``."""
    results: list[CheckResult] = []
    stopped_by: str | None = None
    suite_started = time.perf_counter()
    for name, check in SUITE:
        if stopped_by is not None:
            results.append(CheckResult(name, NOT_RUN, f"not run: {stopped_by} failed", 0))
            continue
        started = time.perf_counter()
        try:
            status, detail = PASSED, check(sandbox)
        except (SandboxUnreachable, SandboxTooSlow) as error:
            status, detail, stopped_by = FAILED, error.detail, name
        except CheckFailed as error:
            status, detail = FAILED, error.detail
        except CheckNotRun as error:
            status, detail = NOT_RUN, error.detail
        except Exception as error:  # noqa: BLE001 - a check never crashes the suite
            # the type only: a message could quote the sandbox's data
            logger.warning("conformance check %s could not judge the answer: %s", name, type(error).__name__)
            status, detail = FAILED, f"the answer could not be judged ({type(error).__name__})"
        results.append(CheckResult(name, status, detail, _ms_since(started)))
    return SuiteReport(tuple(results), _ms_since(suite_started))


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


class ProxyConformanceSuite:
    """``registry.conformance.ConformanceSuite``: the suite, with the platform's issuer and the
    proxy's deadline read from the settings at each run."""

    def run(self, target: SandboxTarget) -> SuiteReport:
        settings = current_app.extensions["senim.settings"]
        return run_suite(
            Sandbox(
                base_url=target.base_url,
                provider_id=target.provider_id,
                customer_iin=target.customer_iin,
                issuer=settings.issuer,
                timeout=settings.proxy_timeout,
            )
        )
