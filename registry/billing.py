"""Billing: what API users owe API providers for the calls the proxy routed, period by period.

See docs/billing.md for the money and rounding rules.

- What is charged (``CHARGED``): a metered call the proxy routed
  (``outcome == "routed"``) that the provider answered below 500, to a known
  provider and API. Provider-caused failures (5xx, bank timeouts, an
  unreachable bank) and the proxy's own refusals are never charged. A charged
  call costs the tariff in force at its time (``registry.tariffs.price_at``);
  a call with no tariff in force is free.
- A period is a calendar month in Kazakhstan time (fixed UTC+5), named
  "2026-11". ``close_period`` freezes it, once it has ended, into an invoice
  per API user and one settlement statement, in one transaction; closing again
  returns what is stored, and nothing ever re-prices a closed period.
- Adjustments: corrections recorded with a reason (by an operator, or when a
  dispute is resolved) land on the next period closed.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from registry.models import (
    BillingAdjustment,
    BillingPeriod,
    Invoice,
    InvoiceLine,
    Participant,
    RoutedCall,
    SettlementLine,
    Tariff,
    TariffCap,
    answered_by_bank,
)
from registry.participants import get_participant
from registry.tariffs import TariffError, tenge_as_tiyn
from senim import clock
from senim.audit import audit
from senim.database import db

#: The proxy's metering table; ``at`` is in epoch milliseconds.
ROUTED_CALLS = RoutedCall.__table__
#: A call is charged when the bank answered it itself — 200, or its own 4xx such as an unknown
#: account ("bank_refused:404") — and it names the provider and the API: provider-caused failures
#: (5xx, timeouts, unreachable or invalid answers: "refused:bank_…", 502/504) and the platform's
#: refusals ("refused:…") are never charged.
CHARGED = (
    answered_by_bank(ROUTED_CALLS.c.outcome)
    & (ROUTED_CALLS.c.status < 500)
    & ROUTED_CALLS.c.provider_id.is_not(None)
    & ROUTED_CALLS.c.api_id.is_not(None)
)
#: Periods are calendar months in Kazakhstan time: a fixed UTC+5 (no daylight saving since 2024).
KAZAKHSTAN = timezone(timedelta(hours=5), "ALMT")
CALLS = "calls"
ADJUSTMENT = "adjustment"
MAX_REASON = 500
#: An adjustment is at most this many tiyn either way (10 million tenge): anything above is a typing error.
MAX_ADJUSTMENT_TIYN = 10_000_000_00


class BillingError(TariffError):
    """A billing action cannot be done as asked; ``str(error)`` says why."""


def record_adjustment(
    *,
    api_user_id: str,
    provider_id: str,
    amount_tiyn: int,
    reason: str,
    actor: str,
    appeal_id: str | None = None,
    adjustment_id: str | None = None,
) -> BillingAdjustment:
    """A correction (signed tiyn: negative credits the API user) for the next period closed.

    Added to the caller's session and flushed, not committed: a dispute's resolution and its
    adjustment are stored together or not at all. ``adjustment_id`` (a UUID the form was given)
    makes a repeated submission record nothing more: the adjustment already stored is returned
    (two at the very same moment: the second fails on the key, ``IntegrityError``)."""
    if adjustment_id is not None:
        try:
            adjustment_id = str(uuid.UUID(adjustment_id))
        except (ValueError, TypeError, AttributeError):
            raise BillingError("the form is not one Senim gave: reload the page") from None
        stored = db.session.get(BillingAdjustment, adjustment_id)
        if stored is not None:
            return stored
    if not isinstance(amount_tiyn, int) or isinstance(amount_tiyn, bool) or amount_tiyn == 0:
        raise BillingError("an adjustment is a whole, non-zero number of tiyn")
    if abs(amount_tiyn) > MAX_ADJUSTMENT_TIYN:
        raise BillingError("an adjustment is at most 10,000,000 tenge either way")
    reason = " ".join(reason.split()) if isinstance(reason, str) else ""
    if not reason or len(reason) > MAX_REASON:
        raise BillingError(f"an adjustment needs a reason (at most {MAX_REASON} characters)")
    if not isinstance(actor, str) or not 1 <= len(actor) <= 64:
        raise BillingError("who records it must be said")
    if api_user_id == provider_id:
        raise BillingError("an adjustment is between an API user and another participant, its provider")
    for participant_id in (api_user_id, provider_id):
        if get_participant(participant_id) is None:
            raise BillingError(f"no participant {participant_id}")
    adjustment = BillingAdjustment(
        id=adjustment_id or str(uuid.uuid4()),
        api_user_id=api_user_id,
        provider_id=provider_id,
        amount_tiyn=amount_tiyn,
        reason=reason,
        appeal_id=appeal_id,
        recorded_by=actor,
        created_at=clock.now_int(),
    )
    db.session.add(adjustment)
    db.session.flush()  # two submissions at once: the second fails here (the id is the key)
    audit(
        "billing.adjustment_recorded",
        adjustment_id=adjustment.id,
        api_user_id=api_user_id,
        provider_id=provider_id,
        amount_tiyn=amount_tiyn,
        appeal_id=appeal_id,
        by=actor,
    )
    return adjustment


def parse_adjustment(text: object) -> int:
    """``"-150.00"`` (signed tenge) as -15000 tiyn; refused: floats, zero, more than two decimals, too much."""
    tiyn = tenge_as_tiyn(text, BillingError)
    if tiyn == 0:
        raise BillingError("an adjustment is a whole, non-zero number of tiyn")
    if abs(tiyn) > MAX_ADJUSTMENT_TIYN:
        raise BillingError("an adjustment is at most 10,000,000 tenge either way")
    return tiyn


def pending_adjustments() -> list[BillingAdjustment]:
    """The adjustments no closed period holds yet (they land on the next period closed), oldest first."""
    return list(
        db.session.scalars(
            select(BillingAdjustment)
            .where(BillingAdjustment.period.is_(None))
            .order_by(BillingAdjustment.created_at, BillingAdjustment.id)
        )
    )


# -- periods: calendar months in Kazakhstan time --------------------------------------------------
@dataclass(frozen=True)
class Period:
    """A calendar month in Kazakhstan time: its name and its bounds (epoch seconds, end exclusive)."""

    name: str
    starts_at: int
    ends_at: int


def period_bounds(name: object) -> Period:
    """``"2026-11"`` as the month's first and next month's first moment (00:00, UTC+5)."""
    text = name.strip() if isinstance(name, str) else ""
    try:
        year, month = (int(part) for part in text.split("-"))
        if len(text) != 7 or not 2000 <= year <= 9999 or not 1 <= month <= 12:
            raise ValueError
    except ValueError:
        raise BillingError("a period is a month written YYYY-MM, e.g. 2026-11") from None
    start = datetime(year, month, 1, tzinfo=KAZAKHSTAN)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=KAZAKHSTAN)
    return Period(f"{year:04d}-{month:02d}", int(start.timestamp()), int(end.timestamp()))


def period_of(at: int) -> str:
    """The name of the period (month, Kazakhstan time) holding the moment ``at`` (epoch seconds)."""
    return datetime.fromtimestamp(at, UTC).astimezone(KAZAKHSTAN).strftime("%Y-%m")


def previous_period(at: int) -> str:
    """The month before the one holding ``at``: the latest period that has ended."""
    first = period_bounds(period_of(at)).starts_at
    return period_of(first - 1)


# -- pricing ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PricedCalls:
    """Charged calls of one API user to one endpoint of one provider's API at one unit price."""

    api_user_id: str
    provider_id: str
    api_id: str
    endpoint: str
    unit_price_tiyn: int
    calls: int

    @property
    def amount_tiyn(self) -> int:
        return self.calls * self.unit_price_tiyn


