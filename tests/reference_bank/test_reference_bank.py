"""The reference bank keeps the standard: what it shows, to whom, and how it refuses."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from reference_bank.config import DEMO_IINS
from resource_proxy.standard import PAGE_SIZE, PERMISSIONS
from resource_proxy.standard.iban import is_valid_kz_iban
from resource_proxy.standard.iin import is_valid_iin
from resource_proxy.standard.validation import validate_answer
from tests.reference_bank.conftest import NOW, ONE, TWO

ACCOUNTS = "GET /accounts"
ACCOUNT = "GET /accounts/{AccountId}"
BALANCES = "GET /accounts/{AccountId}/balances"
TRANSACTIONS = "GET /accounts/{AccountId}/transactions"
T0 = int(NOW)
BASIC = ["ReadAccountsBasic", "ReadBalances", "ReadTransactionsBasic"]


def _ids(call, sub: str = ONE) -> list[str]:
    return [a["AccountId"] for a in call.get("/accounts", sub=sub).json["Data"]["Account"]]


def _main_account(call, sub: str = ONE) -> str:
    return _ids(call, sub)[0]


def _good(key: str, answer, permissions=PERMISSIONS) -> None:
    assert validate_answer(key, answer.status_code, answer.json, permissions=permissions) == [], answer.json


@pytest.mark.parametrize(
    "permissions",
    [
        list(PERMISSIONS),
        BASIC,
        ["ReadAccountsDetail", "ReadBalances", "ReadTransactionsDetail", "ReadTransactionsCredits"],
        ["ReadAccountsBasic", "ReadTransactionsBasic", "ReadTransactionsDebits", "ReadBalances"],
    ],
)
def test_every_answer_of_the_good_bank_follows_the_standard(call, permissions) -> None:
    for customer in DEMO_IINS:
        accounts = call.get("/accounts", sub=customer, permissions=permissions)
        _good(ACCOUNTS, accounts, permissions)
        for account in accounts.json["Data"]["Account"]:
            path = f"/accounts/{account['AccountId']}"
            _good(ACCOUNT, call.get(path, sub=customer, permissions=permissions), permissions)
            _good(BALANCES, call.get(f"{path}/balances", sub=customer, permissions=permissions), permissions)
            page = call.get(f"{path}/transactions", sub=customer, permissions=permissions)
            for number in range(1, page.json["Meta"]["TotalPages"] + 1):
                page = call.get(f"{path}/transactions?page={number}", sub=customer, permissions=permissions)
                assert page.status_code == 200
                _good(TRANSACTIONS, page, permissions)


def test_error_answers_follow_the_standard_and_echo_the_interaction_id(call, bank) -> None:
    account = _main_account(call)
    answers = {
        (ACCOUNTS, 401): bank.get("/accounts", headers={"x-fapi-interaction-id": "iid-9"}),
        (ACCOUNT, 404): call.get("/accounts/nope", header_id="iid-9"),
        (BALANCES, 403): call.get(f"/accounts/{account}/balances", header_id="iid-9", permissions=BASIC[:1]),
        (TRANSACTIONS, 400): call.get(f"/accounts/{account}/transactions?page=x", header_id="iid-9"),
    }
    for (key, status), answer in answers.items():
        assert answer.status_code == status
        assert answer.headers["x-fapi-interaction-id"] == "iid-9"
        assert answer.json["Id"] == "iid-9"
        assert validate_answer(key, status, answer.json) == []


def test_an_interaction_id_is_generated_when_none_is_sent(bank) -> None:
    answer = bank.get("/accounts")
    assert answer.status_code == 401
    assert len(answer.headers["x-fapi-interaction-id"]) == 36
    assert answer.json["Id"] == answer.headers["x-fapi-interaction-id"]


def test_basic_hides_detail_fields(call) -> None:
    account = call.get("/accounts", permissions=BASIC).json["Data"]["Account"][0]
    assert "Account" not in account
    assert "Holder" not in account
    detail = call.get("/accounts", permissions=["ReadAccountsDetail"]).json["Data"]["Account"][0]
    assert detail["Holder"] == {"SchemeName": "KZ.IIN", "Identification": ONE}
    assert detail["Account"][0]["Name"] == "Demo Customer One"

    path = f"/accounts/{account['AccountId']}/transactions"
    basic = call.get(path, permissions=BASIC).json["Data"]["Transaction"]
    assert basic
    for field in ("TransactionInformation", "MerchantDetails", "BankTransactionCode", "Balance"):
        assert all(field not in t for t in basic)
    detailed = call.get(path, permissions=["ReadTransactionsDetail"]).json["Data"]["Transaction"]
    assert all("TransactionInformation" in t and "BankTransactionCode" in t for t in detailed)


def test_credits_only_hides_debits_and_debits_only_hides_credits(call) -> None:
    path = f"/accounts/{_main_account(call)}/transactions"
    everything = call.get(path, permissions=["ReadTransactionsDetail"]).json
    both = {t["CreditDebitIndicator"] for t in everything["Data"]["Transaction"]}
    assert both == {"Credit", "Debit"} or everything["Meta"]["TotalPages"] > 1
    for only, permission in (("Credit", "ReadTransactionsCredits"), ("Debit", "ReadTransactionsDebits")):
        total = call.get(path, permissions=["ReadTransactionsDetail", permission]).json["Meta"]["TotalPages"]
        for page in range(1, total + 1):
            answer = call.get(f"{path}?page={page}", permissions=["ReadTransactionsDetail", permission]).json
            assert {t["CreditDebitIndicator"] for t in answer["Data"]["Transaction"]} == {only}


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": T0 - 31, "iat": T0 - 91},  # expired, past the skew
        {"iat": T0 + 120, "exp": T0 + 180},  # issued in the future
        {"aud": "dala-participant-id"},
        {"iss": "https://evil.test"},
        {"interaction_id": "another-interaction"},
        {"jti": None},
        {"sub": None},
        {"permissions": "ReadAccountsBasic"},
    ],
    ids=[
        "expired",
        "future",
        "wrong-aud",
        "wrong-issuer",
        "interaction-mismatch",
        "no-jti",
        "no-sub",
        "perm-str",
    ],
)
def test_a_bad_assertion_is_refused(call, claims) -> None:
    answer = call.get("/accounts", **claims)
    assert answer.status_code == 401
    assert answer.json["Errors"][0]["ErrorCode"] == "KZ.SENIM.Unauthorised"
    assert validate_answer(ACCOUNTS, 401, answer.json) == []


def test_an_assertion_within_the_clock_skew_is_accepted(call) -> None:
    assert call.get("/accounts", exp=T0 - 20, iat=T0 - 80).status_code == 200


def test_missing_assertion_wrong_typ_and_bad_signature_are_refused(bank, call, platform) -> None:
    assert bank.get("/accounts", headers={"x-fapi-interaction-id": "iid-1"}).status_code == 401
    garbage = {"Authorization": "Bearer not.a.jwt", "x-fapi-interaction-id": "iid-1"}
    assert bank.get("/accounts", headers=garbage).status_code == 401
    assert call.get("/accounts", headers={"Authorization": "Basic abc"}).status_code == 401
    from tests.reference_bank.conftest import platform_key

    impostor = platform_key(kid=platform.key.kid)  # same kid, another key
    forged = {"Authorization": f"Bearer {platform.assertion(key=impostor)}", "x-fapi-interaction-id": "iid-1"}
    assert bank.get("/accounts", headers=forged).status_code == 401
    wrong_typ = {"Authorization": f"Bearer {platform.assertion(typ='JWT')}", "x-fapi-interaction-id": "iid-1"}
    assert bank.get("/accounts", headers=wrong_typ).status_code == 401


def test_an_assertion_with_a_crafted_header_is_a_401_not_a_500(bank) -> None:
    # joserfc raises TypeError for "crit": [1] before any signature check.
    header = base64.urlsafe_b64encode(
        json.dumps({"alg": "ES256", "typ": "senim-ais-assertion+jwt", "crit": [1]}).encode()
    )
    crafted = f"{header.rstrip(b'=').decode()}.e30.AAAA"
    answer = bank.get(
        "/accounts", headers={"Authorization": f"Bearer {crafted}", "x-fapi-interaction-id": "iid-1"}
    )
    assert answer.status_code == 401
    assert answer.json["Code"] == "401 Unauthorized"


def test_a_replayed_assertion_is_refused(bank, platform) -> None:
    headers = {"Authorization": f"Bearer {platform.assertion()}", "x-fapi-interaction-id": "iid-1"}
    assert bank.get("/accounts", headers=headers).status_code == 200
    replayed = bank.get("/accounts", headers=headers)
    assert replayed.status_code == 401
    assert "already been used" in replayed.json["Message"]


def test_a_missing_interaction_header_does_not_match_the_assertion(call) -> None:
    answer = call.get("/accounts", header_id=None)
    assert answer.status_code == 401


def test_another_customers_account_is_not_found(call) -> None:
    theirs = _main_account(call, sub=TWO)
    for suffix in ("", "/balances", "/transactions"):
        answer = call.get(f"/accounts/{theirs}{suffix}", sub=ONE)
        assert answer.status_code == 404
        assert answer.json["Errors"][0]["ErrorCode"] == "KZ.SENIM.Resource.NotFound"
    assert call.get(f"/accounts/{theirs}", sub=TWO).status_code == 200


def test_a_missing_permission_is_forbidden(call) -> None:
    account = _main_account(call)
    assert call.get("/accounts", permissions=["ReadBalances"]).status_code == 403
    assert call.get(f"/accounts/{account}/balances", permissions=["ReadAccountsDetail"]).status_code == 403
    answer = call.get(f"/accounts/{account}/transactions", permissions=["ReadTransactionsCredits"])
    assert answer.status_code == 403
    assert validate_answer(TRANSACTIONS, 403, answer.json) == []


def test_transactions_are_paged_with_absolute_links(call) -> None:
    path = f"/accounts/{_main_account(call)}/transactions"
    first = call.get(path).json
    total = first["Meta"]["TotalPages"]
    assert total >= 3
    assert len(first["Data"]["Transaction"]) == PAGE_SIZE
    assert "Prev" not in first["Links"]
    second = call.get(f"{path}?page=2").json
    links = second["Links"]
    assert links["Self"] == f"http://localhost{path}?page=2"
    assert links["First"] == f"http://localhost{path}?page=1"
    assert links["Prev"] == f"http://localhost{path}?page=1"
    assert links["Next"] == f"http://localhost{path}?page=3"
    assert links["Last"] == f"http://localhost{path}?page={total}"
    last = call.get(urlsplit(links["Last"]).path + "?" + urlsplit(links["Last"]).query).json
    assert "Next" not in last["Links"]
    assert 1 <= len(last["Data"]["Transaction"]) <= PAGE_SIZE
    pages = [call.get(f"{path}?page={n}").json["Data"]["Transaction"] for n in range(1, total + 1)]
    seen = [t["TransactionId"] for page in pages for t in page]
    assert len(seen) == len(set(seen))
    times = [t["BookingDateTime"] for page in pages for t in page]
    assert times == sorted(times, reverse=True)  # newest first
    for bad in ("0", "x", str(total + 1), "-1"):
        answer = call.get(f"{path}?page={bad}")
        assert answer.status_code == 400
        assert answer.json["Errors"][0]["Path"] == "page"


def test_the_window_is_the_query_intersected_with_the_consent(call) -> None:
    path = f"/accounts/{_main_account(call)}/transactions"
    query = "fromBookingDateTime=2026-12-01T00:00:00%2B05:00&toBookingDateTime=2026-12-31T23:59:59%2B05:00"
    answer = call.get(f"{path}?{query}").json
    times = [t["BookingDateTime"] for t in answer["Data"]["Transaction"]]
    assert times and all("2026-12-01" <= t[:10] <= "2026-12-31" for t in times)
    next_link = urlsplit(answer["Links"]["Next"])
    assert parse_qs(next_link.query)["fromBookingDateTime"] == ["2026-12-01T00:00:00+05:00"]

    narrowed = call.get(f"{path}?{query}", transaction_from="2026-12-15T00:00:00+05:00").json
    times = [t["BookingDateTime"] for t in narrowed["Data"]["Transaction"]]
    assert times and all("2026-12-15" <= t[:10] <= "2026-12-31" for t in times)

    consent_only = call.get(path, transaction_to="2026-10-31T23:59:59+05:00").json
    assert all(t["BookingDateTime"][:10] <= "2026-10-31" for t in consent_only["Data"]["Transaction"])

    disjoint = call.get(f"{path}?{query}", transaction_to="2026-11-01T00:00:00+05:00")
    assert disjoint.status_code == 200
    assert disjoint.json["Data"]["Transaction"] == []
    assert disjoint.json["Meta"]["TotalPages"] == 1


@pytest.mark.parametrize(
    "query",
    [
        "fromBookingDateTime=yesterday",
        "toBookingDateTime=2026-13-01T00:00:00",
        "fromBookingDateTime=2026-12-31T00:00:00&toBookingDateTime=2026-12-01T00:00:00",
    ],
)
def test_bad_dates_are_refused(call, query) -> None:
    answer = call.get(f"/accounts/{_main_account(call)}/transactions?{query}")
    assert answer.status_code == 400
    assert answer.json["Errors"][0]["ErrorCode"] == "KZ.SENIM.Field.InvalidDate"


def test_every_customer_has_one_to_three_accounts_with_valid_ibans(make_bank, platform) -> None:
    bank = make_bank()
    data = bank.application.config["BANK_DATA"]
    assert len(data.customers) == 22
    for iin, accounts in data.customers.items():
        assert is_valid_iin(iin)
        assert 1 <= len(accounts) <= 3
        assert accounts[0].currency == "KZT"
        for account in accounts:
            assert is_valid_kz_iban(account.iban)
            assert account.iban[4:7] == "101"
    currencies = {a.currency for a in data.accounts.values()}
    assert currencies == {"KZT", "USD"}


def test_balances_are_consistent_with_the_transactions(call) -> None:
    for account_id in _ids(call):
        path = f"/accounts/{account_id}"
        balances = {b["Type"]: b for b in call.get(f"{path}/balances").json["Data"]["Balance"]}
        total = call.get(f"{path}/transactions").json["Meta"]["TotalPages"]
        items = [
            t
            for n in range(1, total + 1)
            for t in call.get(f"{path}/transactions?page={n}").json["Data"]["Transaction"]
        ]
        booked = [t for t in items if t["Status"] == "Booked"]
        assert booked[0]["Balance"]["Amount"] == balances["InterimBooked"]["Amount"]
        for newer, older in itertools.pairwise(booked):
            sign = 1 if newer["CreditDebitIndicator"] == "Credit" else -1
            after = _cents(newer["Balance"]["Amount"]["Amount"])
            before = _cents(older["Balance"]["Amount"]["Amount"])
            assert after == before + sign * _cents(newer["Amount"]["Amount"])
        pending = sum(_cents(t["Amount"]["Amount"]) for t in items if t["Status"] == "Pending")
        available = _cents(balances["ClosingAvailable"]["Amount"]["Amount"])
        assert available == _cents(balances["InterimBooked"]["Amount"]["Amount"]) - pending


def _cents(amount: str) -> int:
    units, cents = amount.split(".")
    return int(units) * 100 + int(cents)


def test_the_data_is_the_same_for_the_same_seed_and_differs_between_banks(make_bank, call) -> None:
    again = make_bank().application.config["BANK_DATA"]
    assert [a.iban for a in again.accounts.values()] == _ibans(call.client)
    other = make_bank(bank_code="102").application.config["BANK_DATA"]
    assert [a.iban for a in other.accounts.values()] != _ibans(call.client)
    reseeded = make_bank(seed=7).application.config["BANK_DATA"]
    assert [a.iban for a in reseeded.accounts.values()] != _ibans(call.client)


def _ibans(client) -> list[str]:
    return [a.iban for a in client.application.config["BANK_DATA"].accounts.values()]


def test_merchants_and_categories_look_kazakh(call) -> None:
    path = f"/accounts/{_main_account(call)}/transactions"
    total = call.get(path).json["Meta"]["TotalPages"]
    items = [t for n in range(1, total + 1) for t in call.get(f"{path}?page={n}").json["Data"]["Transaction"]]
    merchants = {t["MerchantDetails"]["MerchantName"] for t in items if "MerchantDetails" in t}
    assert {"Magnum Cash&Carry", "Small"} <= merchants
    assert any(t["TransactionInformation"].startswith("Salary") for t in items)
    assert all(t["BookingDateTime"] <= "2027-01-15T13:00:00+05:00" for t in items)
    assert min(t["BookingDateTime"] for t in items) >= "2026-09-17"  # 120 days back


def test_the_malformed_fault_fails_validation(make_bank, platform) -> None:
    from tests.reference_bank.conftest import Caller

    call = Caller(make_bank(fault="malformed"), platform)
    answer = call.get("/accounts")
    assert answer.status_code == 200
    assert validate_answer(ACCOUNTS, 200, answer.json) != []
    account = answer.json["data"]["Account"][0]["AccountId"]
    assert validate_answer(BALANCES, 200, call.get(f"/accounts/{account}/balances").json) != []
    assert validate_answer(TRANSACTIONS, 200, call.get(f"/accounts/{account}/transactions").json) != []


def test_the_error_fault_answers_500_in_the_error_shape(make_bank, platform) -> None:
    from tests.reference_bank.conftest import Caller

    call = Caller(make_bank(fault="error"), platform)
    answer = call.get("/accounts")
    assert answer.status_code == 500
    assert validate_answer(ACCOUNTS, 500, answer.json) == []
    assert call.get("/accounts", aud="someone-else").status_code == 401  # still checks the assertion first


def test_hold_keeps_a_data_call_waiting_until_released(make_bank, platform) -> None:
    from tests.reference_bank.conftest import Caller

    hold = threading.Event()
    call = Caller(make_bank(hold=hold), platform)
    answers = []
    caller = threading.Thread(target=lambda: answers.append(call.get("/accounts")))
    caller.start()
    caller.join(timeout=0.3)
    assert caller.is_alive() and answers == []
    hold.set()
    caller.join(timeout=10)
    assert answers[0].status_code == 200


def test_a_customer_without_accounts_at_this_bank_sees_an_empty_list(call) -> None:
    answer = call.get("/accounts", sub="000101500011")
    assert answer.status_code == 200
    assert answer.json["Data"]["Account"] == []
    assert validate_answer(ACCOUNTS, 200, answer.json) == []
