"""Resource proxy benchmark: routed calls per second, the latency the proxy adds,
and a replay of the pilot's whole volume.

    .venv/bin/python bench/proxy.py [--duration 10] [--connections 32] [--workers 3] [--threads 1]
                                    [--replay-calls 322952] [--skip-replay] [--database-url URL]

Starts, on 127.0.0.1 with a fresh data directory: Senim (``senim run``,
gunicorn) and five reference banks (``python -m reference_bank``, gunicorn,
one worker × 8 threads each), all knowing the same 128 customers. The
registry holds the five banks, one API user with one client, each bank's API
published and the client subscribed. 497 consents (permissions
ReadAccountsDetail, ReadBalances, ReadTransactionsDetail; one to five banks
each) of the 128 customers go through the whole flow: ``POST /consents``,
PAR naming the consent, ``/authorize``, the customer's login and approval
(through Senim's service layer, as its pages call it), code exchange with
DPoP and ``private_key_jwt``. Then ``GET /accounts`` at each consent's banks
through the proxy finds the accounts to read.

Every routed call passes all of the proxy's checks: access token, a DPoP proof
of its own (ES256, unique ``jti``, ``ath``), rate limit (raised to 1,000,000 a
minute for this API user: the default 1,200 would refuse the load), customer
token, the consent read live, permission, banks in consent, participants
active, API published and subscribed; the bank verifies the platform's
assertion; the proxy validates the bank's answer against the standard and
meters the call. Calls are a mix: 15 % ``/accounts``, 10 % one account,
35 % balances, 30 % transactions (first page), 10 % transactions of the last
30 days (``fromBookingDateTime``).

1. **Latency added**: the same mix at one bank, called directly (with an
   assertion signed by the platform, as the proxy sends) and through the
   proxy, with 1 connection (each call alone) and with ``--connections``:
   p50/p99 of each and the difference.
2. **Sustained throughput**: through the proxy to all five banks with
   ``--connections`` for ``--duration`` seconds: routed calls per second.
3. **The pilot's volume**: 322,952 routed calls over the 497 consents,
   128 customers and 5 banks, in chunks (a DPoP proof is accepted for 60 s
   after it is signed and an access token lives 5 minutes, so the API user
   signs each chunk's proofs just before it and refreshes its tokens as they
   age): wall time and error count, and the metering table checked to hold
   one row per routed call.

Requests are signed before each wrk run and replayed by wrk (Debian package,
installed with apt-get if missing) through ``bench/routed_calls.lua``. Any
answer other than 200 is an error; the first is printed and the command
exits non-zero. Results are also written as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import platform
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

from flask import Flask
from joserfc.jwk import ECKey

ROOT = Path(__file__).resolve().parent.parent
# The project's packages before bench/'s scripts (bench/biometrics.py would hide the biometrics package).
sys.path.insert(0, str(ROOT))

import token_endpoint as tb  # noqa: E402 - the shared helpers: wrk, ES256 signing, servers, CPU time

RESULTS = ROOT / "bench" / "results"
LUA = ROOT / "bench" / "routed_calls.lua"
SENIM = Path(sys.executable).parent / "senim"

CLIENT_ID = "bench-api-user"
REDIRECT_URI = "http://127.0.0.1:9/cb"
PREFIX = "/open-banking/v1"
PERMISSIONS = ("ReadAccountsDetail", "ReadBalances", "ReadTransactionsDetail")
#: The pilot (2023): routed calls, consents, customers, banks.
PILOT_CALLS, PILOT_CONSENTS, PILOT_CUSTOMERS, PILOT_BANKS = 322_952, 497, 128, 5
#: (kind, weight in %) of the calls after discovery.
MIX = (("accounts", 15), ("account", 10), ("balances", 35), ("transactions", 30), ("transactions_month", 10))
#: Senim accepts a DPoP proof until 60 s after its iat: a replay chunk holds this many seconds of calls
#: at the measured rate (room for the rate to drop to a third), a timed run lasts at most MAX_DURATION.
CHUNK_SECONDS = 20
MAX_DURATION = 30
#: Access tokens live 300 s; older than this, they are refreshed before the next chunk.
REFRESH_AFTER = 150
HTTP_TIMEOUT = 30
SOCKET_ERRORS = ("connect", "read", "write", "timeout")


# -- the platform under test ------------------------------------------------------------------
def _bin(index: int) -> str:
    """A valid BIN for bench bank ``index`` (resident legal entity, head office)."""
    from biometrics.iin import InvalidIIN, iin_check_digit

    for serial in range(100):
        first = f"98{index:02d}40{serial:05d}"
        try:
            return first + str(iin_check_digit(first))
        except InvalidIIN:
            continue
    raise RuntimeError("no BIN")


def customer_iins(count: int) -> list[str]:
    from biometrics.iin import make_iin

    return [
        make_iin(date(1960 + i % 40, 1 + i % 12, 1 + (7 * i) % 28), female=i % 2 == 1, serial=1 + i)
        for i in range(count)
    ]


@dataclass
class Platform:
    env: dict[str, str]
    issuer: str
    #: Senim's Flask app in this process, on the same data directory and database as the server
    app: Flask
    client_key_file: Path
    bank_ids: list[str] = field(default_factory=list)
    senim: tb.Target | None = None
    banks: list[tb.Target] = field(default_factory=list)

    def targets(self) -> list[tb.Target]:
        return [t for t in (self.senim, *self.banks) if t is not None]

    def stop(self) -> None:
        for target in self.targets():
            target.stop()


def _start(name: str, argv: list[str], env: dict, work: Path, url: str, ready: str, text: str) -> tb.Target:
    log_path = work / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    target = tb.Target(
        name=name, issuer=url, filler_path=ready, process=process, log_path=log_path, description=text
    )
    target.wait_ready(ready)
    return target


def start_platform(work: Path, args: argparse.Namespace, iins: list[str]) -> Platform:
    port = tb.free_port()
    issuer = f"http://127.0.0.1:{port}"
    data_dir = work / "senim"
    env = {
        **os.environ,
        "SENIM_BIND": f"127.0.0.1:{port}",
        "SENIM_ISSUER": issuer,
        "SENIM_DATA_DIR": str(data_dir),
        "SENIM_DATABASE_URL": args.database_url or f"sqlite:///{data_dir / 'senim.db'}",
        "SENIM_WORKERS": str(args.workers),
        "SENIM_PROXY_RATE_LIMIT": "1000000/minute",
    }
    tb.run_checked([str(SENIM), "db", "upgrade"], env=env, cwd=work)
    bank_ports = [tb.free_port() for _ in range(PILOT_BANKS)]
    key = ECKey.generate_key("P-256")
    private = {**key.as_dict(private=True), "kid": "bench-1", "alg": "ES256"}
    key_file = work / "client.jwk.json"
    key_file.write_text(json.dumps(private))
    public = {**key.as_dict(private=False), "kid": "bench-1", "alg": "ES256", "use": "sig"}
    from senim.app import create_app
    from senim.settings import Settings

    platform_ = Platform(env, issuer, create_app(Settings.from_env(env)), key_file)
    # The audit events of the bench's own setup would fill the terminal; the servers log theirs to their files.
    logging.getLogger("senim.audit").disabled = True
    with platform_.app.app_context():
        platform_.bank_ids = _registry(bank_ports, public)
    platform_.senim = _start(
        "senim",
        [str(SENIM), "run", "--workers", str(args.workers), "--threads", str(args.threads)],
        env,
        work,
        issuer,
        "/readyz",
        f"senim run: gunicorn, {args.workers} workers × {args.threads} threads;"
        f" {'SQLite' if not args.database_url else args.database_url.split(':')[0]}",
    )
    for index, (bank_id, bank_port) in enumerate(zip(platform_.bank_ids, bank_ports, strict=True)):
        platform_.banks.append(
            _start(
                f"bank{index + 1}",
                [
                    sys.executable,
                    "-m",
                    "reference_bank",
                    "--bank-id",
                    bank_id,
                    "--name",
                    f"Bench Bank {index + 1}",
                    "--bank-code",
                    f"{201 + index}",
                    "--port",
                    str(bank_port),
                    "--seed",
                    str(index + 1),
                    "--platform",
                    issuer,
                    "--customers",
                    ",".join(iins),
                ],
                env,
                work,
                f"http://127.0.0.1:{bank_port}",
                "/",
                "reference bank: gunicorn, 1 worker × 8 threads",
            )
        )
    return platform_


def _registry(bank_ports: list[int], public_jwk: dict) -> list[str]:
    """Banks, their published APIs, the API user and its subscribed client; the banks' ids."""
    from idp.clients import register_client
    from registry.apis import add_api, subscribe
    from registry.participants import API_PROVIDER, API_USER, add_participant

    banks = [
        add_participant(name=f"Bench Bank {i + 1}", bin=_bin(i + 1), roles=[API_PROVIDER])
        for i in range(len(bank_ports))
    ]
    api_user = add_participant(name="Bench Fintech", bin=_bin(60), roles=[API_USER])
    register_client(
        name="Bench app",
        jwks={"keys": [public_jwk]},
        redirect_uris=[REDIRECT_URI],
        scope="openid accounts consents",
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        client_id=CLIENT_ID,
        participant_id=api_user.id,
    )
    for bank, port in zip(banks, bank_ports, strict=True):
        api = add_api(provider_id=bank.id, base_url=f"http://127.0.0.1:{port}", publish=True)
        subscribe(api_id=api.id, client_id=CLIENT_ID, participant_id=api_user.id)
    return [bank.id for bank in banks]


