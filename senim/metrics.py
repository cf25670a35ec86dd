"""Prometheus metrics of the platform, exposed at ``/metrics`` (docs/monitoring.md).

Two kinds:

- counters and histograms of what happens, incremented where it happens by
  the small ``record_*`` calls below (HTTP requests per route, proxied calls
  per bank, biometric checks, OTP verifications, sandbox conformance checks);
- gauges of what is stored, read from the database once per scrape by
  ``DatabaseCollector`` (consents per status, the SMS outbox, undelivered
  consent events, published APIs per status), never kept per process.

Under gunicorn each worker is its own process: with ``PROMETHEUS_MULTIPROC_DIR``
set (before this module is imported) prometheus_client keeps every process's
values in files of that directory and a scrape sums them; gunicorn's
``child_exit`` hook calls ``mark_process_dead``. Without it (tests,
``flask run``) the process's own registry is exposed.

Labels are bounded by construction: route templates (never paths, which carry
account ids), participant and API ids, status classes and reason codes of a
fixed vocabulary. No token, code, account id, customer id, phone or face data
is ever a label value.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from flask import Flask, Response, current_app, g, jsonify, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from senim import clock
from senim.database import db

#: prometheus_client's switch to multiprocess mode (read when it is imported).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_PATH = "/metrics"
#: methods kept as they are; anything else a client invents is counted as "other"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: a route that matched no rule (404, 405): one label value, whatever the path
UNMATCHED_ROUTE = "unmatched"
#: an outcome of the proxy is ``routed``, ``refused:<reason>`` or ``bank_refused:<status>``
_OUTCOME = re.compile(r"[a-z_]{1,40}(:[a-z0-9_]{1,40})?")
#: biometric reason codes (biometrics.face_check, biometrics.liveness.verify) by category
BIOMETRIC_REASON_CATEGORIES = {
    "challenge_expired": "expired",
    "unreadable_capture": "capture",
    "too_few_frames": "capture",
    "frames_identical": "capture",
    "no_face": "capture",
    "several_faces": "capture",
    "face_too_small": "capture",
    "too_blurry": "capture",
    "replayed_frames": "replay",
    "pose_not_followed": "liveness",
    "poses_out_of_order": "liveness",
    "different_people": "liveness",
    "flat_surface": "liveness",
    "liveness_not_shown": "liveness",
    "face_does_not_match": "match",
}
_REASON_CODE = re.compile(r"[a-z_]{1,40}")

# Latency buckets from 5 ms (a token) to 10 s (a bank near the proxy's timeout).
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "senim_http_requests",
    "HTTP requests answered, per route template, method and status class.",
    ["route", "method", "status_class"],
)
HTTP_REQUEST_DURATION = Histogram(
    "senim_http_request_duration_seconds",
    "Time to answer an HTTP request, per route template and method.",
    ["route", "method"],
    buckets=_SECONDS,
)
PROXY_CALLS = Counter(
    "senim_proxy_calls",
    "Calls answered by the resource proxy, per bank (provider participant id), HTTP status and outcome.",
    ["provider_id", "status", "outcome"],
)
PROXY_CALL_DURATION = Histogram(
    "senim_proxy_call_duration_seconds",
    "Time the resource proxy took to answer a call (the bank's time included), per bank.",
    ["provider_id"],
    buckets=_SECONDS,
)
BIOMETRIC_CHECKS = Counter(
    "senim_biometric_checks",
    "Face checks decided (liveness and match), passed or failed, per reason category.",
    ["result", "reason"],
)
OTP_VERIFICATIONS = Counter(
    "senim_otp_verifications",
    "SMS one-time code verifications, passed or failed, per refusal reason.",
    ["result", "reason"],
)
SANDBOX_CHECKS = Counter(
    "senim_sandbox_checks",
    "Conformance suite runs against published APIs' sandboxes, per API id, trigger and result.",
    ["api_id", "trigger", "result"],
)

#: every name the app exposes (the dashboard's test checks its queries against these)
COUNTER_NAMES = (
    "senim_http_requests_total",
    "senim_proxy_calls_total",
    "senim_biometric_checks_total",
    "senim_otp_verifications_total",
    "senim_sandbox_checks_total",
)
HISTOGRAM_NAMES = ("senim_http_request_duration_seconds", "senim_proxy_call_duration_seconds")
DATABASE_GAUGE_NAMES = (
    "senim_consents",
    "senim_sms_outbox_messages",
    "senim_sms_outbox_oldest_message_age_seconds",
    "senim_consent_events_undelivered",
    "senim_consent_events_oldest_undelivered_age_seconds",
    "senim_published_apis",
    "senim_metrics_database_up",
)


def exposed_names() -> frozenset[str]:
    """Every series name a scrape can show (histograms with their _bucket, _sum, _count)."""
    names = set(COUNTER_NAMES) | set(DATABASE_GAUGE_NAMES)
    for name in HISTOGRAM_NAMES:
        names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return frozenset(names)


# -- recording, called from the code paths -----------------------------------------------------
def status_class(status: int) -> str:
    """``2xx``, ``4xx``, …: one label value per class."""
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


def record_request(route: str, method: str, status: int, seconds: float | None) -> None:
    """One HTTP request answered (``route`` is the URL rule's template, never the path)."""
    method = method if method in _METHODS else "other"
    HTTP_REQUESTS.labels(route, method, status_class(status)).inc()
    if seconds is not None:
        HTTP_REQUEST_DURATION.labels(route, method).observe(seconds)


def record_proxied_call(provider_id: str | None, status: int, outcome: str, seconds: float) -> None:
    """One call answered by the resource proxy. ``provider_id`` is set only once the proxy
    found that participant in the register, so its values are the register's banks."""
    bank = provider_id or "none"
    PROXY_CALLS.labels(bank, str(status), outcome if _OUTCOME.fullmatch(outcome) else "other").inc()
    PROXY_CALL_DURATION.labels(bank).observe(max(0.0, seconds))


def record_biometric_check(passed: bool, reasons: Sequence[str] = ()) -> None:
    """One face check decided; a failure counts once, under its first reason's category."""
    if passed:
        BIOMETRIC_CHECKS.labels("passed", "none").inc()
        return
    first = reasons[0] if reasons else ""
    BIOMETRIC_CHECKS.labels("failed", BIOMETRIC_REASON_CATEGORIES.get(first, "other")).inc()


def record_otp_verification(passed: bool, reason: str | None = None) -> None:
    """One one-time code verification; ``reason`` is the refusal's stable code (``otp_wrong``, …)."""
    if passed:
        OTP_VERIFICATIONS.labels("passed", "none").inc()
        return
    OTP_VERIFICATIONS.labels("failed", reason if reason and _REASON_CODE.fullmatch(reason) else "other").inc()


def record_sandbox_check(api_id: str, trigger: str, passed: bool) -> None:
    """One run of the conformance suite against an API's sandbox."""
    trigger = trigger if _REASON_CODE.fullmatch(trigger) else "other"
    SANDBOX_CHECKS.labels(api_id, trigger, "passed" if passed else "failed").inc()


# -- gauges read from the database at scrape time ----------------------------------------------
class DatabaseCollector:
    """What is stored, counted once per scrape (so never summed over workers).

    Runs in the scrape's application context; a database that does not answer
    gives ``senim_metrics_database_up 0`` and no other gauge, not a failed scrape.
    """

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "senim_metrics_database_up", "1 when the database answered the scrape's queries, else 0."
        )
        try:
            gauges = list(self._gauges(clock.now_int()))
        except SQLAlchemyError:
            db.session.rollback()
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from gauges

    def _gauges(self, now: int) -> Iterator[Metric]:
        # imported here: the domain packages use this module, not the other way round
        from idp.consents.models import STATUSES, Consent, SecurityEvent
        from idp.sms import OutboxMessage
        from registry.models import API_STATUSES, PublishedApi

        consents = GaugeMetricFamily("senim_consents", "Consents per status, as recorded.", labels=["status"])
        for status, count in _counts_by(Consent.status, STATUSES):
            consents.add_metric([status], count)
        yield consents

        held, oldest = db.session.execute(select(func.count(), func.min(OutboxMessage.created_at))).one()
        yield _gauge(
            "senim_sms_outbox_messages",
            "SMS held in the development outbox (SENIM_SMS_BACKEND=outbox): stored, never sent.",
            held,
        )
        yield _gauge(
            "senim_sms_outbox_oldest_message_age_seconds",
            "Age of the oldest SMS in the outbox; 0 when it is empty.",
            max(0, now - oldest) if oldest is not None else 0,
        )

        waiting, oldest_event = db.session.execute(
            select(func.count(), func.min(SecurityEvent.occurred_at)).where(
                SecurityEvent.delivered_at.is_(None)
            )
        ).one()
        yield _gauge(
            "senim_consent_events_undelivered",
            "Consent events (RFC 8417 SETs) in the outbox not yet accepted by their API user.",
            waiting,
        )
        yield _gauge(
            "senim_consent_events_oldest_undelivered_age_seconds",
            "Age of the oldest undelivered consent event; 0 when none waits.",
            max(0, now - oldest_event) if oldest_event is not None else 0,
        )

        apis = GaugeMetricFamily("senim_published_apis", "Banks' APIs per status.", labels=["status"])
        for status, count in _counts_by(PublishedApi.status, API_STATUSES):
            apis.add_metric([status], count)
        yield apis


