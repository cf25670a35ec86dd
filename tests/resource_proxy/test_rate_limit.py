"""Calls per API user are limited (SENIM_PROXY_RATE_LIMIT): 429 in the standard shape with Retry-After."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from limits import parse_many

from tests.resource_proxy.conftest import Platform, metered


@pytest.fixture
def two_a_minute(app) -> Iterator[None]:
    limits = app.extensions["senim.proxy_rate_limits"]
    app.extensions["senim.proxy_rate_limits"] = parse_many("2/minute")
    yield
    app.extensions["senim.proxy_rate_limits"] = limits


def test_an_api_user_over_its_limit_gets_429_with_retry_after(platform: Platform, two_a_minute: None) -> None:
    _consent, token = platform.token()
    assert [platform.call("/accounts", token).status_code for _ in range(2)] == [200, 200]
    answer = platform.call("/accounts", token)
    assert answer.status_code == 429
    assert answer.get_json()["Errors"][0]["ErrorCode"] == "KZ.SENIM.TooManyRequests"
    assert 1 <= int(answer.headers["Retry-After"]) <= 60
    assert metered()[-1].outcome == "refused:rate_limited"


def test_the_limit_counts_per_api_user_not_per_token(platform: Platform, two_a_minute: None) -> None:
    _c1, first = platform.token()
    _c2, second = platform.token()
    assert platform.call("/accounts", first).status_code == 200
    assert platform.call("/accounts", second).status_code == 200
    assert platform.call("/accounts", first).status_code == 429
