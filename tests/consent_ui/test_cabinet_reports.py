"""The reports pages: a participant's in the cabinet, the platform's for operators and the
regulator; CSV equal to the tables; ranges refused; who may open what (the regulator reads only)."""

from __future__ import annotations

import csv
import io
import re

import pytest

from consent_ui.cabinet_reports import figures_of
from registry.reports import day_range, tables
from registry.staff import REGULATOR, get_member
from tests.support.reports import call, kz_ms
from tests.support.staff import bank, fintech, joined, operator

RANGE = {"from": "2025-03-09", "to": "2025-03-11"}


@pytest.fixture
def traffic(app):
    """Qarjy called Altyn on two days in Kazakhstan time; Tengri called Kaspi (not Qarjy's business)."""
    qarjy, altyn = fintech(), bank()
    tengri = fintech("Tengri Apps LLP", "150840000098")
    kaspi = bank("Kaspi Test Bank", "990240000080")
    for latency in (80, 120, 400):
        call(kz_ms("2025-03-09 23:30"), api_user_id=qarjy.id, provider_id=altyn.id, latency_ms=latency)
    call(
        kz_ms("2025-03-10 00:10"),
        api_user_id=qarjy.id,
        provider_id=altyn.id,
        status=504,
        outcome="refused:bank_timeout",
    )
    call(
        kz_ms("2025-03-10 09:00"),
        api_user_id=qarjy.id,
        provider_id=altyn.id,
        status=403,
        outcome="refused:consent_revoked",
        endpoint="GET /accounts/{AccountId}/balances",
    )
    call(
        kz_ms("2025-03-10 10:00"),
        api_user_id=tengri.id,
        provider_id=kaspi.id,
        endpoint="GET /secret-endpoint",
    )
    return {"qarjy": qarjy, "altyn": altyn, "tengri": tengri, "kaspi": kaspi}


@pytest.fixture
def viewer(app, traffic):
    return joined(app, participant_id=traffic["qarjy"].id, role="viewer", email="viewer@qarjy.kz")


@pytest.fixture
def regulator(app):
    return joined(app, participant_id=None, role=REGULATOR, email="inspector@ardfm.kz")


def _html_table(page: str, name: str) -> list[list[str]]:
    body = re.search(rf'<table [^>]*data-table="{name}".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return [
        re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def _csv(answer) -> list[list[str]]:
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(answer.get_data(as_text=True))))


def test_a_participant_sees_its_charts_and_tables_under_a_strict_csp(viewer):
    answer = viewer.http.get("/registry/reports", query_string=RANGE)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    assert page.count('<figure class="chart"') == 3 and page.count("<svg") >= 3
    assert " style=" not in page and "<script" not in page
    assert [row[:3] for row in _html_table(page, "usage_by_day")] == [
        ["2025-03-09", "3", "0"],
        ["2025-03-10", "2", "2"],
        ["2025-03-11", "0", "0"],
    ]
    assert _html_table(page, "usage_by_counterparty")[0][:3] == ["you called", "Altyn Bank", "5"]
    assert "2025-03-09: 3 calls, 0 errors" in page  # a bar's title
    assert "Tengri Apps LLP" not in page and "secret-endpoint" not in page


@pytest.mark.parametrize(
    "name",
    [
        "summary",
        "usage_by_day",
        "usage_by_api",
        "usage_by_endpoint",
        "usage_by_counterparty",
        "errors_by_outcome",
        "consents",
    ],
)
def test_each_table_downloads_as_csv_equal_to_the_table(app, traffic, viewer, name):
    expected = tables(figures_of(day_range(RANGE["from"], RANGE["to"]), traffic["qarjy"].id))[name]
    rows = _csv(viewer.http.get("/registry/reports.csv", query_string={**RANGE, "table": name}))
    assert rows[0] == list(expected.columns)
    assert rows[1:] == [list(row) for row in expected.rows]
    page = viewer.http.get("/registry/reports", query_string=RANGE).get_data(as_text=True)
    if name in ("usage_by_day", "usage_by_endpoint", "summary", "consents"):
        assert _html_table(page, name) == rows[1:]


def test_the_csv_names_its_table_and_range(viewer):
    answer = viewer.http.get("/registry/reports.csv", query_string={**RANGE, "table": "usage_by_day"})
    disposition = answer.headers["Content-Disposition"]
    assert disposition == 'attachment; filename="senim-participant-usage_by_day-2025-03-09-2025-03-11.csv"'


@pytest.mark.parametrize(
    ("asked", "says"),
    [
        ({"from": "2025-03-12", "to": "2025-03-11"}, "The first day is after the last day."),
        ({"from": "2024-01-01", "to": "2025-03-11"}, "A report covers at most 366 days"),
        ({"from": "yesterday", "to": "2025-03-11"}, "Write the days as YYYY-MM-DD"),
    ],
)
def test_a_wrong_range_is_refused_with_a_clear_message(viewer, asked, says):
    answer = viewer.http.get("/registry/reports", query_string=asked)
    assert answer.status_code == 400 and says in answer.get_data(as_text=True)
    assert 'id="range-error"' in answer.get_data(as_text=True)
    download = viewer.http.get("/registry/reports.csv", query_string={**asked, "table": "usage_by_day"})
    assert download.status_code == 400 and says in download.get_data(as_text=True)


