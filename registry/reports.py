"""Reports: how a participant's calls went, from the proxy's metering, and the platform's totals.

Every figure is an aggregate over ``routed_calls`` (one row a call the proxy
answered) and ``consents``: counts, shares and latencies. Nothing here reads
account data, and nothing names a customer: consents are counted, never
listed. Participants are named (they are organisations on the public
register).

- Days are days in Kazakhstan (UTC+5, no summer time): a call at 23:30 UTC
  belongs to the next day. A range is whole days, both ends included, at
  most ``MAX_DAYS``; by default the last ``DEFAULT_DAYS`` days up to today.
- A call is an error when its status is 500 or more or the platform
  refused it (an outcome ``refused:…``). Errors split by who caused them:
  the provider (a status of 500 or more: the bank answered with one, timed
  out, was unreachable or answered outside the standard, which the proxy
  answers with 502 or 504) or the platform's refusal (the consent revoked,
  the token invalid, the rate limit…, a 4xx). The bank's own answers are
  not errors: 200 (``routed``) and its own 4xx passed on, such as an
  unknown account (``bank_refused:404``).
- Latency percentiles are by nearest rank: p95 is the smallest latency with
  at least 95 % of the calls at or under it. Computed in the database with
  window functions (``row_number`` and ``count`` over the group), so
  SQLite and PostgreSQL give the same figures and Python never holds the
  range's latencies.
- A participant's traffic is every call it made (as the API user) and every
  call made to it (as the provider); its counterparties are the providers it
  called and the API users who called it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import BigInteger, and_, case, func, literal_column, not_, or_, select

from registry.models import BANK_REFUSED, ROUTED, Participant, PublishedApi, RoutedCall, answered_by_bank
from senim import clock
from senim.database import db

KAZAKHSTAN = datetime.timezone(datetime.timedelta(hours=5), "UTC+5")
DAY_MS = 86_400_000
OFFSET_MS = 5 * 3_600_000
MAX_DAYS = 366
DEFAULT_DAYS = 30
PERCENTILES = (50, 95, 99)
MADE = "made"  # calls the participant made, as the API user
RECEIVED = "received"  # calls made to the participant, as the provider


class ReportRangeError(ValueError):
    """The dates asked for are not a range a report covers; ``str(error)`` says why."""


@dataclass(frozen=True)
class DayRange:
    """Whole days in Kazakhstan time, ``first`` to ``last`` included."""

    first: datetime.date
    last: datetime.date

    @property
    def start_ms(self) -> int:
        """The first day's midnight in Kazakhstan, as epoch milliseconds."""
        return _midnight_ms(self.first)

    @property
    def end_ms(self) -> int:
        """The midnight after the last day (excluded)."""
        return _midnight_ms(self.last + datetime.timedelta(days=1))

    @property
    def days(self) -> list[datetime.date]:
        return [self.first + datetime.timedelta(days=i) for i in range((self.last - self.first).days + 1)]


def _midnight_ms(day: datetime.date) -> int:
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=KAZAKHSTAN).timestamp() * 1000)


def today_in_kazakhstan() -> datetime.date:
    """The application's clock's date in Kazakhstan."""
    return datetime.datetime.fromtimestamp(clock.now(), KAZAKHSTAN).date()


def day_range(first: str | None, last: str | None, today: datetime.date | None = None) -> DayRange:
    """The range from two dates (YYYY-MM-DD; empty for the default), or ``ReportRangeError``.

    Without ``last``: today; without ``first``: ``DEFAULT_DAYS`` days up to ``last``.
    """
    today = today or today_in_kazakhstan()
    end = _date(last, "to") or today
    start = _date(first, "from") or end - datetime.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ReportRangeError("the first day is after the last day")
    if (end - start).days + 1 > MAX_DAYS:
        raise ReportRangeError(f"a report covers at most {MAX_DAYS} days")
    return DayRange(start, end)


def _date(text: str | None, which: str) -> datetime.date | None:
    text = (text or "").strip() if isinstance(text, str) else ""
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError(text)
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise ReportRangeError(f"the date '{which}' is not a date (YYYY-MM-DD)") from None


