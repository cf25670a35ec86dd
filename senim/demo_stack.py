"""The whole demo in one terminal (`make run`): Senim, a reference bank for each
demo bank, and Qarjy, the demo API user's app, each its own process.

What runs comes from the platform's own records, so the stack is what the
registry says: a reference bank is started for each active demo bank whose
published API lives at a local address (its port is the one in that address),
and the demo app is told those banks' participant ids. Each process's output
is shown with its name in front; Ctrl-C (or SIGTERM) stops them all, and if
one of them stops on its own, the others are stopped too and the command fails.

The processes share one metrics directory (``PROMETHEUS_MULTIPROC_DIR``, by
default ``SENIM_DATA_DIR/metrics``), emptied before they start, so that
``/metrics`` sums Senim's gunicorn workers and the worker (docs/monitoring.md).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from idp.staff_login import staff_origin
from registry.apis import published_api
from registry.models import Participant
from senim.database import db
from senim.demo import DEMO_PEOPLE, DEMO_STAFF, demo_bank_ids
from senim.metrics import MULTIPROC_ENV, prepare_multiprocess_dir
from senim.settings import Settings

#: The 3-digit bank code inside each demo bank's IBANs, in the order of DEMO_BANKS.
DEMO_BANK_CODES = ("101", "102", "103")
#: A process that is not answering after this long is taken as failed to start.
START_TIMEOUT = 90.0
#: How long a process gets to stop after SIGTERM before it is killed.
STOP_TIMEOUT = 10.0
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class StackFailed(RuntimeError):
    """A process of the demo stack did not start, or stopped on its own."""


@dataclass(frozen=True)
class DemoProcess:
    """One process of the stack: what to run, where it answers once it is up."""

    name: str
    role: str
    argv: tuple[str, ...]
    url: str
    #: where it answers once started; None for a process without HTTP (the worker)
    ready_url: str | None


def demo_processes(settings: Settings, *, app_port: int) -> list[DemoProcess]:
    """Senim, the demo banks' reference banks and the demo app (needs an app context)."""
    processes = [
        DemoProcess(
            name="senim",
            role="Senim, the platform",
            argv=(sys.executable, "-m", "senim", "run"),
            url=settings.issuer,
            ready_url=f"{_local_address(settings.bind)}/healthz",
        )
    ]
    offered = []
    for index, bank_id in enumerate(demo_bank_ids()):
        bank = db.session.get(Participant, bank_id)
        api = published_api(bank_id)
        if api is None:
            continue
        address = urlsplit(api.base_url)
        if address.hostname not in _LOCAL_HOSTS or address.port is None:
            continue  # served elsewhere: not ours to start
        offered.append(f"{bank.id}={bank.name}")
        processes.append(
            DemoProcess(
                name=bank.name.split()[0].lower(),
                role=f"{bank.name} (reference bank)",
                argv=_module_argv(
                    "reference_bank",
                    bank_id=bank.id,
                    name=bank.name,
                    bank_code=DEMO_BANK_CODES[index % len(DEMO_BANK_CODES)],
                    host=address.hostname,
                    port=address.port,
                    seed=index + 1,
                    platform=settings.issuer,
                ),
                url=api.base_url.rstrip("/"),
                ready_url=f"{api.base_url.rstrip('/')}/",
            )
        )
    processes.append(
        DemoProcess(
            name="worker",
            role="the sandbox's re-checks, appeals' deadlines, closing last month (senim worker)",
            argv=(sys.executable, "-m", "senim", "worker"),
            url="",
            ready_url=None,
        )
    )
    app_url = f"http://127.0.0.1:{app_port}"
    processes.append(
        DemoProcess(
            name="qarjy",
            role="Qarjy, the demo API user's app",
            argv=_module_argv(
                "demo_app",
                platform=settings.issuer,
                port=app_port,
                data_dir=settings.data_dir,
                banks=",".join(offered),
            ),
            url=app_url,
            ready_url=f"{app_url}/",
        )
    )
    return processes


def _local_address(bind: str) -> str:
    """Where this machine reaches a server bound to ``bind`` (host:port; any address means loopback)."""
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - reading a bind address, not binding
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _module_argv(module: str, **options: object) -> tuple[str, ...]:
    """``python -m module --an-option value …`` with this interpreter."""
    argv = [sys.executable, "-m", module]
    for name, value in options.items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    return tuple(argv)


