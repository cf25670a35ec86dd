"""What a bank may send, byte for byte (a ``ScriptedBank``), and what the API
user gets of it: an answer outside the standard is refused (502, the
standard's error shape, metered with its reason) and nothing of it is passed
on; a 4xx of the standard is passed on with the standard's fields only."""

from __future__ import annotations

import json

from resource_proxy.forwarding import MAX_ANSWER_BYTES
from tests.resource_proxy.conftest import Platform, ScriptedBank, assert_refused, metered

INVALID = "KZ.SENIM.Provider.InvalidAnswer"


def no_accounts(bank: ScriptedBank, **meta: object) -> bytes:
    """A 200 to GET /accounts in the standard's shape (the customer holds nothing here)."""
    answer = {
        "Data": {"Account": []},
        "Links": {"Self": f"{bank.base_url}/accounts"},
        "Meta": {"TotalPages": 1, **meta},
    }
    return json.dumps(answer).encode()


def test_a_good_answer_of_the_scripted_bank_is_passed_on(
    platform: Platform, scripted_bank: ScriptedBank
) -> None:
    # the counterpart of the refusals below: the same answer, without their flaw, passes
    _consent, token = platform.token()
    scripted_bank.answer("200 OK", no_accounts(scripted_bank))
    answer = platform.call("/accounts", token)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["Data"] == {"Account": []}
    assert metered()[-1].outcome == "routed"


def test_an_answer_nested_too_deep_to_parse_gives_502(
    platform: Platform, scripted_bank: ScriptedBank
) -> None:
    _consent, token = platform.token()
    scripted_bank.answer("200 OK", b"[" * 200_000)
    assert_refused(platform.call("/accounts", token), 502, INVALID, "refused:bank_answer_too_deep")


def test_meta_carrying_a_field_outside_the_standard_gives_502(
    platform: Platform, scripted_bank: ScriptedBank
) -> None:
    _consent, token = platform.token()
    scripted_bank.answer("200 OK", no_accounts(scripted_bank, CustomerSegment="affluent"))
    answer = platform.call("/accounts", token)
    assert_refused(answer, 502, INVALID, "refused:bank_answer_invalid")
    assert b"affluent" not in answer.data


def test_a_link_to_anywhere_but_the_bank_gives_502(platform: Platform, scripted_bank: ScriptedBank) -> None:
    _consent, token = platform.token()
    answer = json.loads(no_accounts(scripted_bank))
    answer["Links"]["Next"] = "https://elsewhere.example/accounts?page=2"
    scripted_bank.answer("200 OK", json.dumps(answer).encode())
    answer = platform.call("/accounts", token)
    assert_refused(answer, 502, INVALID, "refused:bank_link_foreign")
    assert b"elsewhere" not in answer.data


def test_a_redirect_is_not_followed_and_gives_502(platform: Platform, scripted_bank: ScriptedBank) -> None:
    _consent, token = platform.token()
    elsewhere = f"{scripted_bank.base_url}/elsewhere"
    scripted_bank.answer("302 Found", b"", {"Location": elsewhere})
    answer = platform.call("/accounts", token)
    assert_refused(answer, 502, INVALID, "refused:bank_status_invalid")
    assert b"elsewhere" not in answer.data and "Location" not in answer.headers
    assert len(scripted_bank.requests) == 1


def test_an_answer_over_2_mib_gives_502(platform: Platform, scripted_bank: ScriptedBank) -> None:
    _consent, token = platform.token()
    answer = json.loads(no_accounts(scripted_bank))
    answer["Data"]["Account"] = [{"AccountId": "x" * 64}] * (MAX_ANSWER_BYTES // 64)
    scripted_bank.answer("200 OK", json.dumps(answer).encode())
    assert_refused(platform.call("/accounts", token), 502, INVALID, "refused:bank_answer_too_large")


def test_an_answer_that_is_not_json_gives_502(platform: Platform, scripted_bank: ScriptedBank) -> None:
    _consent, token = platform.token()
    scripted_bank.answer("200 OK", b"<html><body>Service window</body></html>", {"Content-Type": "text/html"})
    answer = platform.call("/accounts", token)
    assert_refused(answer, 502, INVALID, "refused:bank_answer_not_json")
    assert b"Service window" not in answer.data


def test_a_4xx_is_passed_on_with_the_standard_fields_only(
    platform: Platform, scripted_bank: ScriptedBank
) -> None:
    _consent, token = platform.token()
    refusal = {
        "Code": "404 Not Found",
        "Id": "the-bank's-own-id",
        "Message": "No such account.",
        "Errors": [
            {
                "ErrorCode": "KZ.SENIM.Resource.NotFound",
                "Message": "No such account.",
                "Path": "AccountId",
                "Help": f"{scripted_bank.base_url}/help",
            }
        ],
        "Links": {"Self": f"{scripted_bank.base_url}/accounts/A-1"},
        "Branch": {"Address": "Almaty, Abay 1"},
    }
    scripted_bank.answer("404 Not Found", json.dumps(refusal).encode())
    answer = platform.call("/accounts/A-1", token)
    assert answer.status_code == 404
    assert answer.get_json() == {
        "Code": "404 Not Found",
        "Id": answer.headers["x-fapi-interaction-id"],
        "Message": "No such account.",
        "Errors": [
            {"ErrorCode": "KZ.SENIM.Resource.NotFound", "Message": "No such account.", "Path": "AccountId"}
        ],
    }
    assert scripted_bank.base_url.encode() not in answer.data and b"127.0.0.1" not in answer.data
    assert metered()[-1].outcome == "bank_refused:404"
