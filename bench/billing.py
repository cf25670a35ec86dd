"""Billing and reports benchmark: closing a month of metered calls, and a month's report.

    .venv/bin/python bench/billing.py [--calls 500000] [--api-users 20] [--providers 5]
    SENIM_BENCH_DATABASE_URL=postgresql+psycopg://… .venv/bin/python bench/billing.py

Builds, in a fresh data directory (SQLite unless SENIM_BENCH_DATABASE_URL names
an empty PostgreSQL database): ``--providers`` banks with a published API and
prices for the four billed endpoints (one bank changes a price mid-month: two
unit prices on the invoices), ``--api-users`` fintechs, and ``--calls``
metered calls spread over last month (Kazakhstan time), a few of them failing
at the bank or refused by the proxy (never charged), inserted in bulk. Then:

1. **Closing the month** (``close_period``: pricing by SQL GROUP BY per tariff
   span, the invoices, their lines, the settlement statement, one transaction):
   wall time and calls priced per second; closing it again (idempotent: one
   look-up).
2. **Documents**: one invoice as PDF and CSV.
3. **Reports** over the last 30 days: one API user's, one provider's and the
   platform's (the figures, percentiles and consent counts the pages show).

Figures are printed; nothing is asserted (speed is measured here, never in tests).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project's packages, not bench/'s modules

ENDPOINTS = (
    "GET /accounts",
    "GET /accounts/{AccountId}",
    "GET /accounts/{AccountId}/balances",
    "GET /accounts/{AccountId}/transactions",
)
PRICES = (200, 200, 1000, 2000)  # tiyn, in the order of ENDPOINTS
#: (status, outcome, weight): most calls answered; some failing at the bank or refused (free).
OUTCOMES = (
    (200, "routed", 90),
    (404, "bank_refused:404", 2),
    (502, "refused:bank_status_500", 3),
    (504, "refused:bank_timeout", 2),
    (403, "refused:consent_expired", 3),
)
BATCH = 20_000


def _timed(what, *args, **kwargs):
    started = time.perf_counter()
    result = what(*args, **kwargs)
    return result, time.perf_counter() - started


def _seed(args, db, clock_now: int):
    from registry.apis import add_api
    from registry.billing import period_bounds, previous_period
    from registry.models import RoutedCall, Tariff
    from registry.participants import API_PROVIDER, API_USER, add_participant

    month = period_bounds(previous_period(clock_now))
    banks = [
        add_participant(name=f"Bench Bank {n}", bin=bin_, roles=[API_PROVIDER])
        for n, bin_ in enumerate(_bins("99014", args.providers))
    ]
    users = [
        add_participant(name=f"Bench Fintech {n}", bin=bin_, roles=[API_USER])
        for n, bin_ in enumerate(_bins("99024", args.api_users))
    ]
    apis = [
        add_api(provider_id=bank.id, base_url=f"https://bank{n}.example/ob", publish=True)
        for n, bank in enumerate(banks)
    ]
    for n, api in enumerate(apis):
        for endpoint, price in zip(ENDPOINTS, PRICES, strict=True):
            db.session.add(_tariff(Tariff, api.id, endpoint, price, month.starts_at))
        if n == 0:  # a price change in the middle of the month
            db.session.add(_tariff(Tariff, api.id, ENDPOINTS[2], 1200, month.starts_at + 15 * 86400))
    db.session.commit()

    rng = random.Random(42)
    outcomes = [(status, outcome) for status, outcome, _ in OUTCOMES]
    weights = [weight for *_, weight in OUTCOMES]
    span_ms = (month.ends_at - month.starts_at) * 1000
    started = time.perf_counter()
    for first in range(0, args.calls, BATCH):
        rows = []
        for index in range(first, min(args.calls, first + BATCH)):
            api = apis[index % len(apis)]
            status, outcome = rng.choices(outcomes, weights)[0]
            rows.append(
                {
                    "at": month.starts_at * 1000 + span_ms * index // args.calls,
                    "api_user_id": users[index % len(users)].id,
                    "client_id": "bench-app",
                    "provider_id": api.provider_id,
                    "api_id": api.id,
                    "endpoint": ENDPOINTS[rng.randrange(4)],
                    "status": status,
                    "outcome": outcome,
                    "latency_ms": rng.randrange(40, 900),
                    "consent_id": None,
                    "interaction_id": str(uuid.UUID(int=rng.getrandbits(128))),
                }
            )
        db.session.execute(RoutedCall.__table__.insert(), rows)
        db.session.commit()
    inserted = time.perf_counter() - started
    return month, users, banks, inserted


def _bins(prefix: str, count: int) -> list[str]:
    """``count`` BINs of legal entities starting with ``prefix``, each with its check digit."""
    from resource_proxy.standard.iin import iin_check_digit

    bins, n = [], 0
    while len(bins) < count:
        first = f"{prefix}{n:06d}"
        n += 1
        digit = iin_check_digit(first)
        if digit is not None:
            bins.append(f"{first}{digit}")
    return bins


def _tariff(model, api_id: str, endpoint: str, price: int, since: int):
    return model(
        id=str(uuid.uuid4()),
        api_id=api_id,
        endpoint=endpoint,
        price_tiyn=price,
        effective_from=since,
        set_by="bench",
        created_at=since,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=500_000)
    parser.add_argument("--api-users", type=int, default=20)
    parser.add_argument("--providers", type=int, default=5)
    args = parser.parse_args()

    import logging

    from flask_migrate import upgrade

    from idp.consents.counts import consent_counts
    from registry import billing, reports
    from registry.billing_documents import invoice_csv, invoice_pdf
    from registry.tariffs import format_tenge
    from senim import clock
    from senim.app import create_app
    from senim.database import db
    from senim.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="senim-bench-billing-"))
    env = {"SENIM_DATA_DIR": str(work), "SENIM_LOG_LEVEL": "WARNING"}
    if os.environ.get("SENIM_BENCH_DATABASE_URL"):
        env["SENIM_DATABASE_URL"] = os.environ["SENIM_BENCH_DATABASE_URL"]
    app = create_app(Settings.from_env(env))
    with app.app_context():
        upgrade()
    for noisy in ("alembic", "senim.audit"):  # after upgrade(): it reads alembic.ini's logging
        logging.getLogger(noisy).setLevel(logging.WARNING)
    backend = "PostgreSQL" if "postgresql" in env.get("SENIM_DATABASE_URL", "") else "SQLite"

    with app.app_context():
        now = clock.now_int()
        month, users, banks, inserted = _seed(args, db, now)
        print(
            f"{backend}: {args.calls:,} metered calls in {month.name} "
            f"({args.api_users} API users × {args.providers} providers), inserted in {inserted:.1f} s"
        )

        closed, seconds = _timed(billing.close_period, month.name, "bench")
        print(
            f"close {month.name}: {seconds:.2f} s — {closed.calls_charged:,} calls charged, "
            f"{len(billing.invoices_of_period(month.name))} invoices, total {format_tenge(closed.total_tiyn)} KZT; "
            f"{args.calls / seconds:,.0f} calls priced/s"
        )
        _again, seconds = _timed(billing.close_period, month.name, "bench")
        print(f"close again (idempotent): {seconds * 1000:.1f} ms")

        invoice = billing.invoices_of(users[0].id)[0]
        _pdf, first_pdf = _timed(invoice_pdf, invoice)
        _pdf, pdf_seconds = _timed(invoice_pdf, invoice)
        _csv, csv_seconds = _timed(invoice_csv, invoice)
        print(
            f"one invoice: PDF {pdf_seconds * 1000:.0f} ms (the process's first: {first_pdf * 1000:.0f} ms, "
            f"loading the font), CSV {csv_seconds * 1000:.1f} ms"
        )

        last_30 = reports.day_range(None, None)
        for label, participant_id in (
            ("API user", users[0].id),
            ("provider", banks[0].id),
            ("platform", None),
        ):

            def full(pid=participant_id):
                return reports.report(last_30, pid, consents=consent_counts(last_30, pid))

            report, seconds = _timed(full)
            print(f"report, last 30 days, {label}: {seconds:.2f} s ({report.total.calls:,} calls)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
