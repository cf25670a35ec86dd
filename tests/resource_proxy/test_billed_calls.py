"""What the proxy meters is what billing charges: calls through the real proxy to a scripted bank.

The bank's own answers are charged — 200, and its 4xx passed on (an unknown
account: the API user's request) — and its failures are not: a 5xx (the proxy
answers 502) and the platform's refusals (no consent for that bank).
"""

from __future__ import annotations

import json

from registry.billing import period_bounds, period_of, priced_calls
from registry.tariffs import set_tariff
from tests.resource_proxy.conftest import Platform, ScriptedBank, metered
from tests.resource_proxy.test_bank_answers_refused import no_accounts

ACCOUNTS = "GET /accounts"
ACCOUNT = "GET /accounts/{AccountId}"


def _not_found(bank: ScriptedBank) -> bytes:
    return json.dumps(
        {
            "Code": "404 Not Found",
            "Id": "the-bank's-own-id",
            "Message": "No such account.",
            "Errors": [{"ErrorCode": "KZ.SENIM.Resource.NotFound", "Message": "No such account."}],
        }
    ).encode()


def test_the_banks_own_answers_are_charged_and_its_failures_are_not(
    platform: Platform, scripted_bank: ScriptedBank, clock
) -> None:
    api_id = platform.apis[platform.bank]
    set_tariff(api_id, ACCOUNTS, "2.00", "bank-admin")
    set_tariff(api_id, ACCOUNT, "3.00", "bank-admin")
    clock.advance(1)
    _consent, token = platform.token()

    scripted_bank.answer("200 OK", no_accounts(scripted_bank))
    assert platform.call("/accounts", token).status_code == 200
    scripted_bank.answer("404 Not Found", _not_found(scripted_bank))
    assert platform.call("/accounts/A-1", token).status_code == 404
    scripted_bank.answer("500 Internal Server Error", b"{}")
    assert platform.call("/accounts", token).status_code == 502
    assert (
        platform.call("/accounts", token, provider=platform.banks[1]).status_code == 403
    )  # not in the consent

    outcomes = [(call.status, call.outcome) for call in metered()[-4:]]
    assert outcomes[:2] == [(200, "routed"), (404, "bank_refused:404")]
    assert outcomes[2][0] == 502 and outcomes[2][1].startswith("refused:bank_")
    assert outcomes[3][0] == 403 and outcomes[3][1].startswith("refused:")

    priced = priced_calls(period_bounds(period_of(int(clock.now()))))
    assert sorted((p.endpoint, p.calls, p.amount_tiyn) for p in priced) == [
        (ACCOUNTS, 1, 200),
        (ACCOUNT, 1, 300),
    ]
