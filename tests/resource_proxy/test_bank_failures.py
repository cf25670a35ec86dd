"""The platform stays up whatever the bank does: down → 502, slower than the
SLA → 504 (a whole answer in time, not only each byte), an answer outside the
standard → 502 (never passed on); and an API user over its rate limit gets
429 with Retry-After."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from registry.models import PublishedApi
from senim.database import db
from tests.resource_proxy.conftest import (
    Platform,
    ScriptedBank,
    assert_refused,
    closed_port,
    metered,
)


def _proxy_timeout(app, seconds: float) -> Iterator[None]:
    """SENIM_PROXY_TIMEOUT set to ``seconds`` for one test."""
    settings = app.extensions["senim.settings"]
    app.extensions["senim.settings"] = settings.with_overrides(proxy_timeout=seconds)
    yield
    app.extensions["senim.settings"] = settings


@pytest.fixture
def sla(app) -> Iterator[None]:
    """The proxy waits a quarter of a second for a bank."""
    yield from _proxy_timeout(app, 0.25)


def test_a_bank_that_is_down_gives_502(platform: Platform) -> None:
    _consent, token = platform.token()
    api_id = platform.apis[platform.bank]
    db.session.execute(
        update(PublishedApi)
        .where(PublishedApi.id == api_id)
        .values(base_url=f"http://127.0.0.1:{closed_port()}")
    )
    db.session.commit()
    answer = platform.call("/accounts", token)
    assert answer.status_code == 502
    assert answer.get_json()["Errors"][0]["ErrorCode"] == "KZ.SENIM.Provider.Unavailable"
    assert metered()[-1].outcome == "refused:bank_unavailable"


@pytest.fixture
def bank_config(hold: threading.Event) -> dict:
    return {"hold": hold}


def test_a_bank_slower_than_the_sla_gives_504(platform: Platform, hold: threading.Event, sla: None) -> None:
    _consent, token = platform.token()
    try:
        answer = platform.call("/accounts", token)
    finally:
        hold.set()
    assert answer.status_code == 504
    assert answer.get_json()["Errors"][0]["ErrorCode"] == "KZ.SENIM.Provider.Timeout"
    row = metered()[-1]
    assert (row.status, row.outcome) == (504, "refused:bank_timeout")
    # the platform is still up and the bank, released, answers again
    assert platform.call("/accounts", token).status_code == 200


@pytest.fixture
def one_second(app) -> Iterator[None]:
    """The proxy waits a second for a bank's whole answer."""
    yield from _proxy_timeout(app, 1.0)


def test_a_bank_trickling_its_body_gives_504_at_the_deadline(
    platform: Platform, scripted_bank: ScriptedBank, one_second: None
) -> None:
    _consent, token = platform.token()
    body = b" " * 40  # a byte every 0.3 s: each read in time, the whole answer after 12 s
    scripted_bank.at_once = ScriptedBank.head("200 OK", len(body))
    scripted_bank.trickled = body
    answer = platform.call("/accounts", token)
    assert_refused(answer, 504, "KZ.SENIM.Provider.Timeout", "refused:bank_timeout")
    # the proxy hung up on the bank rather than keeping (or pooling) the connection
    assert scripted_bank.hung_up.wait(5)


def test_a_bank_trickling_its_headers_gives_504_at_the_deadline(
    platform: Platform, scripted_bank: ScriptedBank, one_second: None
) -> None:
    _consent, token = platform.token()
    scripted_bank.at_once = b"HTTP/1.1 200 OK\r\n"
    scripted_bank.trickled = b"X-Slow: " + b"." * 40 + b"\r\n"
    answer = platform.call("/accounts", token)
    assert_refused(answer, 504, "KZ.SENIM.Provider.Timeout", "refused:bank_timeout")
    assert scripted_bank.hung_up.wait(5)
