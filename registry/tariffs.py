"""Tariffs: what an API provider charges for one call to an endpoint, under the regulator's cap.

Money is never a float. Prices are kept in tiyn (1 tenge = 100 tiyn) as
integers; a price is written ``"12.50"`` (tenge, at most two decimals) and
read by ``parse_tenge``, which refuses anything it would have to round.

- The operator sets the regulator's cap per endpoint, from a moment on
  (``set_cap``). A tariff above the cap in force at its start is refused.
  Lowering a cap flags every tariff in force or to come that is now above it
  (``Tariff.above_cap_since``): the provider is told to set a new price, and
  until then calls are charged at the cap (``registry.billing`` never
  charges above the cap in force at a call's time). A price within today's
  cap but above a lower cap already set to start later is accepted and
  flagged at once.
- A provider sets a price per endpoint of its API, from a moment on
  (``set_tariff``); earlier prices stay (history), the one in force at a
  call's time prices the call (``price_at``).

Rows are only added: a closed billing period can always be re-priced to the
same total.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, DecimalException, InvalidOperation

from sqlalchemy import select

from registry.apis import ApiRegistryError, get_api
from registry.models import Tariff, TariffCap
from registry.notifications import notify_participant
from senim import clock
from senim.audit import audit
from senim.database import db

#: The endpoints of the account-information standard that are priced (the proxy meters these keys).
BILLED_ENDPOINTS = (
    "GET /accounts",
    "GET /accounts/{AccountId}",
    "GET /accounts/{AccountId}/balances",
    "GET /accounts/{AccountId}/transactions",
)
TIYN_PER_TENGE = 100
MAX_PRICE_TIYN = 100_000_00  # 100,000 tenge a call: anything above is a typing error
MAX_ACTOR = 64
MAX_WRITTEN = 24  # characters of a written amount: more is never money


class TariffError(ValueError):
    """A price or cap cannot be set as asked; ``str(error)`` says why."""


class AboveCap(TariffError):
    """The price is above the regulator's cap in force when it would start."""


def tenge_as_tiyn(text: object, error: type[ValueError] = TariffError) -> int:
    """``"12.50"`` or ``"-3,5"`` (tenge, signed) as exact tiyn; ``error`` for floats, garbage,
    NaN/infinity and more than two decimals (never rounded). Callers check sign and size."""
    if not isinstance(text, (str, int, Decimal)) or isinstance(text, bool):
        raise error("an amount is written in tenge, e.g. 12.50")
    written = str(text).strip().replace(" ", "").replace(",", ".")
    if len(written) > MAX_WRITTEN:
        raise error("an amount is at most a few digits of tenge")
    try:
        amount = Decimal(written)
        if not amount.is_finite():
            raise InvalidOperation
        tiyn = amount * TIYN_PER_TENGE
    except DecimalException:  # garbage, NaN, infinity, an exponent too large to compute with
        raise error(f"not an amount of tenge: {str(text)[:20]}") from None
    if tiyn != tiyn.to_integral_value():
        raise error("an amount has at most two decimals (tiyn)")
    return int(tiyn)


def parse_tenge(text: object) -> int:
    """``"12.50"`` (tenge) as 1250 tiyn; refused: floats, negatives, more than two decimals, garbage."""
    tiyn = tenge_as_tiyn(text)
    if tiyn < 0:
        raise TariffError("a price is zero or more tenge")
    if tiyn > MAX_PRICE_TIYN:
        raise TariffError(f"a price is at most {MAX_PRICE_TIYN // TIYN_PER_TENGE:,} tenge a call")
    return tiyn


def format_tenge(tiyn: int) -> str:
    """1250 → ``"12.50"``."""
    return f"{Decimal(tiyn) / TIYN_PER_TENGE:.2f}"


def _check_endpoint(endpoint: str) -> str:
    if endpoint not in BILLED_ENDPOINTS:
        raise TariffError(f"no billed endpoint {endpoint!r}: {', '.join(BILLED_ENDPOINTS)}")
    return endpoint


def _check_actor(actor: str) -> str:
    if not isinstance(actor, str) or not 1 <= len(actor) <= MAX_ACTOR:
        raise TariffError("who sets it must be said")
    return actor


def _check_start(effective_from: int | None) -> int:
    now = clock.now_int()
    start = now if effective_from is None else effective_from
    if not isinstance(start, int) or start < now:
        raise TariffError(
            "a price or cap starts now or later, never in the past (closed periods never change)"
        )
    return start


def cap_at(endpoint: str, at: int) -> int | None:
    """The cap in force on ``endpoint`` at ``at`` (tiyn), or None where none was set."""
    return db.session.scalar(
        select(TariffCap.cap_tiyn)
        .where(TariffCap.endpoint == endpoint, TariffCap.effective_from <= at)
        .order_by(TariffCap.effective_from.desc(), TariffCap.created_at.desc())
        .limit(1)
    )