# -- the consents: the whole flow, the customer's part through the service layer -------------
@dataclass
class Consent:
    consent_id: str
    iin: str
    banks: list[str]
    access_token: str = ""
    refresh_token: str = ""
    issued: float = 0.0
    #: bank id -> the customer's account ids there (from GET /accounts)
    accounts: dict[str, list[str]] = field(default_factory=dict)

    def take(self, tokens: dict) -> None:
        self.access_token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]
        self.issued = time.time()

    @property
    def ath(self) -> str:
        return tb.b64url(hashlib.sha256(self.access_token.encode()).digest())


class ApiUserApp:
    """The bench's API user: the demo app's HTTP client (``demo_app.api_user``) and a fast DPoP signer."""

    def __init__(self, platform_: Platform) -> None:
        from demo_app.api_user import ApiUser

        self.platform = platform_
        self.client = ApiUser.from_key_file(
            platform_.issuer, platform_.client_key_file, CLIENT_ID, REDIRECT_URI
        )
        dpop = self.client.dpop_key
        self._proofs = tb.ES256Signer(
            dpop.raw_value, {"typ": "dpop+jwt", "alg": "ES256", "jwk": dpop.as_dict(private=False)}
        )

    def proof(self, path: str, consent: Consent, now: int) -> str:
        return self._proofs.sign(
            {
                "jti": secrets.token_urlsafe(18),
                "htm": "GET",
                "htu": self.platform.issuer + path,
                "iat": now,
                "ath": consent.ath,
            }
        )

    def consents(
        self, iins: list[str], count: int, rng: random.Random, pool: ThreadPoolExecutor
    ) -> list[Consent]:
        wanted = [
            Consent("", iins[k % len(iins)], rng.sample(self.platform.bank_ids, rng.randint(1, PILOT_BANKS)))
            for k in range(count)
        ]
        for start in range(0, count, 100):
            batch = wanted[start : start + 100]
            browsers = list(pool.map(self._ask_and_push, batch))
            self._customers_approve(batch, browsers)
            for consent, tokens in zip(batch, pool.map(self._resume_and_exchange, browsers), strict=True):
                consent.take(tokens)
        return wanted

    def _ask_and_push(self, consent: Consent) -> tb.Browser:
        from demo_app.api_user import pkce_pair

        consent.consent_id = self.client.ask_consent(consent.banks, "bench", PERMISSIONS, days=90)
        verifier, challenge = pkce_pair()
        url = self.client.push(
            secrets.token_urlsafe(8), secrets.token_urlsafe(8), challenge, None, consent.consent_id
        )
        browser = tb.Browser(verifier=verifier)
        answer = browser.get(url)
        if answer.status_code not in (302, 303):
            raise RuntimeError(f"/authorize: {answer.status_code} {answer.text}")
        browser.location = urljoin(self.platform.issuer, answer.headers["Location"])
        return browser

    def _customers_approve(self, consents: list[Consent], browsers: list[tb.Browser]) -> None:
        """What the consent step does once the customer passed both factors and approved."""
        from idp.authorize import BROWSER_COOKIE, complete_interaction, pending_interaction
        from idp.consents.service import decide_by_customer
        from idp.customer_login import customer_subject

        with self.platform.app.app_context():
            secret = self.platform.app.extensions["senim.keyring"].server_secret
            for consent, browser in zip(consents, browsers, strict=True):
                interaction_id = urlsplit(browser.location).path.rsplit("/", 1)[-1]
                cookie = browser.cookies.get(BROWSER_COOKIE)
                _interaction, params = pending_interaction(interaction_id, cookie)
                granted = [
                    decide_by_customer(detail, CLIENT_ID, consent.iin, approve=True)
                    for detail in params["authorization_details"]
                ]
                complete_interaction(
                    interaction_id,
                    cookie,
                    subject=customer_subject(secret, consent.iin),
                    approved=True,
                    acr="urn:senim:loa:2fa",
                    amr=["face", "sms", "mfa"],
                    authorization_details=granted,
                )
                browser.location = f"{self.platform.issuer}/authorize/resume/{interaction_id}"

    def _resume_and_exchange(self, browser: tb.Browser) -> dict:
        for _ in range(5):
            if browser.location.startswith(REDIRECT_URI):
                break
            answer = browser.get(browser.location)
            if answer.status_code not in (302, 303):
                raise RuntimeError(f"{browser.location}: {answer.status_code} {answer.text}")
            browser.location = urljoin(browser.location, answer.headers["Location"])
        code = parse_qs(urlsplit(browser.location).query)["code"][0]
        return self.client.exchange(code, browser.verifier)

    def refresh(self, consents: list[Consent], pool: ThreadPoolExecutor) -> None:
        for consent, tokens in zip(
            consents, pool.map(lambda c: self.client.refresh(c.refresh_token), consents), strict=True
        ):
            consent.take(tokens)

    def discover(self, consents: list[Consent], pool: ThreadPoolExecutor) -> int:
        """``GET /accounts`` at every bank of every consent, through the proxy; the number of calls."""
        pairs = [(consent, bank) for consent in consents for bank in consent.banks]

        def read(pair: tuple[Consent, str]) -> list[str]:
            consent, bank = pair
            answer = self.client.read(consent.access_token, bank, "/accounts")
            if answer.status_code != 200:
                raise RuntimeError(f"GET /accounts: {answer.status_code} {answer.text}")
            return [account["AccountId"] for account in answer.json()["Data"]["Account"]]

        for (consent, bank), accounts in zip(pairs, pool.map(read, pairs), strict=True):
            consent.accounts[bank] = accounts
        return len(pairs)


