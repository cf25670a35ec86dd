"""Reports from the proxy's metering: days in Kazakhstan time, error causes, percentiles,
counterparties from both sides, consents, and a participant seeing only its own traffic."""

from __future__ import annotations

import datetime

import pytest

from idp.consents.counts import consent_counts
from registry.apis import add_api
from registry.participants import API_USER, add_participant
from registry.reports import MADE, RECEIVED, ReportRangeError, day_range, report, tables
from tests.support.reports import call, consent, kz_ms
from tests.support.staff import bank, fintech

DAY = datetime.date


@pytest.fixture
def parties(app):
    """A fintech, two banks (one with a published API) and a second fintech."""
    qarjy, altyn, other = fintech(), bank(), bank("Kaspi Test Bank", "990240000080")
    second = add_participant(name="Tengri Apps LLP", bin="150840000098", roles=[API_USER])
    api = add_api(provider_id=altyn.id, base_url="https://altyn.example/api", publish=True)
    return {"qarjy": qarjy.id, "altyn": altyn.id, "other": other.id, "second": second.id, "api": api.id}


def test_a_range_is_whole_days_in_kazakhstan_by_default_the_last_thirty():
    today = DAY(2025, 3, 10)
    assert day_range("", "", today) == day_range("2025-02-09", "2025-03-10", today)
    chosen = day_range("2025-03-10", "2025-03-10", today)
    assert chosen.start_ms == kz_ms("2025-03-10 00:00") and chosen.end_ms == kz_ms("2025-03-11 00:00")
    assert day_range("2024-03-10", "2025-03-10", today).days[-1] == DAY(2025, 3, 10)  # 366 days: allowed


@pytest.mark.parametrize(
    ("first", "last", "says"),
    [
        ("2025-03-11", "2025-03-10", "after the last day"),
        ("2024-03-09", "2025-03-10", "at most 366 days"),
        ("10.03.2025", "2025-03-10", "not a date"),
        ("2025-02-30", "", "not a date"),
        ("2025-3-1", "", "not a date"),
    ],
)
def test_a_wrong_range_is_refused_with_the_reason(first, last, says):
    with pytest.raises(ReportRangeError, match=says):
        day_range(first, last, DAY(2025, 3, 10))


def test_calls_fall_on_the_day_of_kazakhstan_time(app, parties):
    def at(moment: str) -> None:
        call(kz_ms(moment), api_user_id=parties["qarjy"], provider_id=parties["altyn"])

    at("2025-03-09 23:59:59.999")  # 18:59:59.999 UTC on the 9th
    at("2025-03-10 00:00")  # 19:00 UTC on the 9th: already the 10th in Almaty
    at("2025-03-10 23:59:59.999")
    at("2025-03-11 00:00")  # outside the range
    figures = report(day_range("2025-03-09", "2025-03-10"), parties["qarjy"])
    assert [(d, f.calls) for d, f in figures.by_day] == [(DAY(2025, 3, 9), 1), (DAY(2025, 3, 10), 2)]
    assert figures.total.calls == 3


def test_days_without_calls_are_listed_with_zero(app, parties):
    call(kz_ms("2025-03-02 12:00"), api_user_id=parties["qarjy"], provider_id=parties["altyn"])
    figures = report(day_range("2025-03-01", "2025-03-03"), parties["qarjy"])
    assert [f.calls for _d, f in figures.by_day] == [0, 1, 0]
    assert [f.latency[50] for _d, f in figures.by_day] == [None, 100, None]


