"""Published APIs and subscriptions: the proxy's routing tables (registry/apis.py)."""

from __future__ import annotations

import pytest

from registry.apis import (
    ApiRegistryError,
    active_subscription,
    add_api,
    end_subscription,
    published_api,
    set_published,
    subscribe,
)
from registry.participants import API_USER, add_participant, block_participant
from tests.support.consents import add_banks


@pytest.fixture
def bank(app) -> str:
    return add_banks(1)[0]


@pytest.fixture
def api_user(app) -> str:
    return add_participant(name="Budget App LLP", bin="150740000044", roles=[API_USER]).id


def test_an_api_is_routed_only_while_published(bank: str) -> None:
    api = add_api(provider_id=bank, base_url="https://api.bank.kz/ob/v1/")
    assert api.base_url == "https://api.bank.kz/ob/v1"  # no trailing slash: paths are appended
    assert published_api(bank) is None
    set_published(api.id, True)
    assert published_api(bank).id == api.id and api.published_at is not None
    set_published(api.id, False)
    assert published_api(bank) is None


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://bank.kz",
        "https://bank.kz/v1?x=1",
        "https://user:pw@bank.kz",
        "bank.kz/v1",
        "http://:99999",
        "http://api.bank.kz/ob/v1",  # the assertion names the customer: https only, but on loopback
        "http://10.0.0.5:8101",
    ],
)
def test_a_base_url_must_be_an_absolute_http_url_without_extras(bank: str, url: str) -> None:
    with pytest.raises(ApiRegistryError):
        add_api(provider_id=bank, base_url=url)


def test_only_an_active_api_provider_publishes(bank: str, api_user: str) -> None:
    with pytest.raises(ApiRegistryError, match="not an API provider"):
        add_api(provider_id=api_user, base_url="https://x.kz")
    block_participant(bank, "test")
    with pytest.raises(ApiRegistryError, match="blocked"):
        add_api(provider_id=bank, base_url="https://x.kz")


def test_subscribing_twice_keeps_one_subscription_and_ending_it_stops_it(bank: str, api_user: str) -> None:
    api = add_api(provider_id=bank, base_url="https://api.bank.kz", publish=True)
    first = subscribe(api_id=api.id, client_id="app-1", participant_id=api_user)
    again = subscribe(api_id=api.id, client_id="app-1", participant_id=api_user)
    assert first.id == again.id
    assert active_subscription(api.id, "app-1").id == first.id
    end_subscription(api_id=api.id, client_id="app-1")
    assert active_subscription(api.id, "app-1") is None
    assert subscribe(api_id=api.id, client_id="app-1", participant_id=api_user).id == first.id  # renewed


def test_only_an_active_api_user_subscribes(bank: str, api_user: str) -> None:
    api = add_api(provider_id=bank, base_url="https://api.bank.kz", publish=True)
    with pytest.raises(ApiRegistryError):
        subscribe(api_id=api.id, client_id="app-1", participant_id=bank)
    with pytest.raises(ApiRegistryError, match="no API"):
        subscribe(api_id="nope", client_id="app-1", participant_id=api_user)


def test_publishing_by_hand_puts_an_api_with_a_sandbox_on_the_schedule_and_unpublishing_takes_it_off(
    bank: str, clock
) -> None:
    api = add_api(provider_id=bank, base_url="https://api.bank.kz/ob/v1")
    set_published(api.id, True)
    assert api.next_check_due_at is None  # no sandbox: nothing to check
    set_published(api.id, False)
    api.sandbox_url = "https://sandbox.bank.kz/ob/v1"
    set_published(api.id, True)
    assert api.next_check_due_at == int(clock.now())  # checked on the worker's next round
    assert api.status_changed_at == int(clock.now())
    set_published(api.id, False)
    assert api.next_check_due_at is None