def _starts(rows: list) -> dict[int, int]:
    """{moment: tiyn} of rows (effective_from, tiyn) ordered by start and recording: the later wins."""
    starts: dict[int, int] = {}
    for effective_from, tiyn in rows:
        starts[effective_from] = tiyn
    return starts


def _in_force(starts: dict[int, int], moment: int) -> int | None:
    begun = [start for start in starts if start <= moment]
    return starts[max(begun)] if begun else None


def _caps_of(endpoint: str, period: Period) -> dict[int, int]:
    """{start: cap in tiyn} of the caps on ``endpoint`` set to start before the period's end."""
    return _starts(
        db.session.execute(
            select(TariffCap.effective_from, TariffCap.cap_tiyn)
            .where(TariffCap.endpoint == endpoint, TariffCap.effective_from < period.ends_at)
            .order_by(TariffCap.effective_from, TariffCap.created_at)
        ).all()
    )


def _price_segments(
    api_id: str, endpoint: str, period: Period, caps: dict[int, int]
) -> list[tuple[int, int, int]]:
    """(from, until, price) in epoch milliseconds: the spans of ``period`` with one price charged.

    The price charged is the provider's tariff in force (the rule of ``price_at``: the latest to
    have started at or before a moment, the latest recorded among those starting at one moment),
    never above the regulator's cap in force at that moment (``cap_at``): a price a lowered cap
    flagged is charged at the cap until the provider sets a new one. Before the first tariff,
    calls are free."""
    tariffs = _starts(
        db.session.execute(
            select(Tariff.effective_from, Tariff.price_tiyn)
            .where(
                Tariff.api_id == api_id, Tariff.endpoint == endpoint, Tariff.effective_from < period.ends_at
            )
            .order_by(Tariff.effective_from, Tariff.created_at)
        ).all()
    )
    moments = sorted({max(m, period.starts_at) for m in (*tariffs, *caps)} | {period.starts_at})
    segments = []
    for index, begin in enumerate(moments):
        end = moments[index + 1] if index + 1 < len(moments) else period.ends_at
        price, cap = _in_force(tariffs, begin), _in_force(caps, begin)
        if price is None or begin >= end:
            continue
        segments.append((begin * 1000, end * 1000, price if cap is None else min(price, cap)))
    return segments