def test_errors_split_into_the_providers_and_the_platforms_refusals(app, parties):
    noon = kz_ms("2025-03-10 12:00")
    ids = {"api_user_id": parties["qarjy"], "provider_id": parties["altyn"]}
    for _ in range(6):
        call(noon, **ids)
    call(noon, **ids, status=404, outcome="bank_refused:404")  # the bank's own 4xx: not an error
    call(noon, **ids, status=502, outcome="refused:bank_status_503")  # the bank answered 5xx
    call(noon, **ids, status=504, outcome="refused:bank_timeout")
    call(noon, **ids, status=403, outcome="refused:consent_revoked")
    total = report(day_range("2025-03-10", "2025-03-10"), parties["qarjy"]).total
    assert (total.calls, total.errors, total.provider_errors, total.platform_refusals) == (10, 3, 2, 1)
    assert total.error_rate == pytest.approx(0.3)
    rows = tables(report(day_range("2025-03-10", "2025-03-10"), parties["qarjy"]))["errors_by_outcome"].rows
    assert sorted(rows) == [
        ("refused:bank_status_503", "provider", "502", "1", "10.00"),
        ("refused:bank_timeout", "provider", "504", "1", "10.00"),
        ("refused:consent_revoked", "platform", "403", "1", "10.00"),
    ]


def test_latency_percentiles_are_by_nearest_rank(app, parties):
    noon = kz_ms("2025-03-10 12:00")
    for latency in range(200, 0, -1):  # 1..200 ms, inserted in reverse
        endpoint = "GET /accounts" if latency % 2 else "GET /accounts/{AccountId}/balances"
        call(
            noon,
            api_user_id=parties["qarjy"],
            provider_id=parties["altyn"],
            latency_ms=latency,
            endpoint=endpoint,
        )
    figures = report(day_range("2025-03-10", "2025-03-10"), parties["qarjy"])
    assert figures.total.latency == {50: 100, 95: 190, 99: 198}
    by_endpoint = {e: f.latency for e, f in figures.by_endpoint}
    # odd latencies 1..199 (100 of them): p50 the 50th = 99; even 2..200: the 50th = 100
    assert by_endpoint["GET /accounts"] == {50: 99, 95: 189, 99: 197}
    assert by_endpoint["GET /accounts/{AccountId}/balances"] == {50: 100, 95: 190, 99: 198}
    assert figures.by_day[0][1].latency == {50: 100, 95: 190, 99: 198}


def test_a_single_call_is_every_percentile(app, parties):
    call(kz_ms("2025-03-10 12:00"), api_user_id=parties["qarjy"], provider_id=parties["altyn"], latency_ms=42)
    assert report(day_range("2025-03-10", "2025-03-10")).total.latency == {50: 42, 95: 42, 99: 42}


def test_usage_by_api_and_counterparty_from_both_sides(app, parties):
    noon = kz_ms("2025-03-10 12:00")
    for _ in range(3):
        call(noon, api_user_id=parties["qarjy"], provider_id=parties["altyn"], api_id=parties["api"])
    call(noon, api_user_id=parties["qarjy"], provider_id=parties["other"])
    call(noon, api_user_id=parties["second"], provider_id=parties["altyn"], api_id=parties["api"], status=502)

    fintech_view = report(day_range("2025-03-10", "2025-03-10"), parties["qarjy"])
    assert [(d, n, f.calls) for d, n, f in fintech_view.by_counterparty] == [
        (MADE, "Altyn Bank", 3),
        (MADE, "Kaspi Test Bank", 1),
    ]
    # a call refused before its API was known has none
    assert [(a, p, f.calls) for a, p, f in fintech_view.by_api] == [
        ("account-information v1", "Altyn Bank", 3),
        ("—", "", 1),
    ]

    bank_view = report(day_range("2025-03-10", "2025-03-10"), parties["altyn"])
    assert [(d, n, f.calls, f.errors) for d, n, f in bank_view.by_counterparty] == [
        (RECEIVED, "Qarjy LLP", 3, 0),
        (RECEIVED, "Tengri Apps LLP", 1, 1),
    ]
    assert bank_view.total.calls == 4 and bank_view.total.provider_errors == 1