# -- the figures -------------------------------------------------------------------------------------
@dataclass
class Figures:
    """Counts and latencies of a set of calls."""

    calls: int = 0
    provider_errors: int = 0  # status >= 500
    platform_refusals: int = 0  # not routed, status < 500
    latency: dict[int, int | None] = field(default_factory=lambda: dict.fromkeys(PERCENTILES))

    @property
    def errors(self) -> int:
        return self.provider_errors + self.platform_refusals

    def share(self, count: int) -> float:
        """``count`` as a fraction of the calls (0 without calls)."""
        return count / self.calls if self.calls else 0.0

    @property
    def error_rate(self) -> float:
        return self.share(self.errors)


@dataclass
class ConsentCounts:
    """Consents of the range and now: requested, authorised and revoked in it; active now."""

    requested: int = 0
    authorised: int = 0
    revoked: int = 0
    active: int = 0


@dataclass
class Report:
    """One report: a participant's (``participant`` set) or the whole platform's."""

    range: DayRange
    participant: Participant | None
    total: Figures
    by_day: list[tuple[datetime.date, Figures]]
    by_api: list[tuple[str, str, Figures]]  # (api, its provider's name, figures)
    by_endpoint: list[tuple[str, Figures]]
    by_counterparty: list[tuple[str, str, Figures]]  # (MADE | RECEIVED, counterparty's name, figures)
    by_outcome: list[tuple[str, str, int, int]]  # (outcome, cause, status, calls)
    consents: ConsentCounts
    by_participant: list[tuple[Participant, Figures, Figures]] = field(default_factory=list)


_PROVIDER_ERROR = RoutedCall.status >= 500
_ANSWERED = answered_by_bank(RoutedCall.outcome)
_PLATFORM_REFUSAL = and_(RoutedCall.status < 500, not_(_ANSWERED))
_COUNTS = (
    func.count(),
    func.sum(case((_PROVIDER_ERROR, 1), else_=0)),
    func.sum(case((_PLATFORM_REFUSAL, 1), else_=0)),
)


def cause_of(status: int, outcome: str) -> str:
    """``provider``, ``platform`` (refused by the platform) or ``""`` (not an error)."""
    if status >= 500:
        return "provider"
    if outcome == ROUTED or outcome.startswith(BANK_REFUSED):
        return ""
    return "platform"


def _traffic(day_range: DayRange, participant_id: str | None) -> list:
    """The WHERE clauses of the report's calls: the range, and the participant's two sides."""
    where = [RoutedCall.at >= day_range.start_ms, RoutedCall.at < day_range.end_ms]
    if participant_id is not None:
        where.append(or_(RoutedCall.api_user_id == participant_id, RoutedCall.provider_id == participant_id))
    return where


def _grouped(where: list, *keys: object) -> dict[tuple, Figures]:
    """Counts per value of ``keys`` (one ``Figures`` a group), without latencies yet."""
    figures: dict[tuple, Figures] = {}
    for row in db.session.execute(select(*keys, *_COUNTS).where(*where).group_by(*keys)):
        *key, calls, provider, platform = row
        figures[tuple(key)] = Figures(int(calls), int(provider or 0), int(platform or 0))
    return figures