def test_an_unknown_table_is_not_found(viewer):
    assert (
        viewer.http.get("/registry/reports.csv", query_string={**RANGE, "table": "customers"}).status_code
        == 404
    )


def test_the_default_range_is_the_last_thirty_days(app, clock, viewer):
    clock._now = kz_ms("2025-03-10 12:00") / 1000
    page = viewer.http.get("/registry/reports").get_data(as_text=True)
    assert 'name="from" value="2025-02-09"' in page and 'name="to" value="2025-03-10"' in page
    assert len(_html_table(page, "usage_by_day")) == 30


def test_a_participant_cannot_ask_for_another_participants_report(app, traffic, viewer):
    page = viewer.http.get(
        "/registry/reports", query_string={**RANGE, "participant": traffic["tengri"].id}
    ).get_data(as_text=True)
    assert "Tengri Apps LLP" not in page and "secret-endpoint" not in page
    for path in ("/registry/console/reports", "/registry/console/reports.csv"):
        answer = viewer.http.get(
            path, query_string={**RANGE, "table": "usage_by_day", "participant": traffic["tengri"].id}
        )
        assert answer.status_code == 404


def test_a_bank_sees_the_calls_made_to_it(app, traffic):
    admin = joined(app, participant_id=traffic["altyn"].id, role="admin", email="admin@altyn.kz")
    page = admin.http.get("/registry/reports", query_string=RANGE).get_data(as_text=True)
    assert _html_table(page, "usage_by_counterparty")[0][:3] == ["called you", "Qarjy LLP", "5"]


def test_an_operator_reads_the_platform_reports_and_each_participants(app, traffic):
    staff = operator(app)
    assert staff.http.get("/registry/reports").headers["Location"].endswith("/registry/console/reports")
    page = staff.http.get("/registry/console/reports", query_string=RANGE).get_data(as_text=True)
    assert "Platform reports" in page and "Reports</a>" in page
    assert [row[0] for row in _html_table(page, "by_participant")] == [
        "Altyn Bank",
        "Kaspi Test Bank",
        "Qarjy LLP",
        "Tengri Apps LLP",
    ]
    one = staff.http.get(
        "/registry/console/reports", query_string={**RANGE, "participant": traffic["tengri"].id}
    )
    assert "Reports of Tengri Apps LLP" in one.get_data(as_text=True)
    rows = _csv(
        staff.http.get("/registry/console/reports.csv", query_string={**RANGE, "table": "by_participant"})
    )
    assert rows[0][0] == "participant" and len(rows) == 5
    unknown = staff.http.get("/registry/console/reports", query_string={"participant": "nobody"})
    assert unknown.status_code == 404


def test_the_regulator_lands_on_the_aggregate_reports_and_sees_only_them(app, traffic, regulator):
    assert regulator.http.get("/registry/").headers["Location"].endswith("/registry/console/reports")
    assert regulator.http.get("/registry/cabinet").headers["Location"].endswith("/registry/console/reports")
    page = regulator.http.get("/registry/console/reports", query_string=RANGE).get_data(as_text=True)
    assert "Platform reports" in page and page.count('<figure class="chart"') == 3
    nav = re.search(r'<nav class="tabs".*?</nav>', page, re.S).group(0)
    assert "Reports" in nav and "Participants" not in nav and "Staff" not in nav and "Audit log" not in nav
    rows = _csv(
        regulator.http.get("/registry/console/reports.csv", query_string={**RANGE, "table": "usage_by_day"})
    )
    assert rows[1][:2] == ["2025-03-09", "3"]


@pytest.mark.parametrize(
    "path",
    [
        "/registry/console",
        "/registry/console/applications",
        "/registry/console/certificates",
        "/registry/console/audit",
        "/registry/staff",
        "/registry/apps",
        "/registry/apis",
        "/registry/connected",
        "/registry/accreditation",
        "/registry/certificates",
    ],
)
def test_the_regulator_finds_no_console_or_cabinet_page(regulator, path):
    assert regulator.http.get(path).status_code == 404


def test_the_regulators_role_may_not_make_an_app(regulator):
    assert regulator.http.get("/registry/apps/new").status_code == 403


def test_the_regulator_changes_nothing(app, traffic, regulator):
    regulator.sign_in_with_passkey()  # a fresh factor: refusals come from the role, not the step-up
    participant_id = traffic["qarjy"].id
    for path, form in [
        (f"/registry/console/participants/{participant_id}/block", {"reason": "no"}),
        (f"/registry/console/participants/{participant_id}/unblock", {}),
        ("/registry/console/applications/some-id/review", {}),
        ("/registry/console/applications/some-id/approve", {}),
        ("/registry/console/applications/some-id/reject", {"reason": "no"}),
        ("/registry/apps", {"name": "Spy app"}),
        ("/registry/cabinet/profile", {"name": "Renamed"}),
    ]:
        answer = regulator.post_form(path, form)
        assert answer.status_code in (403, 404), (path, answer.status_code)
    invite = regulator.post_form("/registry/staff/invite", {"email": "x@ardfm.kz", "role": "operator"})
    assert invite.status_code in (403, 404)
    from registry.participants import get_participant
    from registry.staff import member_by_email

    assert get_participant(participant_id).status == "active" and member_by_email("x@ardfm.kz") is None
    assert get_member(regulator.id).role == REGULATOR