def _counts_by(column: object, known: Iterable[str]) -> list[tuple[str, int]]:
    """Rows per value of ``column``; every known value shown, 0 when absent."""
    counts = {value: 0 for value in known}
    for value, count in db.session.execute(select(column, func.count()).group_by(column)):
        counts[value] = count
    return sorted(counts.items())


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class _ThisProcess:
    """The process's own registry, for a scrape outside multiprocess mode."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def multiprocess_dir() -> str | None:
    """The directory shared by the processes, when multiprocess mode is on."""
    return os.environ.get(MULTIPROC_ENV) or None


def exposition(accept: str | None = None) -> tuple[bytes, str]:
    """The scrape and its content type: Prometheus text format, or OpenMetrics when the
    scraper's ``Accept`` asks for it (needs an application context)."""
    registry = CollectorRegistry(auto_describe=False)
    path = multiprocess_dir()
    if path:
        MultiProcessCollector(registry, path=path)
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseCollector())
    encode, content_type = choose_encoder(accept or "")
    return encode(registry), content_type


# -- process management -----------------------------------------------------------------------
#: The files prometheus_client's multiprocess mode writes: ``counter_1234.db``, ``gauge_livesum_1234.db``…
_PROMETHEUS_FILE = re.compile(
    r"(counter|histogram|summary|gauge_(all|liveall|livesum|max|min|sum|mostrecent|livemostrecent))_[0-9]+\.db"
)


