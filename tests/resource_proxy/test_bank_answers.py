"""A bank answering outside the standard is never passed on."""

from __future__ import annotations

import pytest

from tests.resource_proxy.conftest import Platform, metered


@pytest.fixture
def bank_config() -> dict:
    return {"fault": "malformed"}


def test_a_bank_answering_outside_the_standard_gives_502_and_nothing_of_its_answer(
    platform: Platform,
) -> None:
    _consent, token = platform.token()
    answer = platform.call("/accounts", token)
    assert answer.status_code == 502
    body = answer.get_json()
    assert body["Errors"][0]["ErrorCode"] == "KZ.SENIM.Provider.InvalidAnswer"
    assert set(body) == {"Code", "Id", "Message", "Errors"}
    assert metered()[-1].outcome == "refused:bank_answer_invalid"
    # the other bank, correct, is still served
    _consent, other = platform.token(banks=[platform.banks[1]])
    assert platform.call("/accounts", other, provider=platform.banks[1]).status_code == 200