def priced_calls(period: Period) -> list[PricedCalls]:
    """The charged calls of ``period``, counted by SQL (GROUP BY) per tariff span, never one by one."""
    priced_pairs = db.session.execute(
        select(Tariff.api_id, Tariff.endpoint)
        .where(Tariff.effective_from < period.ends_at)
        .distinct()
        .order_by(Tariff.api_id, Tariff.endpoint)
    ).all()
    counts: dict[tuple[str, str, str, str, int], int] = defaultdict(int)
    calls = ROUTED_CALLS.c
    caps = {
        endpoint: _caps_of(endpoint, period) for endpoint in {endpoint for _api, endpoint in priced_pairs}
    }
    for api_id, endpoint in priced_pairs:
        for since_ms, until_ms, price in _price_segments(api_id, endpoint, period, caps[endpoint]):
            rows = db.session.execute(
                select(calls.api_user_id, calls.provider_id, func.count())
                .where(
                    CHARGED,
                    calls.api_id == api_id,
                    calls.endpoint == endpoint,
                    calls.at >= since_ms,
                    calls.at < until_ms,
                )
                .group_by(calls.api_user_id, calls.provider_id)
            ).all()
            for api_user_id, provider_id, count in rows:
                counts[(api_user_id, provider_id, api_id, endpoint, price)] += count
    return [
        PricedCalls(api_user_id, provider_id, api_id, endpoint, price, count)
        for (api_user_id, provider_id, api_id, endpoint, price), count in sorted(counts.items())
    ]


# -- closing a period ----------------------------------------------------------------------------------
#: Seconds after a month's end before it can be closed: a call answered in the month's last moment
#: is metered when its answer is sent, and another node's clock may be a little behind.
CLOSING_GRACE = 600


class PeriodNotEnded(BillingError):
    """The month has not ended yet (Kazakhstan time): it cannot be closed."""


def closed_period(name: str) -> BillingPeriod | None:
    """The stored period, if closed."""
    return db.session.get(BillingPeriod, period_bounds(name).name)


def closed_periods() -> list[BillingPeriod]:
    """Every closed period, the latest first."""
    return list(db.session.scalars(select(BillingPeriod).order_by(BillingPeriod.period.desc())))