# -- what is called ------------------------------------------------------------------------------
def planned_calls(
    consents: list[Consent], rng: random.Random, banks: list[str] | None = None
) -> Iterator[tuple[Consent, str, str]]:
    """An endless mix of (consent, bank, path with query) over ``consents`` (at ``banks`` only, if given)."""
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    pairs = [(c, b) for c in consents for b in c.banks if banks is None or b in banks]
    month_ago = f"{date.today() - timedelta(days=30)}T00:00:00"  # Almaty time (no offset)
    while True:
        consent, bank = rng.choice(pairs)
        accounts = consent.accounts.get(bank) or []
        kind = rng.choice(kinds) if accounts else "accounts"
        if kind == "accounts":
            yield consent, bank, "/accounts"
            continue
        account = rng.choice(accounts)
        path = {
            "account": f"/accounts/{account}",
            "balances": f"/accounts/{account}/balances",
            "transactions": f"/accounts/{account}/transactions",
            "transactions_month": f"/accounts/{account}/transactions?fromBookingDateTime={month_ago}",
        }[kind]
        yield consent, bank, path


def proxy_lines(app: ApiUserApp, calls: Iterator[tuple[Consent, str, str]], count: int) -> Iterator[str]:
    now = int(time.time())
    for consent, bank, path in (next(calls) for _ in range(count)):
        url = PREFIX + path
        proof = app.proof(url.split("?")[0], consent, now)
        yield (
            f"{url}\tAuthorization: DPoP {consent.access_token}\tDPoP: {proof}\t"
            f"x-provider-id: {bank}\tAccept: application/json\n"
        )


