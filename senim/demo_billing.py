"""Demo billing for `make run`: caps, the demo banks' tariffs, last month's calls closed into invoices.

Last month (Kazakhstan time) and this month so far (for the reports) get deterministic metered calls of the demo fintech's
app to the demo banks' APIs (some answered 5xx or timing out at the bank, some refused by the
proxy: never charged), inserted in one statement; then the month is closed into an invoice and a
settlement statement, and an adjustment waits for this month. The caps and tariffs are dated
from the start of last month, written straight into their tables: ``set_cap`` and ``set_tariff``
refuse the past on purpose (a closed period never changes), and the demo needs prices in force
for calls it invents in the past. Idempotent, like the rest of the demo: a second run changes
nothing.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator

from sqlalchemy import func, insert, select

from registry.apis import published_api
from registry.billing import (
    ROUTED_CALLS,
    Period,
    close_period,
    invoices_of_period,
    period_bounds,
    period_of,
    previous_period,
    record_adjustment,
)
from registry.models import BillingAdjustment, BillingPeriod, Participant, PublishedApi, Tariff, TariffCap
from registry.tariffs import format_tenge
from resource_proxy.models import RoutedCall
from senim import clock
from senim.database import db
from senim.demo import DEMO_CLIENT_ID, DEMO_FINTECH, demo_bank_ids

BALANCES = "GET /accounts/{AccountId}/balances"
TRANSACTIONS = "GET /accounts/{AccountId}/transactions"
ACCOUNT = "GET /accounts/{AccountId}"
ACCOUNTS = "GET /accounts"
#: The regulator's caps of the demo, tiyn per call.
DEMO_CAPS = {ACCOUNTS: 500, ACCOUNT: 500, BALANCES: 1500, TRANSACTIONS: 2500}
#: Each demo bank's prices (tiyn), in the order of DEMO_BANKS; the first bank raises its balances
#: price in the middle of the month (two lines on the invoice: one per unit price).
DEMO_PRICES = (
    {ACCOUNTS: 200, ACCOUNT: 200, BALANCES: 1000, TRANSACTIONS: 2000},
    {ACCOUNTS: 150, ACCOUNT: 150, BALANCES: 800, TRANSACTIONS: 1800},
    {ACCOUNTS: 0, ACCOUNT: 0, BALANCES: 1200, TRANSACTIONS: 2250},
)
DEMO_PRICE_CHANGE = (BALANCES, 1200, 15)  # endpoint, new price, from this day of the month
DEMO_CALLS = 360
DEMO_ACTOR = "demo"
DEMO_INTERACTION_PREFIX = "demo-billing-"
DEMO_ADJUSTMENT_REASON = "Refund: three balance calls answered with a stale balance (demo appeal)"
#: (status, outcome, weight) of the demo calls: most answered, a few failing at the bank or refused.
DEMO_OUTCOMES = (
    (200, "routed", 80),
    (404, "bank_refused:404", 4),
    (502, "refused:bank_status_500", 4),
    (502, "refused:bank_status_503", 2),
    (504, "refused:bank_timeout", 5),
    (403, "refused:consent_expired", 5),
)


def seed_demo_billing() -> Iterator[str]:
    """Caps, tariffs, last month's calls closed into invoices, an adjustment for this month."""
    fintech_id = db.session.scalar(select(Participant.id).where(Participant.bin == DEMO_FINTECH[1]))
    apis = [api for api in (published_api(bank_id) for bank_id in demo_bank_ids()) if api is not None]
    if fintech_id is None or not apis:
        return
    month = period_bounds(previous_period(clock.now_int()))
    yield from _caps(month.starts_at)
    yield from _tariffs(apis, month.starts_at)
    if db.session.get(BillingPeriod, month.name) is None:
        yield from _calls(fintech_id, apis, month)
        closed = close_period(month.name, DEMO_ACTOR)
        invoices = invoices_of_period(month.name)
        yield (
            f"demo billing: {month.name} closed, {len(invoices)} invoice(s), "
            f"{closed.calls_charged} calls charged, {format_tenge(closed.total_tiyn)} KZT"
        )
    else:
        yield f"demo billing present: {month.name} closed"
    this_month = period_bounds(period_of(month.ends_at))
    yield from _calls(fintech_id, apis, Period(this_month.name, this_month.starts_at, clock.now_int()))
    yield from _adjustment(fintech_id, apis[0].provider_id)


