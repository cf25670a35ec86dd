"""Sandbox benchmark: how long one conformance run takes, and how many APIs one worker keeps checked.

    .venv/bin/python bench/sandbox.py [--runs 30] [--apis 20]

Starts, on 127.0.0.1 with a fresh data directory: Senim's application in this
process (its registry and conformance suite, as ``senim worker`` runs them;
its ``/jwks`` served on a port so the bank can trust the platform's keys) and
one reference bank as a process of its own (``python -m reference_bank``,
gunicorn). Then:

1. **One run**: the API is submitted (the whole suite: 14 checks, 20-odd
   calls, each answer validated against the standard), then re-checked
   ``--runs`` times: p50/p95 of the run's wall time.
2. **A worker round**: ``--apis`` APIs of that sandbox are due at once; one
   round of ``run_due_checks`` (claim, run, record, status) checks them
   all: checks per second of one worker process, and how many APIs it keeps
   at the pilot's 1,920 checks a day each (one every 45 s).

Figures are printed; nothing is asserted (speed is measured here, never in tests).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project's packages, not bench/'s modules

PILOT_CHECKS_PER_DAY = 1920


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    waiting = threading.Event()
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own loopback server
                return
        except OSError:
            waiting.wait(0.2)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


def _percentile(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(percent / 100 * len(ordered) + 0.5) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--apis", type=int, default=20)
    args = parser.parse_args()

    import logging

    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from registry.models import PUBLISHED
    from registry.participants import API_PROVIDER, add_participant
    from registry.publication import recheck_api, submit_api
    from registry.worker import run_due_checks
    from senim.app import create_app
    from senim.database import db
    from senim.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="senim-bench-sandbox-"))
    port, bank_port = _free_port(), _free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {"SENIM_DATA_DIR": str(work), "SENIM_ISSUER": issuer, "SENIM_LOG_LEVEL": "WARNING"}
    app = create_app(Settings.from_env(env))
    with app.app_context():
        upgrade()
    for noisy in ("alembic", "werkzeug", "senim.audit"):  # after upgrade(): it reads alembic.ini's logging
        logging.getLogger(noisy).setLevel(logging.WARNING)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    with app.app_context():
        bank = add_participant(name="Bench Bank", bin="990140000017", roles=[API_PROVIDER])
        bank_id = bank.id
    bank_url = f"http://127.0.0.1:{bank_port}"
    bank_process = subprocess.Popen(
        [
            *(sys.executable, "-m", "reference_bank", "--bank-id", bank_id, "--name", "Bench Bank"),
            *("--bank-code", "101", "--port", str(bank_port), "--platform", issuer),
        ],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(f"{bank_url}/")
        with app.app_context():
            submitted = submit_api(
                provider_id=bank_id, base_url=bank_url, sandbox_url=bank_url, description="Bench"
            )
            if submitted.api.status != PUBLISHED:
                print("the reference bank failed the suite:", submitted.report.failed_checks)
                return 1
            walls, suite = [], []
            for _ in range(args.runs):
                started = time.perf_counter()
                outcome = recheck_api(submitted.api.id)
                walls.append((time.perf_counter() - started) * 1000)
                suite.append(outcome.run.duration_ms)
                if not outcome.report.passed:
                    print("a re-check failed:", outcome.report.failed_checks)
                    return 1
            checks = len(outcome.report.results)
            print(
                f"one conformance run ({checks} checks), {args.runs} runs against a reference bank process:"
            )
            print(
                f"  wall time p50 {statistics.median(walls):.0f} ms, p95 {_percentile(walls, 95):.0f} ms"
                f" (the suite's own timing p50 {statistics.median(suite):.0f} ms)"
            )

            ids = []
            for _ in range(args.apis):
                outcome = submit_api(
                    provider_id=bank_id, base_url=bank_url, sandbox_url=bank_url, description="Bench"
                )
                ids.append(outcome.api.id)
            from registry.models import PublishedApi

            db.session.execute(
                db.update(PublishedApi).where(PublishedApi.id.in_(ids)).values(next_check_due_at=0)
            )
            db.session.commit()
            started = time.perf_counter()
            done = run_due_checks("bench-worker")
            seconds = time.perf_counter() - started
        per_second = len(done) / seconds
        print(
            f"one worker round: {len(done)} due APIs checked in {seconds:.1f} s = {per_second:.2f} checks/s"
        )
        print(
            f"  one worker process keeps {per_second * 86400 / PILOT_CHECKS_PER_DAY:.0f} APIs at the pilot's"
            f" {PILOT_CHECKS_PER_DAY} checks a day each (SENIM_API_CHECK_INTERVAL=45)"
        )
        return 0
    finally:
        bank_process.terminate()
        bank_process.wait(10)
        server.shutdown()


if __name__ == "__main__":
    raise SystemExit(main())