def direct_lines(platform_: Platform, calls: Iterator[tuple[Consent, str, str]], count: int) -> Iterator[str]:
    """The same calls straight to the bank, each with the assertion the proxy would send."""
    from idp.signing import sign
    from resource_proxy.standard import ASSERTION_TYP

    with platform_.app.app_context():
        now = int(time.time())
        for consent, bank, path in (next(calls) for _ in range(count)):
            interaction = str(uuid.uuid4())
            claims = {
                "iss": platform_.issuer,
                "aud": bank,
                "iat": now,
                "exp": now + 60,
                "jti": uuid.uuid4().hex,
                "sub": consent.iin,
                "consent_id": consent.consent_id,
                "permissions": list(PERMISSIONS),
                "api_user": "bench",
                "client_id": CLIENT_ID,
                "interaction_id": interaction,
            }
            yield (
                f"{path}\tAuthorization: Bearer {sign(claims, ASSERTION_TYP)}\t"
                f"x-fapi-interaction-id: {interaction}\tAccept: application/json\n"
            )


# -- wrk -------------------------------------------------------------------------------------------
@dataclass
class WrkRun:
    label: str
    calls_per_s: float
    p50_ms: float
    p99_ms: float
    ok: int
    errors: int
    socket_errors: int
    unanswered: int
    fillers: int
    seconds: float
    sign_seconds: float
    cpu_percent: dict[str, float]
    first_error: str | None = None

    mode: str = "bounded"
    socket_error_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        # A bounded run ends with calls in flight (sent, never answered): only a replay must answer all.
        return self.errors + self.socket_errors + (self.unanswered if self.mode == "replay" else 0)