def close_period(name: str, actor: str) -> BillingPeriod:
    """Close ``name`` ("2026-11") into its invoices and settlement statement, or return them if closed.

    All in one transaction: the period row (its name is the primary key, so a concurrent close
    of the same month fails to insert and gets what the other stored), every invoice and line,
    the adjustments it takes, the settlement lines. Refused before the month has ended."""
    period = period_bounds(name)
    existing = db.session.get(BillingPeriod, period.name)
    if existing is not None:
        return existing
    if not isinstance(actor, str) or not 1 <= len(actor) <= 64:
        raise BillingError("who closes it must be said")
    now = clock.now_int()
    if now < period.ends_at + CLOSING_GRACE:
        raise PeriodNotEnded(
            f"{period.name} has not ended yet (Kazakhstan time): it can be closed "
            f"{CLOSING_GRACE // 60} minutes after its end, once the calls of its last moments are recorded"
        )
    row = BillingPeriod(
        period=period.name,
        starts_at=period.starts_at,
        ends_at=period.ends_at,
        closed_at=now,
        closed_by=actor,
        calls_charged=0,
        total_tiyn=0,
    )
    try:
        db.session.add(row)
        db.session.flush()  # the claim: a second close of the month stops here
        _freeze(row, period)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        stored = db.session.get(BillingPeriod, period.name)
        if stored is None:
            raise
        return stored
    audit(
        "billing.period_closed",
        period=row.period,
        calls_charged=row.calls_charged,
        total_tiyn=row.total_tiyn,
        by=actor,
    )
    return row


def _freeze(row: BillingPeriod, period: Period) -> None:
    """Price the period and store its invoices and settlement lines (in the caller's transaction)."""
    priced = priced_calls(period)
    db.session.execute(
        update(BillingAdjustment)
        .where(BillingAdjustment.period.is_(None), BillingAdjustment.created_at < period.ends_at)
        .values(period=period.name)
        .execution_options(synchronize_session=False)
    )
    adjustments = db.session.scalars(
        select(BillingAdjustment)
        .where(BillingAdjustment.period == period.name)
        .order_by(BillingAdjustment.created_at, BillingAdjustment.id)
    ).all()
    api_user_ids = sorted({p.api_user_id for p in priced} | {a.api_user_id for a in adjustments})
    names = _participants(
        {p.provider_id for p in priced} | {a.provider_id for a in adjustments} | set(api_user_ids)
    )
    owes: dict[str, int] = defaultdict(int)
    receives: dict[str, int] = defaultdict(int)
    ordered = sorted(api_user_ids, key=lambda pid: (names[pid].name, pid))
    for number, api_user_id in enumerate(ordered, start=1):
        user = names[api_user_id]
        invoice = Invoice(
            id=str(uuid.uuid4()),
            number=f"SNM-{period.name}-{number:04d}",
            period=period.name,
            api_user_id=api_user_id,
            api_user_name=user.name,
            api_user_bin=user.bin,
            calls_tiyn=0,
            adjustments_tiyn=0,
            total_tiyn=0,
            issued_at=row.closed_at,
        )
        db.session.add(invoice)
        lines = []
        mine = sorted(
            (p for p in priced if p.api_user_id == api_user_id),
            key=lambda p: (names[p.provider_id].name, p.provider_id, p.api_id, p.endpoint, p.unit_price_tiyn),
        )
        for calls in mine:
            lines.append(
                InvoiceLine(
                    kind=CALLS,
                    provider_id=calls.provider_id,
                    provider_name=names[calls.provider_id].name,
                    api_id=calls.api_id,
                    endpoint=calls.endpoint,
                    calls=calls.calls,
                    unit_price_tiyn=calls.unit_price_tiyn,
                    amount_tiyn=calls.amount_tiyn,
                )
            )
            invoice.calls_tiyn += calls.amount_tiyn
            row.calls_charged += calls.calls
        for adjustment in (a for a in adjustments if a.api_user_id == api_user_id):
            lines.append(
                InvoiceLine(
                    kind=ADJUSTMENT,
                    provider_id=adjustment.provider_id,
                    provider_name=names[adjustment.provider_id].name,
                    amount_tiyn=adjustment.amount_tiyn,
                    reason=adjustment.reason,
                    adjustment_id=adjustment.id,
                )
            )
            invoice.adjustments_tiyn += adjustment.amount_tiyn
        for position, line in enumerate(lines, start=1):
            line.invoice_id, line.position = invoice.id, position
            db.session.add(line)
            owes[api_user_id] += line.amount_tiyn
            receives[line.provider_id] += line.amount_tiyn
        invoice.total_tiyn = invoice.calls_tiyn + invoice.adjustments_tiyn
        row.total_tiyn += invoice.total_tiyn
    for participant_id in sorted(set(owes) | set(receives), key=lambda pid: (names[pid].name, pid)):
        db.session.add(
            SettlementLine(
                period=period.name,
                participant_id=participant_id,
                participant_name=names[participant_id].name,
                participant_bin=names[participant_id].bin,
                owes_tiyn=owes[participant_id],
                receives_tiyn=receives[participant_id],
                net_tiyn=receives[participant_id] - owes[participant_id],
            )
        )
    db.session.flush()


