"""Tariffs under the regulator's cap: money in tiyn, prices at change boundaries, caps refusing and flagging."""

from __future__ import annotations

from decimal import Decimal

import pytest

from registry.apis import add_api
from registry.models import Tariff
from registry.notifications import list_notifications
from registry.tariffs import (
    BILLED_ENDPOINTS,
    AboveCap,
    TariffError,
    format_tenge,
    parse_tenge,
    price_at,
    set_cap,
    set_tariff,
    tariffs_of,
)
from senim.database import db
from tests.support.staff import bank

BALANCES = "GET /accounts/{AccountId}/balances"
DAY = 86400


@pytest.fixture
def api(app):
    return add_api(provider_id=bank().id, base_url="https://api.altyn.kz/ob", publish=True)


@pytest.mark.parametrize(
    ("text", "tiyn"),
    [("12.50", 1250), ("0", 0), (" 3,5 ", 350), ("100000", 10_000_000), (7, 700), (Decimal("0.01"), 1)],
)
def test_prices_are_read_in_tenge_and_kept_in_tiyn(text, tiyn):
    assert parse_tenge(text) == tiyn
    assert format_tenge(tiyn) == f"{Decimal(tiyn) / 100:.2f}"


@pytest.mark.parametrize(
    "text",
    [
        12.5,
        "12.505",
        "-1",
        "NaN",
        "Infinity",
        "abc",
        "",
        None,
        True,
        "100000.01",
        "1e999999",
        "9" * 30,
        "1E+999999999",
    ],
)
def test_prices_that_would_need_rounding_or_are_not_money_are_refused(text):
    with pytest.raises(TariffError):
        parse_tenge(text)


def test_the_endpoints_billed_are_the_ones_the_proxy_meters():
    from resource_proxy.standard import ENDPOINTS

    assert set(BILLED_ENDPOINTS) == set(ENDPOINTS)


def test_a_call_is_priced_by_the_tariff_in_force_at_its_time(app, api, clock):
    start = int(clock.now())
    set_tariff(api.id, BALANCES, "10.00", "provider-admin")
    set_tariff(api.id, BALANCES, "12.50", "provider-admin", effective_from=start + DAY)
    assert price_at(api.id, BALANCES, start - 1) is None
    assert price_at(api.id, BALANCES, start) == 1000
    assert price_at(api.id, BALANCES, start + DAY - 1) == 1000
    assert price_at(api.id, BALANCES, start + DAY) == 1250
    assert [t.price_tiyn for t in tariffs_of(api.id)] == [1250, 1000]


def test_a_tariff_above_the_cap_is_refused_and_nothing_is_stored(app, api):
    set_cap(BALANCES, "5.00", "regulator")
    with pytest.raises(AboveCap, match=r"above the regulator's cap of 5\.00 tenge"):
        set_tariff(api.id, BALANCES, "5.01", "provider-admin")
    assert tariffs_of(api.id) == []
    set_tariff(api.id, BALANCES, "5.00", "provider-admin")


def test_a_cap_applies_from_its_start(app, api, clock):
    set_cap(BALANCES, "5.00", "regulator", effective_from=int(clock.now()) + DAY)
    early = set_tariff(api.id, BALANCES, "8.00", "provider-admin")  # before the cap starts: accepted
    assert early.above_cap_since is not None  # but flagged at once: above the cap to come
    assert (
        set_tariff(api.id, BALANCES, "5.00", "x", effective_from=int(clock.now()) + DAY).above_cap_since
        is None
    )
    with pytest.raises(AboveCap):
        set_tariff(api.id, BALANCES, "8.00", "provider-admin", effective_from=int(clock.now()) + DAY)


def test_lowering_the_cap_flags_tariffs_above_it_and_tells_the_provider(app, api):
    tariff = set_tariff(api.id, BALANCES, "8.00", "provider-admin")
    other = set_tariff(api.id, "GET /accounts", "8.00", "provider-admin")
    set_cap(BALANCES, "5.00", "regulator")
    db.session.remove()  # what was committed, not what the session still holds
    assert db.session.get(Tariff, tariff.id).above_cap_since is not None
    assert db.session.get(Tariff, other.id).above_cap_since is None
    [note] = list_notifications(api.provider_id)
    assert note.kind == "tariff_above_cap" and "5.00" in note.body


@pytest.mark.parametrize(
    ("endpoint", "start_offset", "actor", "says"),
    [
        ("GET /payments", 0, "x", "no billed endpoint"),
        (BALANCES, -10, "x", "never in the past"),
        (BALANCES, 0, "", "who sets it"),
    ],
)
def test_wrong_tariffs_are_refused(app, api, clock, endpoint, start_offset, actor, says):
    with pytest.raises(TariffError, match=says):
        set_tariff(api.id, endpoint, "1.00", actor, effective_from=int(clock.now()) + start_offset)
    assert tariffs_of(api.id) == []