def prepare_multiprocess_dir(path: Path) -> None:
    """Create the shared directory, or empty it of an earlier run's files; call it
    before starting the processes that share it (the demo stack does)."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        if _PROMETHEUS_FILE.fullmatch(stale.name):  # never another file (a SQLite database, say)
            stale.unlink(missing_ok=True)


def worker_exited(_server: object, worker: object) -> None:
    """gunicorn's ``child_exit`` hook: a dead worker's live gauges stop counting."""
    if multiprocess_dir():
        mark_process_dead(worker.pid)


# -- the endpoint and the request hooks ---------------------------------------------------------
def init_metrics(app: Flask) -> None:
    """Count every request (per route template) and serve ``/metrics``."""
    # right after _fresh_request_globals, before any hook that may answer early
    app.before_request_funcs.setdefault(None, []).insert(1, _start_timer)
    app.after_request(_count_request)
    app.add_url_rule(METRICS_PATH, "metrics", metrics_endpoint, methods=["GET"])


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _count_request(response: Response) -> Response:
    started = g.get("metrics_started")
    rule = request.url_rule
    record_request(
        rule.rule if rule is not None else UNMATCHED_ROUTE,
        request.method,
        response.status_code,
        time.perf_counter() - started if started is not None else None,
    )
    return response


class ScrapeRefused(Exception):
    """A scrape without the right credentials; answered in the platform's error shape."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def check_scrape_allowed(token: str | None, production: bool = False) -> None:
    """With ``SENIM_METRICS_TOKEN`` set: ``Authorization: Bearer <it>`` (RFC 6750 §2.1),
    compared in constant time. Without it: loopback clients only, and not through a
    reverse proxy (a request carrying forwarding headers is someone else's) — and never in
    production, where a TLS terminator on the same host would make every client look local."""
    if token:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), token.encode()):
            raise ScrapeRefused(401, "invalid_token", "A valid metrics bearer token is required.")
        return
    if production:
        raise ScrapeRefused(
            403, "access_denied", "In production metrics are served only with SENIM_METRICS_TOKEN set."
        )
    if not _from_loopback():
        raise ScrapeRefused(
            403, "access_denied", "Metrics are served to loopback clients only unless a token is configured."
        )


def _from_loopback() -> bool:
    if any(name in request.headers for name in ("Forwarded", "X-Forwarded-For", "X-Real-Ip")):
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def metrics_endpoint() -> Response:
    """GET /metrics: the Prometheus text format, for an allowed scraper."""
    try:
        settings = current_app.extensions["senim.settings"]
        check_scrape_allowed(settings.metrics_token, production=settings.environment == "production")
    except ScrapeRefused as refusal:
        response = jsonify({"error": refusal.error, "error_description": refusal.description})
        response.status_code = refusal.status
        if refusal.status == 401:
            # RFC 6750 §3: the challenge names the scheme
            response.headers["WWW-Authenticate"] = 'Bearer realm="senim-metrics", error="invalid_token"'
        response.headers["Cache-Control"] = "no-store"
        return response
    body, content_type = exposition(request.headers.get("Accept"))
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