def _participants(ids: set[str]) -> dict[str, Participant]:
    found = {p.id: p for p in db.session.scalars(select(Participant).where(Participant.id.in_(ids)))}
    missing = ids - set(found)
    if missing:
        raise BillingError(f"calls or adjustments name unknown participants: {', '.join(sorted(missing))}")
    return found


def close_previous_period(actor: str = "worker") -> BillingPeriod | None:
    """The worker's round: close last month once it has ended (and the grace); nothing (one lookup) if closed."""
    name = previous_period(clock.now_int() - CLOSING_GRACE)
    if db.session.get(BillingPeriod, name) is not None:
        return None
    return close_period(name, actor)


# -- reading the frozen documents ------------------------------------------------------------------
def invoices_of_period(name: str) -> list[Invoice]:
    return list(db.session.scalars(select(Invoice).where(Invoice.period == name).order_by(Invoice.number)))


def invoices_of(api_user_id: str) -> list[Invoice]:
    """The API user's invoices, the latest period first."""
    return list(
        db.session.scalars(
            select(Invoice)
            .where(Invoice.api_user_id == api_user_id)
            .order_by(Invoice.period.desc(), Invoice.number)
        )
    )


def get_invoice(invoice_id: str) -> Invoice | None:
    return db.session.get(Invoice, invoice_id) if isinstance(invoice_id, str) else None


def invoice_lines(invoice_id: str) -> list[InvoiceLine]:
    return list(
        db.session.scalars(
            select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.position)
        )
    )


def receivables_of(provider_id: str) -> list[tuple[Invoice, InvoiceLine]]:
    """The invoice lines owed to ``provider_id`` (its calls and adjustments), the latest period first."""
    rows = db.session.execute(
        select(Invoice, InvoiceLine)
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(InvoiceLine.provider_id == provider_id)
        .order_by(Invoice.period.desc(), Invoice.number, InvoiceLine.position)
    )
    return [(invoice, line) for invoice, line in rows]


def settlement_of(name: str) -> list[SettlementLine]:
    return list(
        db.session.scalars(
            select(SettlementLine).where(SettlementLine.period == name).order_by(SettlementLine.id)
        )
    )


def settlement_line_of(name: str, participant_id: str) -> SettlementLine | None:
    return db.session.scalar(
        select(SettlementLine).where(
            SettlementLine.period == name, SettlementLine.participant_id == participant_id
        )
    )


def prices_in_force(api_id: str, at: int) -> list[tuple[str, int | None, int | None]]:
    """(endpoint, price, cap) in tiyn at ``at`` for each billed endpoint of the API (None: none set)."""
    from registry.tariffs import BILLED_ENDPOINTS, cap_at, price_at

    return [(endpoint, price_at(api_id, endpoint, at), cap_at(endpoint, at)) for endpoint in BILLED_ENDPOINTS]


def cap_history() -> list[TariffCap]:
    """Every cap the regulator ever set, the latest start first (the history the console shows)."""
    return list(
        db.session.scalars(
            select(TariffCap).order_by(TariffCap.effective_from.desc(), TariffCap.created_at.desc())
        )
    )