def test_a_participant_sees_only_its_own_traffic(app, parties):
    noon = kz_ms("2025-03-10 12:00")
    call(
        noon,
        api_user_id=parties["second"],
        provider_id=parties["other"],
        endpoint="GET /accounts/{AccountId}",
    )
    call(noon, api_user_id=parties["qarjy"], provider_id=parties["altyn"])
    mine = report(day_range("2025-03-10", "2025-03-10"), parties["qarjy"])
    assert mine.total.calls == 1
    assert [e for e, _f in mine.by_endpoint] == ["GET /accounts"]
    assert "Tengri Apps LLP" not in str(tables(mine))
    assert "by_participant" not in tables(mine)


def test_the_platform_report_totals_everyone_and_names_each_participant(app, parties):
    noon = kz_ms("2025-03-10 12:00")
    call(noon, api_user_id=parties["second"], provider_id=parties["other"], status=500)
    call(noon, api_user_id=parties["qarjy"], provider_id=parties["altyn"])
    everyone = report(day_range("2025-03-10", "2025-03-10"))
    assert everyone.total.calls == 2 and everyone.total.error_rate == 0.5
    rows = tables(everyone)["by_participant"].rows
    assert rows == [
        ("Altyn Bank", "0", "0", "0.00", "1", "0", "0.00"),
        ("Kaspi Test Bank", "0", "0", "0.00", "1", "1", "100.00"),
        ("Qarjy LLP", "1", "0", "0.00", "0", "0", "0.00"),
        ("Tengri Apps LLP", "1", "1", "100.00", "0", "0", "0.00"),
    ]


def test_consents_requested_authorised_revoked_and_active(app, clock, parties):
    clock._now = kz_ms("2025-03-20 12:00") / 1000
    day = 86_400
    start = kz_ms("2025-03-10 00:00") // 1000
    q, altyn, other = parties["qarjy"], parties["altyn"], parties["other"]
    later = start + 90 * day
    # asked of both banks, the customer kept Altyn only; authorised in the range, still active
    consent(
        api_user_id=q,
        banks=[altyn, other],
        kept=[altyn],
        created_s=start,
        status="Authorised",
        authorised_s=start + 60,
        expires_s=later,
    )
    # revoked in the range
    consent(
        api_user_id=q,
        banks=[other],
        kept=[other],
        created_s=start + day,
        status="Revoked",
        authorised_s=start + day,
        expires_s=later,
        revoked_s=start + 2 * day,
    )
    # before the range, still active now; and expired
    consent(
        api_user_id=q,
        banks=[altyn],
        kept=[altyn],
        created_s=start - 5 * day,
        status="Authorised",
        authorised_s=start - 5 * day,
        expires_s=later,
    )
    consent(
        api_user_id=q,
        banks=[altyn],
        kept=[altyn],
        created_s=start - 5 * day,
        status="Authorised",
        authorised_s=start - 5 * day,
        expires_s=start,
    )
    # another fintech's, awaiting, asked of Altyn
    consent(api_user_id=parties["second"], banks=[altyn], created_s=start + day, expires_s=later)
    week = day_range("2025-03-10", "2025-03-16")

    fintech_counts = consent_counts(week, q)
    assert vars(fintech_counts) == {"requested": 2, "authorised": 2, "revoked": 1, "active": 2}
    altyn_counts = consent_counts(week, altyn)
    assert vars(altyn_counts) == {"requested": 2, "authorised": 1, "revoked": 0, "active": 2}
    other_counts = consent_counts(week, other)
    assert vars(other_counts) == {"requested": 2, "authorised": 1, "revoked": 1, "active": 0}
    assert vars(consent_counts(week)) == {"requested": 3, "authorised": 2, "revoked": 1, "active": 2}


def test_the_tables_hold_no_customer_and_no_account_data(app, parties):
    call(
        kz_ms("2025-03-10 12:00"),
        api_user_id=parties["qarjy"],
        provider_id=parties["altyn"],
        endpoint="GET /accounts/{AccountId}/balances",
    )
    everything = str(tables(report(day_range("2025-03-10", "2025-03-10"))))
    assert "interaction-" not in everything and "app-1" not in everything
    assert "GET /accounts/{AccountId}/balances" in everything