def _caps(since: int) -> Iterator[str]:
    for endpoint, cap in DEMO_CAPS.items():
        if db.session.scalar(select(TariffCap.id).where(TariffCap.endpoint == endpoint).limit(1)) is None:
            db.session.add(
                TariffCap(
                    id=str(uuid.uuid4()),
                    endpoint=endpoint,
                    cap_tiyn=cap,
                    effective_from=since,
                    set_by=DEMO_ACTOR,
                    created_at=since,
                )
            )
            yield f"demo cap: {endpoint} at most {format_tenge(cap)} KZT a call"
    db.session.commit()


def _tariffs(apis: list[PublishedApi], since: int) -> Iterator[str]:
    for api, prices in zip(apis, DEMO_PRICES, strict=False):
        if db.session.scalar(select(Tariff.id).where(Tariff.api_id == api.id).limit(1)) is not None:
            continue
        for endpoint, price in prices.items():
            db.session.add(_tariff(api.id, endpoint, price, since))
        if api is apis[0]:
            endpoint, price, day = DEMO_PRICE_CHANGE
            db.session.add(_tariff(api.id, endpoint, price, since + (day - 1) * 86400))
        yield f"demo tariffs set for API {api.id}"
    db.session.commit()


def _tariff(api_id: str, endpoint: str, price: int, since: int) -> Tariff:
    return Tariff(
        id=str(uuid.uuid4()),
        api_id=api_id,
        endpoint=endpoint,
        price_tiyn=price,
        effective_from=since,
        set_by=DEMO_ACTOR,
        created_at=since,
    )


def _calls(fintech_id: str, apis: list[PublishedApi], month: Period) -> Iterator[str]:
    if month.ends_at <= month.starts_at:
        return
    present = db.session.scalar(
        select(func.count())
        .select_from(ROUTED_CALLS)
        .where(
            ROUTED_CALLS.c.at >= month.starts_at * 1000,
            ROUTED_CALLS.c.at < month.ends_at * 1000,
            ROUTED_CALLS.c.api_user_id == fintech_id,
        )
    )
    if present:
        return
    rng = random.Random(f"senim-demo-billing-{month.name}")  # noqa: S311 - demo data, the same for the same month
    endpoints = (ACCOUNTS, ACCOUNT, BALANCES, TRANSACTIONS)
    outcomes = [(status, outcome) for status, outcome, _ in DEMO_OUTCOMES]
    weights = [weight for *_, weight in DEMO_OUTCOMES]
    span_ms = (month.ends_at - month.starts_at) * 1000
    # as many calls a day as last month's (a month of 30 days), at least one
    count = max(1, min(DEMO_CALLS, DEMO_CALLS * (month.ends_at - month.starts_at) // (30 * 86400)))
    rows = []
    for index in range(count):
        api = apis[index % len(apis)]
        status, outcome = rng.choices(outcomes, weights)[0]
        rows.append(
            {
                "at": month.starts_at * 1000 + span_ms * index // count + rng.randrange(min(60_000, span_ms)),
                "api_user_id": fintech_id,
                "client_id": DEMO_CLIENT_ID,
                "provider_id": api.provider_id,
                "api_id": api.id,
                "endpoint": rng.choice(endpoints),
                "status": status,
                "outcome": outcome,
                "latency_ms": rng.randrange(40, 900 if outcome == "routed" else 10_000),
                "consent_id": None,
                "interaction_id": f"{DEMO_INTERACTION_PREFIX}{month.name}-{index:04d}",
            }
        )
    db.session.execute(insert(RoutedCall.__table__), rows)
    db.session.commit()
    yield f"demo billing: {len(rows)} metered calls in {month.name}"


def _adjustment(fintech_id: str, provider_id: str) -> Iterator[str]:
    exists = db.session.scalar(
        select(BillingAdjustment.id).where(BillingAdjustment.reason == DEMO_ADJUSTMENT_REASON).limit(1)
    )
    if exists is not None:
        return
    record_adjustment(
        api_user_id=fintech_id,
        provider_id=provider_id,
        amount_tiyn=-3600,
        reason=DEMO_ADJUSTMENT_REASON,
        actor=DEMO_ACTOR,
    )
    db.session.commit()
    yield "demo billing: an adjustment (-36.00 KZT, a refund) waits for this month's invoice"
