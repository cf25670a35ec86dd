"""Prometheus metrics at /metrics: what is counted where it happens (requests per route
template, proxied calls per bank, OTP, biometric and sandbox checks), what is read from the
database at scrape time, who may scrape, what never appears in the exposition, and the sum
over gunicorn's workers in multiprocess mode. The Grafana dashboard queries only what the
app exposes."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from biometrics.face_check import CHALLENGE_LIFETIME, finish_face_check, start_face_check
from biometrics.registry import LocalReferenceRegistry
from idp import otp
from idp.consents.models import SecurityEvent
from idp.sms import OutboxSmsSender
from registry.models import PUBLISHED, REFUSED
from registry.publication import submit_api
from senim import metrics
from senim.cli import main
from senim.database import db
from senim.demo_stack import metrics_dir
from senim.settings import Settings, SettingsError
from tests.registry.conftest import answering, provider, reference_bank, serve  # noqa: F401
from tests.resource_proxy.conftest import PROXY, Platform, bank_config, platform  # noqa: F401
from tests.support.consent_journey import create_consent, end_consent

ROOT = Path(__file__).resolve().parent.parent.parent
DASHBOARD = ROOT / "deploy" / "grafana" / "senim-dashboard.json"
FACES = ROOT / "tests" / "fixtures" / "faces"
TOKEN = "metrics-" + "0123456789abcdef" * 2
ELSEWHERE = {"REMOTE_ADDR": "203.0.113.9"}
#: a fresh `senim run` on a busy 2-core machine (it loads the face models)
START_DEADLINE = 120


def scrape(http, **kwargs: object) -> str:
    answer = http.get("/metrics", **kwargs)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return answer.get_data(as_text=True)


def value(exposition: str, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels`` (0 when none)."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


# -- counted where it happens ------------------------------------------------------------------
def test_a_request_is_counted_under_its_route_template_never_its_path(app: Flask, http) -> None:
    before = scrape(http)
    assert http.get("/healthz").status_code == 200
    assert http.get("/no/such/page/KZ86125KZT5004100100").status_code == 404
    after = scrape(http)
    healthz = {"route": "/healthz", "method": "GET", "status_class": "2xx"}
    assert (
        value(after, "senim_http_requests_total", **healthz)
        == value(before, "senim_http_requests_total", **healthz) + 1
    )
    unmatched = {"route": "unmatched", "method": "GET", "status_class": "4xx"}
    assert value(after, "senim_http_requests_total", **unmatched) >= 1
    assert value(after, "senim_http_request_duration_seconds_count", route="/healthz") >= 1
    assert "/no/such/page" not in after and "KZ86125KZT5004100100" not in after


def test_an_invented_method_is_counted_as_other(app: Flask, http) -> None:
    http.open("/healthz", method="BREW")
    assert value(scrape(http), "senim_http_requests_total", method="other") >= 1


def test_proxied_calls_are_counted_per_bank_status_and_outcome_without_account_ids(
    platform: Platform,  # noqa: F811
) -> None:
    http = platform.api_user.http
    before = scrape(http)
    _consent, token = platform.token(banks=[platform.bank])
    account_id = platform.accounts(token)[0]["AccountId"]
    assert platform.call(f"/accounts/{account_id}/balances", token).status_code == 200
    # the other bank is not in the consent; an unsigned call names no known bank at all
    assert platform.call("/accounts", token, provider=platform.banks[1]).status_code == 403
    assert http.get(PROXY + "/accounts").status_code == 401
    after = scrape(http)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    bank = platform.bank
    assert delta("senim_proxy_calls_total", provider_id=bank, status="200", outcome="routed") == 2
    assert (
        delta(
            "senim_proxy_calls_total",
            provider_id=platform.banks[1],
            status="403",
            outcome="refused:bank_not_in_consent",
        )
        == 1
    )
    assert (
        delta(
            "senim_proxy_calls_total",
            provider_id="none",
            status="401",
            outcome="refused:access_token_invalid",
        )
        == 1
    )
    assert delta("senim_proxy_call_duration_seconds_count", provider_id=bank) == 2
    route = f"{PROXY}/accounts/<AccountId>/balances"
    assert delta("senim_http_requests_total", route=route, method="GET", status_class="2xx") == 1
    # the path carried the account id; the exposition carries the template only
    assert account_id not in after and token not in after


def test_otp_verifications_are_counted_passed_and_failed_by_reason(app: Flask, http) -> None:
    key = otp.otp_key(app.extensions["senim.keyring"].server_secret)
    before = scrape(http)
    sent = otp.send_code("900101300001", "+77010000001", OutboxSmsSender(), key)
    code = _code_in_outbox()
    with pytest.raises(otp.OtpWrong):
        otp.verify_code(sent.challenge_id, f"{(int(code) + 1) % 10**6:06d}", key)
    otp.verify_code(sent.challenge_id, code, key)
    with pytest.raises(otp.OtpUnknown):
        otp.verify_code(sent.challenge_id, code, key)
    after = scrape(http)

    def delta(**labels: str) -> float:
        return value(after, "senim_otp_verifications_total", **labels) - value(
            before, "senim_otp_verifications_total", **labels
        )

    assert delta(result="failed", reason="otp_wrong") == 1
    assert delta(result="failed", reason="otp_unknown") == 1
    assert delta(result="passed") == 1
    assert code not in after and "77010000001" not in after and "900101300001" not in after


def _code_in_outbox() -> str:
    from idp.sms import OutboxMessage

    message = db.session.query(OutboxMessage).order_by(OutboxMessage.id.desc()).first()
    return next(word for word in message.text.split() if word.isdigit() and len(word) == 6)


def test_failed_face_checks_are_counted_by_reason_category(app: Flask, http, clock) -> None:
    iin = "900101300017"
    registry = LocalReferenceRegistry(app.extensions["senim.biometric_key"])
    registry.add_person(
        iin=iin, full_name="Demo One", phone="+77010000001", photo=(FACES / "obama_1.jpg").read_bytes()
    )
    before = scrape(http)
    late = start_face_check(iin, registry)
    clock.advance(CHALLENGE_LIFETIME + 1)
    assert finish_face_check(late.challenge_id, iin, [b"irrelevant"], registry).reasons == [
        "challenge_expired"
    ]
    unreadable = start_face_check(iin, registry)
    assert finish_face_check(unreadable.challenge_id, iin, [b"not an image"], registry).reasons == [
        "unreadable_capture"
    ]
    after = scrape(http)

    def delta(**labels: str) -> float:
        return value(after, "senim_biometric_checks_total", **labels) - value(
            before, "senim_biometric_checks_total", **labels
        )

    assert delta(result="failed", reason="expired") == 1
    assert delta(result="failed", reason="capture") == 1
    assert delta(result="passed") == 0
    assert iin not in after


def test_a_passed_check_and_an_unknown_reason_are_counted_too() -> None:
    def count(result: str, reason: str) -> float:
        labels = {"result": result, "reason": reason}
        return metrics.REGISTRY.get_sample_value("senim_biometric_checks_total", labels) or 0.0

    other, passed = count("failed", "other"), count("passed", "none")
    metrics.record_biometric_check(False, ["a reason nobody wrote down"])
    metrics.record_biometric_check(True)
    assert (count("failed", "other"), count("passed", "none")) == (other + 1, passed + 1)


def test_sandbox_checks_are_counted_per_api_passed_and_failed(app: Flask, http, provider: str, clock) -> None:  # noqa: F811
    before = scrape(http)
    with serve(reference_bank(app, provider, clock)) as url:
        good = submit_api(provider_id=provider, base_url=url, sandbox_url=url, description="Accounts")
    with serve(answering("500 INTERNAL SERVER ERROR", {"error": "down"})) as url:
        bad = submit_api(provider_id=provider, base_url=url, sandbox_url=url, description="Accounts")
    assert (good.api.status, bad.api.status) == (PUBLISHED, REFUSED)
    after = scrape(http)
    assert value(after, "senim_sandbox_checks_total", api_id=good.api.id, result="passed") == 1
    assert (
        value(after, "senim_sandbox_checks_total", api_id=bad.api.id, result="failed", trigger="submission")
        == 1
    )
    assert value(before, "senim_sandbox_checks_total", api_id=bad.api.id) == 0
    assert value(after, "senim_published_apis", status=PUBLISHED) == 1
    assert value(after, "senim_published_apis", status=REFUSED) == 1


# -- read from the database at scrape time -------------------------------------------------------
def test_consent_states_outbox_and_undelivered_events_are_read_at_scrape_time(
    platform: Platform,  # noqa: F811
) -> None:
    http, clock = platform.api_user.http, platform.clock
    empty = scrape(http)
    assert value(empty, "senim_metrics_database_up") == 1
    assert value(empty, "senim_consents") == 0
    assert value(empty, "senim_consents", status="Authorised") == 0  # every state shown, 0 when none
    assert value(empty, "senim_sms_outbox_messages") == 0
    assert value(empty, "senim_sms_outbox_oldest_message_age_seconds") == 0

    create_consent(platform.api_user, clock.now(), [platform.bank])
    revoked, _token = platform.token()
    _kept, _token = platform.token()
    end_consent(platform.api_user, revoked)
    OutboxSmsSender().send("+77010000001", "Senim: 123456 is your code.")
    db.session.add(
        SecurityEvent(
            id=str(uuid.uuid4()),
            client_id="app-1",
            consent_id=revoked,
            event_type="https://example/consent-revoked",
            status="Revoked",
            reason="test",
            occurred_at=int(clock.now()) - 300,
            attempts=0,
            next_attempt_at=int(clock.now()),
        )
    )
    db.session.commit()
    undelivered = db.session.query(SecurityEvent).filter(SecurityEvent.delivered_at.is_(None)).count()
    clock.advance(120)

    after = scrape(http)
    assert value(after, "senim_consents", status="AwaitingAuthorisation") == 1
    assert value(after, "senim_consents", status="Authorised") == 1
    assert value(after, "senim_consents", status="Revoked") == 1
    assert value(after, "senim_sms_outbox_messages") == 1
    assert value(after, "senim_sms_outbox_oldest_message_age_seconds") == 120
    assert value(after, "senim_consent_events_undelivered") == undelivered
    assert value(after, "senim_consent_events_oldest_undelivered_age_seconds") == 420
    assert value(after, "senim_published_apis", status="published") == 2
    assert "123456" not in after and "77010000001" not in after


def test_database_gauges_are_not_kept_per_process() -> None:
    """Each scrape reads them afresh: they live in no process registry that could be summed."""
    names = {m.name for m in metrics.REGISTRY.collect()}
    assert not names & set(metrics.DATABASE_GAUGE_NAMES)


# -- who may scrape ------------------------------------------------------------------------------
def test_without_a_token_only_loopback_clients_may_scrape(app: Flask, http) -> None:
    refused = http.get("/metrics", environ_base=ELSEWHERE)
    assert refused.status_code == 403
    assert refused.get_json() == {
        "error": "access_denied",
        "error_description": "Metrics are served to loopback clients only unless a token is configured.",
    }
    assert refused.headers["Cache-Control"] == "no-store"
    assert scrape(http, environ_base={"REMOTE_ADDR": "::1"})
    assert scrape(http, environ_base={"REMOTE_ADDR": "::ffff:127.0.0.1"})
    # a reverse proxy on this host forwards someone else's request
    forwarded = http.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert forwarded.status_code == 403 and forwarded.get_json()["error"] == "access_denied"


def test_in_production_without_a_token_nobody_may_scrape(app: Flask, http) -> None:
    settings = app.extensions["senim.settings"]
    app.extensions["senim.settings"] = settings.with_overrides(environment="production")
    try:
        refused = http.get("/metrics")  # from loopback: a TLS terminator on this host looks the same
        assert refused.status_code == 403
        assert "SENIM_METRICS_TOKEN" in refused.get_json()["error_description"]
    finally:
        app.extensions["senim.settings"] = settings


def test_emptying_the_metrics_directory_removes_only_prometheus_files(tmp_path) -> None:
    kept = [tmp_path / "senim.db", tmp_path / "notes.txt"]
    stale = [tmp_path / "counter_41.db", tmp_path / "histogram_41.db", tmp_path / "gauge_livesum_41.db"]
    for path in kept + stale:
        path.write_bytes(b"x")
    metrics.prepare_multiprocess_dir(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "senim.db"]


@pytest.fixture
def with_token(app: Flask) -> str:
    settings = app.extensions["senim.settings"]
    app.extensions["senim.settings"] = settings.with_overrides(metrics_token=TOKEN)
    try:
        yield TOKEN
    finally:
        app.extensions["senim.settings"] = settings


def test_with_a_token_a_scraper_presents_it_from_anywhere(http, with_token: str) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-of-some-length"},
        {"Authorization": with_token},
    ):
        for environ in ({}, ELSEWHERE):  # loopback too: the token is then required of everyone
            refused = http.get("/metrics", headers=headers, environ_base=environ)
            assert refused.status_code == 401
            assert refused.get_json() == {
                "error": "invalid_token",
                "error_description": "A valid metrics bearer token is required.",
            }
            assert refused.headers["WWW-Authenticate"].startswith("Bearer ")
            assert with_token not in refused.get_data(as_text=True)
    exposition = scrape(http, headers={"Authorization": f"Bearer {with_token}"}, environ_base=ELSEWHERE)
    assert "senim_http_requests_total" in exposition and with_token not in exposition


def test_the_token_setting_is_long_enough_and_never_shown() -> None:
    settings = Settings.from_env({"SENIM_METRICS_TOKEN": TOKEN})
    assert settings.metrics_token == TOKEN and TOKEN not in repr(settings)
    assert Settings.from_env({}).metrics_token is None
    with pytest.raises(SettingsError, match="SENIM_METRICS_TOKEN"):
        Settings.from_env({"SENIM_METRICS_TOKEN": "short"})


# -- the dashboard and the names it uses ---------------------------------------------------------
def _expressions(panels: list[dict]) -> list[str]:
    found = []
    for panel in panels:
        found += [target["expr"] for target in panel.get("targets", []) if target.get("expr")]
        found += _expressions(panel.get("panels", []))
    return found


def test_every_metric_the_dashboard_queries_is_one_the_app_exposes() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 39
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    expressions = _expressions(dashboard["panels"])
    used = {name for expr in expressions for name in re.findall(r"\bsenim_[a-z0-9_]+", expr)}
    assert used and used <= metrics.exposed_names(), used - metrics.exposed_names()
    families = {
        "senim_http_requests_total",
        "senim_http_request_duration_seconds_bucket",
        "senim_proxy_calls_total",
        "senim_consents",
        "senim_biometric_checks_total",
        "senim_otp_verifications_total",
        "senim_sms_outbox_messages",
        "senim_sandbox_checks_total",
    }
    assert families <= used


def test_the_names_listed_as_exposed_are_the_ones_a_scrape_shows(app: Flask, http) -> None:
    metrics.record_request("/healthz", "GET", 200, 0.001)
    metrics.record_proxied_call(None, 401, "refused:access_token_invalid", 0.001)
    metrics.record_biometric_check(True)
    metrics.record_otp_verification(True)
    metrics.record_sandbox_check("an-api", "manual", True)
    shown = {s.name for f in text_string_to_metric_families(scrape(http)) for s in f.samples}
    assert metrics.exposed_names() <= shown, metrics.exposed_names() - shown


# -- the demo stack's directory ------------------------------------------------------------------
def test_the_demo_stack_empties_its_metrics_directory_before_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(metrics.MULTIPROC_ENV, raising=False)
    settings = Settings.from_env({"SENIM_DATA_DIR": str(tmp_path)})
    stale = tmp_path / "metrics" / "counter_4242.db"
    stale.parent.mkdir()
    stale.write_bytes(b"from an earlier run")
    assert metrics_dir(settings) == (tmp_path / "metrics").resolve()
    assert not stale.exists() and stale.parent.is_dir()


# -- gunicorn's workers, summed ------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - our loopback server
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _wait_until_answering(process: subprocess.Popen, url: str, log: Path) -> None:
    """Poll until ``url`` answers, the process ends or the deadline passes (no sleeping:
    each round waits on the process itself)."""
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        try:
            if _get(url)[0] == 200:
                return
        except OSError:
            pass
        try:
            process.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"senim run stopped (exit status {process.returncode}):\n{log.read_text()}")
    pytest.fail(f"senim run is not answering at {url}:\n{log.read_text()}")


def test_under_gunicorn_a_scrape_sums_every_worker(tmp_path: Path) -> None:
    port = _free_port()
    shared = tmp_path / "prometheus"
    env = {
        **os.environ,
        "SENIM_DATA_DIR": str(tmp_path / "instance"),
        "SENIM_BIND": f"127.0.0.1:{port}",
        "SENIM_ENV": "test",
        "SENIM_NOTIFY_INTERVAL": "0",
        metrics.MULTIPROC_ENV: str(shared),
    }
    env.pop("SENIM_DATABASE_URL", None)
    env.pop("SENIM_METRICS_TOKEN", None)
    migrated = CliRunner().invoke(
        main, ["db", "upgrade"], env={k: env[k] for k in ("SENIM_DATA_DIR", "SENIM_BIND")}
    )
    assert migrated.exit_code == 0, migrated.output
    log = tmp_path / "senim.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "senim", "run", "--workers", "2"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_answering(process, f"{base}/healthz", log)
        # A request whose head is not finished keeps the worker that accepted it waiting:
        # the next ones are answered by the other worker, so both count something.
        held = socket.create_connection(("127.0.0.1", port), timeout=30)
        held.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        requests_made = 30
        for _ in range(requests_made):
            assert _get(f"{base}/healthz")[0] == 200
        held.sendall(b"Connection: close\r\n\r\n")
        with held:
            assert held.makefile("rb").readline().startswith(b"HTTP/1.1 200")
        assert len(list(shared.glob("counter_*.db"))) == 2  # one file per worker that counted
        for _ in range(2):  # whichever worker answers the scrape, it shows the sum
            status, exposition = _get(f"{base}/metrics")
            assert status == 200, exposition
            counted = value(exposition, "senim_http_requests_total", route="/healthz", status_class="2xx")
            assert counted >= requests_made + 2  # the readiness poll's and the held request's too
            assert value(exposition, "senim_metrics_database_up") == 1
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