def run_wrk(
    wrk: str,
    url: str,
    lines: Iterator[str],
    *,
    label: str,
    mode: str,
    duration: int,
    connections: int,
    threads: int,
    filler: str,
    processes: list[tb.Target],
) -> WrkRun:
    with tempfile.TemporaryDirectory(prefix="senim-bench-proxy-") as tmp:
        run_dir = Path(tmp)
        started = time.perf_counter()
        tb.write_lines(run_dir, lines, threads, prefix="requests")
        sign_seconds = time.perf_counter() - started
        command = [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            url,
            "--",
            str(run_dir),
            filler,
            mode,
        ]
        cpu_before = {t.name: t.cpu_seconds() for t in processes}
        children_before = tb.children_cpu_seconds()
        wall = time.perf_counter()
        process = subprocess.Popen(
            command,
            env={**os.environ, "BENCH_RUN_DIR": str(run_dir)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if mode == "replay":
            _end_when_done(process, run_dir, threads)
        out, err = process.communicate()
        wall = time.perf_counter() - wall
        cpu = {t.name: round(100 * (t.cpu_seconds() - cpu_before[t.name]) / wall, 1) for t in processes}
        cpu["wrk"] = round(100 * (tb.children_cpu_seconds() - children_before) / wall, 1)
        result_file = run_dir / "result"
        if not result_file.exists():
            raise SystemExit(f"wrk failed ({process.returncode}):\n{out}\n{err}")
        values = tb.read_wrk_result(result_file)
        error_file = run_dir / "error"
        seconds = values["duration_us"] / 1e6
        return WrkRun(
            label=label,
            calls_per_s=round(values["answered"] / seconds, 1),
            p50_ms=round(values["latency_p50_us"] / 1000, 2),
            p99_ms=round(values["latency_p99_us"] / 1000, 2),
            ok=int(values["ok"]),
            errors=int(values["bad"]),
            socket_errors=int(sum(values[f"errors_{k}"] for k in SOCKET_ERRORS)),
            socket_error_kinds={
                k: int(values[f"errors_{k}"]) for k in SOCKET_ERRORS if values[f"errors_{k}"]
            },
            unanswered=int(values["sent"] - values["answered"]),
            fillers=int(values["fillers"]),
            seconds=round(seconds, 2),
            sign_seconds=round(sign_seconds, 2),
            cpu_percent=cpu,
            first_error=error_file.read_text()[:2000] if error_file.exists() else None,
            mode=mode,
        )


def _end_when_done(process: subprocess.Popen, run_dir: Path, threads: int) -> None:
    """Replay mode: SIGINT to wrk once every thread has had all its calls answered."""
    while process.poll() is None:
        if all((run_dir / f"done.{t}").exists() for t in range(threads)):
            process.send_signal(signal.SIGINT)
            return
        time.sleep(0.05)


def bounded(
    wrk: str,
    url: str,
    make_lines: Callable[[int], Iterator[str]],
    rate_guess: float,
    *,
    label: str,
    duration: int,
    connections: int,
    filler: str,
    processes: list[tb.Target],
) -> WrkRun:
    """A run of ``duration`` seconds; repeated with more signed calls if it ran out of them."""
    threads = min(2, connections)
    for _attempt in range(4):
        pool = math.ceil(rate_guess * duration * 1.5) + 8 * connections
        run = run_wrk(
            wrk,
            url,
            make_lines(pool),
            label=label,
            mode="bounded",
            duration=duration,
            connections=connections,
            threads=threads,
            filler=filler,
            processes=processes,
        )
        if not run.fillers or run.failed:
            return run
        rate_guess = max(rate_guess * 2, run.calls_per_s * 2)
    raise SystemExit(f"{label}: still out of signed calls after 4 tries")


def describe(run: WrkRun) -> str:
    cpu = ", ".join(f"{name} {value:.0f}%" for name, value in run.cpu_percent.items() if value >= 1)
    text = (
        f"  {run.label:<34} {run.calls_per_s:>8.1f} calls/s  p50 {run.p50_ms:>7.2f} ms  p99 {run.p99_ms:>7.2f} ms"
        f"  ok {run.ok:>7}  errors {run.failed}  [{run.seconds:.1f} s; CPU {cpu}]"
    )
    if run.first_error:
        text += f"\n    first error: {run.first_error}"
    return text


# -- the benchmark ---------------------------------------------------------------------------------
def latency_added(
    wrk: str, platform_: Platform, app: ApiUserApp, consents: list[Consent], args: argparse.Namespace
) -> list[dict]:
    bank, bank_target = platform_.bank_ids[0], platform_.banks[0]
    rows = []
    rate = 300.0
    for connections in (1, args.connections):
        runs = {}
        for via in ("bank directly", "through the proxy"):
            calls = planned_calls(consents, random.Random(connections), banks=[bank])
            if via == "bank directly":
                url, filler = bank_target.issuer, "/openapi.json"

                def make(count: int, calls: Iterator = calls) -> Iterator[str]:
                    return direct_lines(platform_, calls, count)
            else:
                url, filler = platform_.issuer, "/healthz"

                def make(count: int, calls: Iterator = calls) -> Iterator[str]:
                    return proxy_lines(app, calls, count)

            _warm_up = bounded(
                wrk,
                url,
                make,
                rate,
                label="warm-up",
                duration=3,
                connections=connections,
                filler=filler,
                processes=platform_.targets(),
            )
            run = bounded(
                wrk,
                url,
                make,
                max(rate, _warm_up.calls_per_s),
                label=f"{via}, {connections} conn.",
                duration=args.duration,
                connections=connections,
                filler=filler,
                processes=platform_.targets(),
            )
            print(describe(run), flush=True)
            if run.failed:
                raise SystemExit(f"{run.label}: {run.failed} failed calls")
            runs[via] = run
            rate = max(rate, run.calls_per_s)
        direct, proxied = runs["bank directly"], runs["through the proxy"]
        rows.append(
            {
                "connections": connections,
                "direct": asdict(direct),
                "proxy": asdict(proxied),
                "added_p50_ms": round(proxied.p50_ms - direct.p50_ms, 2),
                "added_p99_ms": round(proxied.p99_ms - direct.p99_ms, 2),
            }
        )
        print(
            f"  → the proxy adds p50 {rows[-1]['added_p50_ms']:.2f} ms, p99 {rows[-1]['added_p99_ms']:.2f} ms"
            f" with {connections} connection{'s' if connections > 1 else ''}",
            flush=True,
        )
    return rows


def sustained(
    wrk: str, platform_: Platform, app: ApiUserApp, consents: list[Consent], args: argparse.Namespace
) -> WrkRun:
    calls = planned_calls(consents, random.Random(7))

    def make(count: int) -> Iterator[str]:
        return proxy_lines(app, calls, count)

    bounded(
        wrk,
        platform_.issuer,
        make,
        300.0,
        label="warm-up",
        duration=3,
        connections=args.connections,
        filler="/healthz",
        processes=platform_.targets(),
    )
    runs = []
    for i in range(args.runs):
        run = bounded(
            wrk,
            platform_.issuer,
            make,
            300.0,
            label=f"5 banks, {args.connections} conn., run {i + 1}",
            duration=args.duration,
            connections=args.connections,
            filler="/healthz",
            processes=platform_.targets(),
        )
        print(describe(run), flush=True)
        if run.failed:
            raise SystemExit(f"{run.label}: {run.failed} failed calls")
        runs.append(run)
    return sorted(runs, key=lambda r: r.calls_per_s)[len(runs) // 2]


def metered_calls(platform_: Platform) -> int:
    from sqlalchemy import func, select

    from resource_proxy.models import RoutedCall
    from senim.database import db

    with platform_.app.app_context():
        count = db.session.scalar(select(func.count()).select_from(RoutedCall))
        db.session.remove()
        return int(count or 0)


def replay(
    wrk: str,
    platform_: Platform,
    app: ApiUserApp,
    consents: list[Consent],
    total: int,
    already: int,
    rate: float,
    args: argparse.Namespace,
    pool: ThreadPoolExecutor,
) -> dict:
    """The pilot's volume after ``already`` discovery calls, chunk by chunk; its figures."""
    calls = planned_calls(consents, random.Random(2023))
    chunk = max(1000, int(rate * CHUNK_SECONDS))
    remaining = total - already
    started = time.perf_counter()
    metered_before = metered_calls(platform_)
    ok = failed = chunks = refreshes = 0
    routing = signing = 0.0
    first_error = None
    while remaining > 0:
        size = min(chunk, remaining)
        if time.time() - min(c.issued for c in consents) > REFRESH_AFTER:
            app.refresh(consents, pool)
            refreshes += 1
        run = run_wrk(
            wrk,
            platform_.issuer,
            proxy_lines(app, calls, size),
            label=f"chunk {chunks + 1}",
            mode="replay",
            duration=int(size / max(rate, 1) * 4) + 60,
            connections=args.connections,
            threads=2,
            filler="/healthz",
            processes=platform_.targets(),
        )
        chunks += 1
        if run.failed:
            print(
                f"  chunk {chunks}: {run.errors} error answers, {run.unanswered} calls unanswered,"
                f" socket errors {run.socket_error_kinds or 0}",
                flush=True,
            )
        ok += run.ok
        failed += run.failed
        routing += run.seconds
        signing += run.sign_seconds
        first_error = first_error or run.first_error
        remaining -= size
        if chunks % 10 == 0 or remaining == 0:
            print(
                f"  {total - remaining:>7} / {total} calls  ({run.calls_per_s:.0f} calls/s in the last chunk,"
                f" errors so far {failed}, {time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    wall = time.perf_counter() - started
    metered = metered_calls(platform_) - metered_before
    return {
        "calls": total,
        "discovery_calls": already,
        "replayed_calls": total - already,
        "ok": ok + already,
        "errors": failed,
        "first_error": first_error,
        "wall_seconds": round(wall, 1),
        "routing_seconds": round(routing, 1),
        "signing_seconds": round(signing, 1),
        "token_refresh_rounds": refreshes,
        "chunks": chunks,
        "metered_rows_for_replayed_calls": metered,
        "calls_per_s_overall": round((total - already) / wall, 1),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per timed run (1–30; default 10)")
    parser.add_argument("--runs", type=int, default=3, help="sustained runs (median shown; default 3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    # On 2 cores the proxy is CPU-bound: 3 sync workers routed more than 2 workers × 4 threads (gthread).
    parser.add_argument("--workers", type=int, default=3, help="Senim's gunicorn workers (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="threads per Senim worker (default 1: sync)")
    parser.add_argument(
        "--replay-calls", type=int, default=PILOT_CALLS, help="calls of the replay (default: the pilot's)"
    )
    parser.add_argument("--skip-replay", action="store_true", help="only latency and throughput")
    parser.add_argument(
        "--database-url", default=None, help="Senim's database (default: SQLite in the work dir)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory and logs")
    args = parser.parse_args()
    if not 1 <= args.duration <= MAX_DURATION:
        parser.error(f"--duration must be 1–{MAX_DURATION} s: DPoP proofs are signed before the run")
    if args.connections < 2 or args.runs < 1:
        parser.error("--connections ≥ 2 and --runs ≥ 1")
    return args


def main() -> int:
    args = parse_args()
    wrk = tb.ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="senim-bench-proxy-"))
    rng = random.Random(497)
    iins = customer_iins(PILOT_CUSTOMERS)
    print(
        f"resource proxy benchmark on {os.cpu_count()} CPUs shared by Senim, {PILOT_BANKS} reference banks and wrk;"
        f" work dir {work}",
        flush=True,
    )
    platform_ = None
    report: dict = {"created": time.strftime("%Y%m%dT%H%M%S"), "options": vars(args)}
    try:
        platform_ = start_platform(work, args, iins)
        print(
            f"  {platform_.senim.description}; {PILOT_BANKS} × {platform_.banks[0].description}", flush=True
        )
        app = ApiUserApp(platform_)
        with ThreadPoolExecutor(8) as pool:
            started = time.perf_counter()
            consents = app.consents(iins, PILOT_CONSENTS, rng, pool)
            print(
                f"  {len(consents)} consents of {len(iins)} customers authorised through the whole flow"
                f" in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            started = time.perf_counter()
            discovery = app.discover(consents, pool)
            accounts = sum(len(a) for c in consents for a in c.accounts.values())
            print(
                f"  discovery: {discovery} GET /accounts through the proxy in {time.perf_counter() - started:.1f} s"
                f" ({accounts} accounts)",
                flush=True,
            )
            print("\nlatency the proxy adds (one bank, the same calls directly and through the proxy)")
            app.refresh(consents, pool)
            report["latency"] = latency_added(wrk, platform_, app, consents, args)
            print(f"\nsustained routed calls ({args.runs} × {args.duration} s, median)")
            app.refresh(consents, pool)
            best = sustained(wrk, platform_, app, consents, args)
            report["sustained"] = asdict(best)
            print(f"  → {best.calls_per_s:.1f} routed calls/s, p50 {best.p50_ms} ms, p99 {best.p99_ms} ms")
            if not args.skip_replay:
                print(
                    f"\nreplay of the pilot's volume: {args.replay_calls} routed calls, {len(consents)} consents,"
                    f" {len(iins)} customers, {PILOT_BANKS} banks"
                )
                app.refresh(consents, pool)
                figures = replay(
                    wrk, platform_, app, consents, args.replay_calls, discovery, best.calls_per_s, args, pool
                )
                report["replay"] = figures
                print(
                    f"  → {figures['calls']} calls in {figures['wall_seconds']} s wall time"
                    f" ({figures['routing_seconds']} s routing, {figures['signing_seconds']} s signing proofs,"
                    f" {figures['token_refresh_rounds']} token refresh rounds);"
                    f" errors: {figures['errors']}; metered rows for the replayed calls:"
                    f" {figures['metered_rows_for_replayed_calls']} of {figures['replayed_calls']}"
                )
    finally:
        if platform_ is not None:
            platform_.stop()
            tb.report_log_errors(
                platform_.targets(), r"Traceback|database is locked|WORKER TIMEOUT|\[ERROR\]"
            )
    report["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"proxy-{report['created']}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results: {out.relative_to(ROOT)}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    replayed = report.get("replay")
    if replayed and (
        replayed["errors"] or replayed["metered_rows_for_replayed_calls"] != replayed["replayed_calls"]
    ):
        print("\nINVALID: the replay had errors or unmetered calls", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