def tariff_in_force(api_id: str, endpoint: str, at: int) -> Tariff | None:
    """The tariff of ``endpoint`` of ``api_id`` in force at ``at``: the latest to have started."""
    return db.session.scalar(
        select(Tariff)
        .where(Tariff.api_id == api_id, Tariff.endpoint == endpoint, Tariff.effective_from <= at)
        .order_by(Tariff.effective_from.desc(), Tariff.created_at.desc())
        .limit(1)
    )


def price_at(api_id: str, endpoint: str, at: int) -> int | None:
    """The provider's price of a call to ``endpoint`` of ``api_id`` at ``at`` (tiyn), or None."""
    tariff = tariff_in_force(api_id, endpoint, at)
    return None if tariff is None else tariff.price_tiyn


def set_cap(endpoint: str, cap: object, actor: str, effective_from: int | None = None) -> TariffCap:
    """The regulator's cap on ``endpoint`` from ``effective_from`` (default now); flags tariffs above it."""
    row = TariffCap(
        id=str(uuid.uuid4()),
        endpoint=_check_endpoint(endpoint),
        cap_tiyn=parse_tenge(cap),
        effective_from=_check_start(effective_from),
        set_by=_check_actor(actor),
        created_at=clock.now_int(),
    )
    db.session.add(row)
    db.session.flush()
    flagged = _flag_tariffs_above(row)
    for tariff in flagged:  # in the same transaction as the cap and the flags
        api = get_api(tariff.api_id)
        notify_participant(
            api.provider_id,
            "tariff_above_cap",
            f"A price is above the regulator's new cap: {endpoint}",
            f"From {row.effective_from} the cap on {endpoint} is {format_tenge(row.cap_tiyn)} tenge; "
            f"your price {format_tenge(tariff.price_tiyn)} tenge must be lowered (until then calls "
            "are charged at the cap).",
        )
    db.session.commit()
    audit("billing.cap_set", endpoint=endpoint, cap_tiyn=row.cap_tiyn, by=row.set_by, flagged=len(flagged))
    return row


def _flag_tariffs_above(cap: TariffCap) -> list[Tariff]:
    """Tariffs of the endpoint that will be in force at or after the cap's start and are above it."""
    candidates = db.session.scalars(
        select(Tariff).where(Tariff.endpoint == cap.endpoint, Tariff.price_tiyn > cap.cap_tiyn)
    ).all()
    flagged = []
    for tariff in candidates:
        starts_later = tariff.effective_from >= cap.effective_from
        in_force = tariff_in_force(tariff.api_id, tariff.endpoint, cap.effective_from)
        if (
            starts_later or (in_force is not None and in_force.id == tariff.id)
        ) and tariff.above_cap_since is None:
            tariff.above_cap_since = clock.now_int()
            flagged.append(tariff)
    return flagged


def set_tariff(
    api_id: str, endpoint: str, price: object, actor: str, effective_from: int | None = None
) -> Tariff:
    """The provider's price of a call to ``endpoint`` of its API from ``effective_from`` (default now)."""
    if get_api(api_id) is None:
        raise ApiRegistryError(f"no API {api_id}")
    endpoint = _check_endpoint(endpoint)
    price_tiyn = parse_tenge(price)
    start = _check_start(effective_from)
    cap = cap_at(endpoint, start)
    if cap is not None and price_tiyn > cap:
        raise AboveCap(
            f"{format_tenge(price_tiyn)} tenge is above the regulator's cap of {format_tenge(cap)} tenge"
            f" on {endpoint}"
        )
    tariff = Tariff(
        id=str(uuid.uuid4()),
        api_id=api_id,
        endpoint=endpoint,
        price_tiyn=price_tiyn,
        effective_from=start,
        set_by=_check_actor(actor),
        created_at=clock.now_int(),
    )
    if _lower_cap_to_come(endpoint, start, price_tiyn):
        tariff.above_cap_since = tariff.created_at  # within the cap now, above a lower one already set
    db.session.add(tariff)
    db.session.commit()
    audit("billing.tariff_set", api_id=api_id, endpoint=endpoint, price_tiyn=price_tiyn, by=tariff.set_by)
    return tariff


def _lower_cap_to_come(endpoint: str, start: int, price_tiyn: int) -> bool:
    """Whether a cap already set to start after ``start`` is below ``price_tiyn``."""
    return (
        db.session.scalar(
            select(TariffCap.id)
            .where(
                TariffCap.endpoint == endpoint,
                TariffCap.effective_from > start,
                TariffCap.cap_tiyn < price_tiyn,
            )
            .limit(1)
        )
        is not None
    )


def tariffs_of(api_id: str) -> list[Tariff]:
    """Every price the API ever had, newest start first (the history)."""
    return list(
        db.session.scalars(
            select(Tariff)
            .where(Tariff.api_id == api_id)
            .order_by(Tariff.effective_from.desc(), Tariff.created_at.desc())
        )
    )