class DemoStack:
    """Starts the processes in order (each answering before the next starts) and stops them together."""

    def __init__(
        self,
        processes: Sequence[DemoProcess],
        echo: Callable[[str], None],
        env: dict[str, str] | None = None,
    ) -> None:
        self.processes = list(processes)
        self._echo = echo
        #: set for every process on top of this command's environment
        self._env = dict(env or {})
        self._running: list[tuple[DemoProcess, subprocess.Popen[str]]] = []
        self._pumps: list[threading.Thread] = []
        self.stopping = threading.Event()

    def start(self) -> None:
        try:
            for process in self.processes:
                child = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
                    process.argv,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    text=True,
                    bufsize=1,
                    # Ctrl-C reaches only this command, which stops the children in order.
                    start_new_session=True,
                    env={**os.environ, **self._env, "PYTHONUNBUFFERED": "1"},
                )
                self._running.append((process, child))
                pump = threading.Thread(
                    target=self._show_output, args=(process.name, child.stdout), daemon=True
                )
                pump.start()
                self._pumps.append(pump)
                self._wait_until_ready(process, child)
        except BaseException:
            self.stop()
            raise

    def wait(self) -> None:
        """Block until asked to stop (``stopping`` set) or until a process stops on its own."""
        while not self.stopping.wait(0.5):
            for process, child in self._running:
                if child.poll() is not None:
                    raise StackFailed(f"{process.role} stopped (exit status {child.returncode})")

    def stop(self) -> None:
        """SIGTERM to each process, the last started first; SIGKILL to one that does not stop."""
        for _process, child in reversed(self._running):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for _process, child in reversed(self._running):
            try:
                child.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for pump in self._pumps:
            pump.join(STOP_TIMEOUT)

    def _wait_until_ready(self, process: DemoProcess, child: subprocess.Popen[str]) -> None:
        ticks = int(START_TIMEOUT / 0.2)
        for _ in range(ticks):
            if child.poll() is not None:
                raise StackFailed(f"{process.role} did not start (exit status {child.returncode})")
            if process.ready_url is None or _answers(process.ready_url):
                return
            if self.stopping.wait(0.2):
                raise KeyboardInterrupt
        raise StackFailed(
            f"{process.role} is not answering at {process.ready_url} after {START_TIMEOUT:.0f} s"
        )

    def _show_output(self, name: str, stream: IO[str] | None) -> None:
        if stream is None:
            return
        for line in stream:
            self._echo(f"[{name}] {line.rstrip()}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - http(s) URLs we built
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def summary(processes: Sequence[DemoProcess], settings: Settings) -> list[str]:
    """What a newcomer reads once everything answers: where to go, and who to be."""
    width = max(len(process.role) for process in processes if process.url)
    lines = ["", "Senim is running with its demo:"]
    lines += [f"  {process.role:<{width}}  {process.url}" for process in processes if process.url]
    app = processes[-1]
    lines += [
        "",
        f'Open {app.url} and press "Connect my accounts".',
        "Sign in there as a demo customer:",
    ]
    lines += [f"  IIN {iin}  {name}" for iin, name, _phone, _photo in DEMO_PEOPLE]
    if settings.environment == "development":
        lines.append(f"The SMS codes arrive at {settings.issuer}/dev/sms")
    lines += [
        f"The customer's consents: {settings.issuer}/cabinet",
        f"Participant cabinet and operator console: {staff_origin(settings.issuer)}/registry",
        "  sign in with a code: " + ", ".join(email for email, *_rest in DEMO_STAFF),
        "  the code: `.venv/bin/senim demo staff-code EMAIL` (then add a passkey under Security)",
        "No camera? `senim demo face-video --help` makes a clip for the face page.",
        "Ctrl-C stops everything.",
        "",
    ]
    return lines


def metrics_dir(settings: Settings) -> Path:
    """The stack's metrics directory, emptied of an earlier run's files (made if missing)."""
    path = Path(os.environ.get(MULTIPROC_ENV) or settings.data_dir / "metrics").resolve()
    prepare_multiprocess_dir(path)
    return path


def run_demo_stack(processes: Sequence[DemoProcess], settings: Settings, echo: Callable[[str], None]) -> None:
    """Start the stack, print the summary, run until Ctrl-C/SIGTERM; StackFailed if a process fails."""
    stack = DemoStack(processes, echo, env={MULTIPROC_ENV: str(metrics_dir(settings))})

    def _stop(_signum: int, _frame: object) -> None:
        stack.stopping.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            stack.start()
        except KeyboardInterrupt:
            return
        for line in summary(processes, settings):
            echo(line)
        try:
            stack.wait()
        finally:
            echo("stopping the demo …")
            stack.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
