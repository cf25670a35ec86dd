"""`senim demo up` (what `make run` ends with): Senim, the demo banks' reference
banks and Qarjy as separate processes, started together and stopped together.

The demo is run for real on free ports: the platform's from SENIM_BIND, the
banks' from their published APIs (moved off 8101–8103 here), Qarjy's from
--app-port.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from idp.signing import sign
from registry.apis import list_apis, published_api
from resource_proxy.standard import ASSERTION_TYP
from senim.app import create_app
from senim.cli import main
from senim.database import db
from senim.demo import DEMO_BANKS, DEMO_PEOPLE, demo_bank_ids
from senim.settings import Settings

#: Starting five processes (two of them load the face models) on a busy 2-core machine.
START_DEADLINE = 180
STOP_DEADLINE = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Demo:
    env: dict[str, str]
    platform_port: int
    bank_ports: list[int]
    app_port: int

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.platform_port}"

    def ports(self) -> list[int]:
        return [self.platform_port, *self.bank_ports, self.app_port]

    def settings(self) -> Settings:
        return Settings.from_env(self.env)


@pytest.fixture
def demo(tmp_path: Path) -> Demo:
    """A seeded demo whose banks' APIs sit on free ports."""
    platform_port = _free_port()
    env = {
        "SENIM_DATA_DIR": str(tmp_path / "instance"),
        "SENIM_BIND": f"127.0.0.1:{platform_port}",
        "SENIM_WORKERS": "1",
    }
    runner = CliRunner()
    for command in (["db", "upgrade"], ["demo", "seed"]):
        done = runner.invoke(main, command, env=env)
        assert done.exit_code == 0, done.output
    bank_ports = []
    app = create_app(Settings.from_env(env))
    with app.app_context():
        for bank_id in demo_bank_ids():  # in the order of DEMO_BANKS
            bank_ports.append(_free_port())
            api = published_api(bank_id)
            api.base_url = api.sandbox_url = f"http://127.0.0.1:{bank_ports[-1]}"
        db.session.commit()
    assert len(bank_ports) == len(DEMO_BANKS)
    return Demo(env=env, platform_port=platform_port, bank_ports=bank_ports, app_port=_free_port())


class Running:
    """``senim demo up`` as a child process, its output read line by line."""

    def __init__(self, demo: Demo) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "senim", "demo", "up", "--app-port", str(demo.app_port)],
            env={**os.environ, **demo.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def read_until(self, wanted: str) -> bool:
        """Read output until a line containing ``wanted`` (True) or the end of output (False)."""
        deadline = time.monotonic() + START_DEADLINE
        while True:
            line = self._queue.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                return False
            self.lines.append(line)
            if wanted in line:
                return True

    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(STOP_DEADLINE)
        finally:
            if self.process.poll() is None:
                self.process.kill()


@pytest.fixture
def running(demo: Demo) -> Iterator[Running]:
    started = Running(demo)
    yield started
    started.stop()


def test_demo_up_runs_platform_banks_and_app_until_ctrl_c(demo: Demo, running: Running) -> None:
    assert running.read_until("Ctrl-C stops everything"), running.output()

    output = running.output()
    assert f"Open http://127.0.0.1:{demo.app_port}" in output
    for name, _bin in DEMO_BANKS:
        assert f"{name} (reference bank)" in output
    for iin, _name, _phone, _photo in DEMO_PEOPLE:
        assert f"IIN {iin}" in output

    # The platform answers, and its resource proxy refuses a call without a token in the standard shape.
    assert requests.get(f"{demo.issuer}/healthz", timeout=10).status_code == 200
    refused = requests.get(f"{demo.issuer}/open-banking/v1/accounts", timeout=10)
    assert refused.status_code == 401
    assert refused.json()["Code"].startswith("401")

    # Each bank is the demo bank it stands for, and trusts the running platform's keys:
    # an assertion signed with them gets the demo customer's KZT accounts.
    settings = demo.settings()
    with create_app(settings).app_context():
        apis = {api.provider_id: api.base_url for api in list_apis()}
        for provider_id, base_url in apis.items():
            about = requests.get(f"{base_url}/", timeout=10).json()
            assert about["BankId"] == provider_id
            now, interaction_id = int(time.time()), str(uuid.uuid4())
            assertion = sign(
                {
                    "iss": settings.issuer,
                    "aud": provider_id,
                    "iat": now,
                    "exp": now + 60,
                    "jti": uuid.uuid4().hex,
                    "sub": DEMO_PEOPLE[0][0],
                    "consent_id": "stack-test",
                    "permissions": ["ReadAccountsBasic"],
                    "api_user": "stack-test",
                    "client_id": "senim-demo-app",
                    "interaction_id": interaction_id,
                },
                ASSERTION_TYP,
            )
            accounts = requests.get(
                f"{base_url}/accounts",
                headers={"Authorization": f"Bearer {assertion}", "x-fapi-interaction-id": interaction_id},
                timeout=10,
            )
            assert accounts.status_code == 200, accounts.text
            assert accounts.json()["Data"]["Account"], "the demo customer has accounts at every demo bank"

    # Qarjy offers the three demo banks.
    page = requests.get(f"http://127.0.0.1:{demo.app_port}/", timeout=10)
    assert page.status_code == 200
    for name, _bin in DEMO_BANKS:
        assert name in page.text

    # The worker checks every demo API against its reference bank (its first round is due at once).
    assert running.read_until("[worker] checking published APIs every"), running.output()
    assert _every_api_checked(settings), "the worker checked the demo APIs and they passed"

    assert running.stop() == 0
    assert [port for port in demo.ports() if _listening(port)] == []


def _every_api_checked(settings) -> bool:
    """Poll (up to START_DEADLINE) until every demo API has passed a check by the worker."""
    waiting = threading.Event()
    deadline = time.monotonic() + START_DEADLINE
    app = create_app(settings)
    while time.monotonic() < deadline:
        with app.app_context():
            if all(api.last_check_passed for api in list_apis()):
                return True
        waiting.wait(0.5)
    return False


def test_demo_up_stops_everything_when_a_bank_cannot_start(demo: Demo) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", demo.bank_ports[1]))
        running = Running(demo)
        try:
            assert not running.read_until("Ctrl-C stops everything")
            assert running.process.wait(STOP_DEADLINE) != 0
        finally:
            running.stop()

    assert f"{DEMO_BANKS[1][0]} (reference bank) did not start" in running.output()
    free = [port for port in demo.ports() if port != demo.bank_ports[1]]
    assert [port for port in free if _listening(port)] == []
