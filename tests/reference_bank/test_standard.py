"""The account-information standard: its OpenAPI document, IBANs, IINs, permission rules, validation."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from resource_proxy.standard import DOCUMENT_PATH, ENDPOINTS, load_document, match_endpoint, permits
from resource_proxy.standard.iban import is_valid_iban, is_valid_kz_iban, make_kz_iban
from resource_proxy.standard.iin import is_valid_iin
from resource_proxy.standard.permissions import shape_account, shape_transaction, transaction_directions
from resource_proxy.standard.validation import validate_answer

STANDARD_DIR = DOCUMENT_PATH.parent


def test_the_document_is_valid_openapi_3() -> None:
    validate(load_document())


def test_every_endpoint_defines_every_status_and_echoes_the_interaction_id() -> None:
    paths = load_document()["paths"]
    for endpoint in ENDPOINTS.values():
        responses = paths[endpoint.path]["get"]["responses"]
        assert set(responses) == {"200", "400", "401", "403", "404", "429", "500", "502", "504"}
        for answer in responses.values():
            assert "x-fapi-interaction-id" in answer["headers"]


@pytest.mark.parametrize("iban", ["KZ86125KZT5004100100", "KZ244350000012344567", "GB82WEST12345698765432"])
def test_known_good_ibans_are_valid(iban: str) -> None:
    assert is_valid_iban(iban)


@pytest.mark.parametrize(
    "iban",
    ["KZ87125KZT5004100100", "KZ68125KZT5004100100", "KZ86125KZT5004100101", "kz86125KZT5004100100", ""],
)
def test_wrong_check_digits_or_form_are_refused(iban: str) -> None:
    assert not is_valid_iban(iban)


def test_a_made_kz_iban_has_the_right_form_and_check_digits() -> None:
    assert make_kz_iban("125", "KZT5004100100") == "KZ86125KZT5004100100"
    for n in range(200):
        iban = make_kz_iban("101", f"{n:013d}")
        assert is_valid_kz_iban(iban)
        assert len(iban) == 20
    assert not is_valid_kz_iban("GB82WEST12345698765432")  # valid IBAN, not Kazakh
    with pytest.raises(ValueError):
        make_kz_iban("1010", "0000000000001")


def test_iin_check_digits() -> None:
    assert is_valid_iin("900101300017")
    assert is_valid_iin("850202300014")
    assert not is_valid_iin("900101300018")
    assert not is_valid_iin("90010130001")


def test_each_endpoint_needs_its_permission() -> None:
    assert permits("GET /accounts", ["ReadAccountsBasic"])
    assert permits("GET /accounts/{AccountId}", ["ReadAccountsDetail"])
    assert not permits("GET /accounts", ["ReadBalances", "ReadTransactionsDetail"])
    assert permits("GET /accounts/{AccountId}/balances", ["ReadBalances"])
    assert not permits("GET /accounts/{AccountId}/balances", ["ReadAccountsDetail"])
    assert permits("GET /accounts/{AccountId}/transactions", ["ReadTransactionsBasic"])
    assert not permits("GET /accounts/{AccountId}/transactions", ["ReadTransactionsCredits"])


def test_paths_match_their_endpoint() -> None:
    endpoint, params = match_endpoint("GET", "/accounts/acc-1/transactions")
    assert endpoint.key == "GET /accounts/{AccountId}/transactions"
    assert params == {"AccountId": "acc-1"}
    assert match_endpoint("GET", "/accounts")[0].key == "GET /accounts"
    assert match_endpoint("POST", "/accounts") is None
    assert match_endpoint("GET", "/accounts/a/b/c") is None


def test_credits_and_debits_restrict_the_directions() -> None:
    assert transaction_directions(["ReadTransactionsBasic"]) == {"Credit", "Debit"}
    assert transaction_directions(["ReadTransactionsBasic", "ReadTransactionsCredits"]) == {"Credit"}
    assert transaction_directions(["ReadTransactionsDetail", "ReadTransactionsDebits"]) == {"Debit"}
    both = ["ReadTransactionsDetail", "ReadTransactionsDebits", "ReadTransactionsCredits"]
    assert transaction_directions(both) == {"Credit", "Debit"}


def test_basic_drops_detail_fields() -> None:
    account = {"AccountId": "a", "Account": [], "Holder": {}}
    assert shape_account(account, ["ReadAccountsBasic"]) == {"AccountId": "a"}
    assert shape_account(account, ["ReadAccountsDetail"]) == account
    transaction = {"TransactionId": "t", "MerchantDetails": {}, "Balance": {}}
    assert shape_transaction(transaction, ["ReadTransactionsBasic"]) == {"TransactionId": "t"}


def _accounts_answer(**account: object) -> dict:
    base = {
        "AccountId": "a1",
        "Currency": "KZT",
        "AccountType": "Personal",
        "AccountSubType": "CurrentAccount",
    }
    return {
        "Data": {"Account": [{**base, **account}]},
        "Links": {"Self": "http://bank/accounts"},
        "Meta": {"TotalPages": 1},
    }


def test_validation_accepts_a_good_answer_and_names_the_problems_of_a_bad_one() -> None:
    detail = {
        "Account": [{"SchemeName": "KZ.IBAN", "Identification": "KZ86125KZT5004100100", "Name": "A"}],
        "Holder": {"SchemeName": "KZ.IIN", "Identification": "900101300017"},
    }
    assert (
        validate_answer("GET /accounts", 200, _accounts_answer(**detail), permissions=["ReadAccountsDetail"])
        == []
    )
    assert validate_answer(
        "GET /accounts", 200, _accounts_answer(**detail), permissions=["ReadAccountsBasic"]
    ) == [
        "Data.Account[0].Account: Detail field under ReadAccountsBasic",
        "Data.Account[0].Holder: Detail field under ReadAccountsBasic",
    ]
    bad_iban = {"Account": [{"SchemeName": "KZ.IBAN", "Identification": "KZ87125KZT5004100100"}]}
    assert validate_answer("GET /accounts", 200, _accounts_answer(**bad_iban)) == [
        "Data.Account[0].Account[0].Identification: IBAN check digits are wrong"
    ]
    assert validate_answer("GET /accounts", 200, _accounts_answer(Currency="tenge")) != []
    assert validate_answer("GET /accounts", 200, {"accounts": []}) != []
    assert validate_answer("GET /accounts", 418, {}) == ["status 418 is not defined for GET /accounts"]


def test_validation_checks_error_answers_and_credit_debit_filters() -> None:
    error = {
        "Code": "404 Not Found",
        "Id": "i",
        "Message": "m",
        "Errors": [{"ErrorCode": "X", "Message": "m"}],
    }
    assert validate_answer("GET /accounts/{AccountId}", 404, error) == []
    assert validate_answer("GET /accounts/{AccountId}", 404, {"error": "not found"}) != []
    debit = {
        "AccountId": "a1",
        "TransactionId": "t1",
        "BookingDateTime": "2026-11-02T10:15:00+05:00",
        "Status": "Booked",
        "CreditDebitIndicator": "Debit",
        "Amount": {"Amount": "1500.00", "Currency": "KZT"},
    }
    answer = {"Data": {"Transaction": [debit]}, "Links": {"Self": "http://b/x"}, "Meta": {"TotalPages": 1}}
    key = "GET /accounts/{AccountId}/transactions"
    assert validate_answer(key, 200, answer, permissions=["ReadTransactionsBasic"]) == []
    assert validate_answer(
        key, 200, answer, permissions=["ReadTransactionsBasic", "ReadTransactionsCredits"]
    ) == ["Data.Transaction[0].CreditDebitIndicator: Debit not granted (only Credit)"]
    assert validate_answer(key, 200, answer, permissions=["ReadBalances"]) != []


def test_the_standard_package_imports_no_platform_code() -> None:
    forbidden = {"flask", "werkzeug", "senim", "idp", "registry", "biometrics", "consent_ui"}
    for path in STANDARD_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(Path(path).read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not {n.split(".")[0] for n in names} & forbidden, path