def _add_percentiles(where: list, figures: dict[tuple, Figures], *keys: object) -> None:
    """Each group's latency percentiles, by nearest rank, computed in the database."""
    over = {"partition_by": list(keys)} if keys else {}
    ranked = (
        select(
            *[key.label(f"k{i}") for i, key in enumerate(keys)],
            RoutedCall.latency_ms.label("latency"),
            func.row_number().over(order_by=(RoutedCall.latency_ms, RoutedCall.id), **over).label("rank"),
            func.count().over(**over).label("n"),
        )
        .where(*where)
        .subquery()
    )
    # nearest rank: the ceil(p * n / 100)-th smallest, in integer arithmetic
    wanted = [(p * ranked.c.n + 99) // 100 for p in PERCENTILES]
    rows = db.session.execute(
        select(
            *[ranked.c[f"k{i}"] for i in range(len(keys))], ranked.c.latency, ranked.c.rank, ranked.c.n
        ).where(or_(*[ranked.c.rank == w for w in wanted]))
    )
    for row in rows:
        *key, latency, rank, n = row
        group = figures.get(tuple(key))
        if group is None:
            continue
        for p in PERCENTILES:
            if rank == (p * n + 99) // 100:
                group.latency[p] = int(latency)


def _figures(where: list, *keys: object) -> dict[tuple, Figures]:
    figures = _grouped(where, *keys)
    if figures:
        _add_percentiles(where, figures, *keys)
    return figures


def _names(ids: Iterable[str | None]) -> dict[str, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    rows = db.session.execute(select(Participant.id, Participant.name).where(Participant.id.in_(ids)))
    return {pid: name for pid, name in rows}


def _api_names(ids: Iterable[str | None]) -> dict[str, tuple[str, str | None]]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    rows = db.session.execute(
        select(PublishedApi.id, PublishedApi.standard, PublishedApi.version, PublishedApi.provider_id).where(
            PublishedApi.id.in_(ids)
        )
    )
    return {api_id: (f"{standard} {version}", provider) for api_id, standard, version, provider in rows}


def _by_figures(item: tuple) -> tuple:
    return (-item[-1].calls, *[str(part) for part in item[:-1]])


def report(
    day_range: DayRange, participant_id: str | None = None, consents: ConsentCounts | None = None
) -> Report:
    """The report of ``participant_id``'s traffic (or, with None, the whole platform's) in the range.

    ``consents`` are counted by the authorization server (``idp.consents.counts``), which keeps them."""
    where = _traffic(day_range, participant_id)
    total = _figures(where).get((), Figures())

    # constants inlined: PostgreSQL matches the grouped expression by its text, bind parameters included
    day = (
        (RoutedCall.at + literal_column(str(OFFSET_MS), BigInteger))
        // literal_column(str(DAY_MS), BigInteger)
    ).label("day")
    per_day = {key[0]: value for key, value in _figures(where, day).items()}
    epoch = datetime.date(1970, 1, 1)
    by_day = [(d, per_day.get((d - epoch).days, Figures())) for d in day_range.days]

    per_api = _figures(where, RoutedCall.api_id)
    apis = _api_names(key[0] for key in per_api)
    providers = _names(provider for _name, provider in apis.values())
    by_api = sorted(
        (
            (
                apis.get(key[0], (key[0] or "—", None))[0],
                providers.get(apis.get(key[0], ("", None))[1], ""),
                value,
            )
            for key, value in per_api.items()
        ),
        key=_by_figures,
    )
    by_endpoint = sorted(
        ((key[0], value) for key, value in _figures(where, RoutedCall.endpoint).items()), key=_by_figures
    )

    by_counterparty: list[tuple[str, str, Figures]] = []
    if participant_id is not None:
        made = _figures([*where, RoutedCall.api_user_id == participant_id], RoutedCall.provider_id)
        received = _figures([*where, RoutedCall.provider_id == participant_id], RoutedCall.api_user_id)
        names = _names([k[0] for k in made] + [k[0] for k in received])
        by_counterparty = sorted(
            [(MADE, names.get(k[0], k[0] or "—"), v) for k, v in made.items()]
            + [(RECEIVED, names.get(k[0], k[0]), v) for k, v in received.items()],
            key=_by_figures,
        )

    outcomes = db.session.execute(
        select(RoutedCall.outcome, RoutedCall.status, func.count())
        .where(*where, or_(_PROVIDER_ERROR, not_(_ANSWERED)))
        .group_by(RoutedCall.outcome, RoutedCall.status)
    )
    by_outcome = sorted(
        (
            (outcome, cause_of(status, outcome), int(status), int(calls))
            for outcome, status, calls in outcomes
        ),
        key=lambda row: (-row[3], row[0], row[2]),
    )

    by_participant: list[tuple[Participant, Figures, Figures]] = []
    if participant_id is None:
        made = _grouped(where, RoutedCall.api_user_id)
        received = _grouped(where, RoutedCall.provider_id)
        everyone = db.session.scalars(select(Participant).order_by(Participant.name, Participant.id))
        by_participant = [
            (p, made.get((p.id,), Figures()), received.get((p.id,), Figures()))
            for p in everyone
            if (p.id,) in made or (p.id,) in received
        ]

    return Report(
        range=day_range,
        participant=db.session.get(Participant, participant_id) if participant_id else None,
        total=total,
        by_day=by_day,
        by_api=by_api,
        by_endpoint=by_endpoint,
        by_counterparty=by_counterparty,
        by_outcome=by_outcome,
        consents=consents or ConsentCounts(),
        by_participant=by_participant,
    )


# -- the tables (the pages show them under the charts, and export them as CSV) -------------------------
@dataclass(frozen=True)
class Table:
    """A report's table: column keys (also the CSV header) and rows of text cells."""

    name: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]


FIGURE_COLUMNS = (
    "calls",
    "errors",
    "error_rate",
    "provider_errors",
    "platform_refusals",
    "p50_ms",
    "p95_ms",
    "p99_ms",
)
#: The tables of every report, in the order the pages show them; ``by_participant`` is the platform's only.
TABLES = (
    "summary",
    "usage_by_day",
    "usage_by_api",
    "usage_by_endpoint",
    "usage_by_counterparty",
    "errors_by_outcome",
    "consents",
    "by_participant",
)


def percent(fraction: float) -> str:
    """A share as a percentage with two decimals (``"2.50"``), as the tables and CSV show it."""
    return f"{fraction * 100:.2f}"


def _cells(figures: Figures) -> tuple[str, ...]:
    latency = tuple("" if figures.latency[p] is None else str(figures.latency[p]) for p in PERCENTILES)
    return (
        str(figures.calls),
        str(figures.errors),
        percent(figures.error_rate),
        str(figures.provider_errors),
        str(figures.platform_refusals),
        *latency,
    )


def tables(report: Report) -> dict[str, Table]:
    """Every table of the report by name (``TABLES``; ``by_participant`` only for the platform)."""
    c = report.consents
    made = ("made_calls", "made_errors", "made_error_rate")
    received = ("received_calls", "received_errors", "received_error_rate")
    found = {
        "summary": Table("summary", FIGURE_COLUMNS, [_cells(report.total)]),
        "usage_by_day": Table(
            "usage_by_day", ("day", *FIGURE_COLUMNS), [(d.isoformat(), *_cells(f)) for d, f in report.by_day]
        ),
        "usage_by_api": Table(
            "usage_by_api",
            ("api", "provider", *FIGURE_COLUMNS),
            [(a, p, *_cells(f)) for a, p, f in report.by_api],
        ),
        "usage_by_endpoint": Table(
            "usage_by_endpoint",
            ("endpoint", *FIGURE_COLUMNS),
            [(e, *_cells(f)) for e, f in report.by_endpoint],
        ),
        "usage_by_counterparty": Table(
            "usage_by_counterparty",
            ("direction", "counterparty", *FIGURE_COLUMNS),
            [(d, n, *_cells(f)) for d, n, f in report.by_counterparty],
        ),
        "errors_by_outcome": Table(
            "errors_by_outcome",
            ("outcome", "cause", "status", "calls", "share_of_calls"),
            [
                (o, cause, str(s), str(n), percent(report.total.share(n)))
                for o, cause, s, n in report.by_outcome
            ],
        ),
        "consents": Table(
            "consents",
            ("requested", "authorised", "revoked", "active_now"),
            [(str(c.requested), str(c.authorised), str(c.revoked), str(c.active))],
        ),
    }
    if report.participant is None:
        found["by_participant"] = Table(
            "by_participant",
            ("participant", *made, *received),
            [
                (
                    p.name,
                    str(m.calls),
                    str(m.errors),
                    percent(m.error_rate),
                    str(r.calls),
                    str(r.errors),
                    percent(r.error_rate),
                )
                for p, m, r in report.by_participant
            ],
        )
    return found
