"""Token endpoint benchmark: Senim against a reference provider (oidc-provider).

    .venv/bin/python bench/token_endpoint.py [--duration 10] [--runs 3] [--connections 32]
                                             [--workers 2] [--threads 1] [--skip-reference]

Starts Senim (``senim run``, gunicorn) on 127.0.0.1 with a fresh data directory
and SQLite database, and, unless ``--skip-reference``, oidc-provider from npm
configured the same way (``bench/compare/server.mjs``, installed there with
``npm ci``). Measures two scenarios at ``POST /token``:

- ``client_credentials``: private_key_jwt (ES256) + DPoP (ES256), scope consents;
- ``refresh``: refresh_token grant with rotation, private_key_jwt + DPoP, on
  grants obtained beforehand through the whole code flow (PAR, /authorize,
  the customer's interaction, code exchange).

Every request carries its own client assertion and DPoP proof (unique jti,
used once). They are signed before each timed run, never during it, and
replayed by wrk (Debian package, installed with apt-get if missing) through
``bench/replay.lua``. Each scenario: one warm-up run (discarded, sizes the
pool of signed requests), then ``--runs`` timed runs of ``--duration`` seconds;
the table shows the median. Any response other than 200 invalidates the
results: the first error body is printed and the command exits non-zero.
Results are also written as JSON to bench/results/ (not committed).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ROOT = Path(__file__).resolve().parent.parent
# The project's packages before bench/'s scripts: bench/biometrics.py would hide the biometrics
# package that the interaction completer's imports reach (through the registry).
sys.path.insert(0, str(ROOT))
BENCH = ROOT / "bench"
COMPARE = BENCH / "compare"
RESULTS = BENCH / "results"
REPLAY_LUA = BENCH / "replay.lua"
SENIM = Path(sys.executable).parent / "senim"

CLIENT_ID = "bench-client"
CLIENT_KID = "k1"
REDIRECT_URI = "http://127.0.0.1:9/cb"
CLIENT_SCOPE = "openid accounts consents"
CC_SCOPE = "consents"
#: The customer grants "accounts" only: without "openid", neither server
#: issues an ID token on refresh, so both refresh responses are an access
#: token (JWT) and a rotated refresh token.
GRANT_SCOPE = "accounts"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SCENARIOS = ("client_credentials", "refresh")
#: Senim accepts DPoP proofs whose iat is at most 60 s old.
MAX_DURATION = 15
READY_TRIES = 300
READY_INTERVAL = 0.1
HTTP_TIMEOUT = 30
#: Requests signed per second of run before the first measurement.
INITIAL_RATE_GUESS = 1500.0


# -- JOSE, fast: signing must not be what limits the load generator ----------------
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact_json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
    }


class ES256Signer:
    """Compact JWS with ES256 and a fixed protected header."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, header: dict) -> None:
        self.key = key
        self.header = b64url(compact_json(header))

    def sign(self, claims: dict) -> str:
        signing_input = f"{self.header}.{b64url(compact_json(claims))}"
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


class ApiClient:
    """The API user's app: its private_key_jwt key and its DPoP key (one for every grant)."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.dpop_key = ec.generate_private_key(ec.SECP256R1())
        self._assertions = ES256Signer(self.key, {"alg": "ES256", "kid": CLIENT_KID})
        self._proofs = ES256Signer(
            self.dpop_key, {"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(self.dpop_key)}
        )

    def jwks(self) -> dict:
        return {"keys": [{**public_jwk(self.key), "kid": CLIENT_KID, "alg": "ES256", "use": "sig"}]}

    def assertion(self, issuer: str, now: int) -> str:
        return self._assertions.sign(
            {
                "iss": CLIENT_ID,
                "sub": CLIENT_ID,
                "aud": issuer,
                "iat": now,
                "exp": now + 120,
                "jti": secrets.token_urlsafe(18),
            }
        )

    def auth(self, issuer: str, now: int) -> dict:
        return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": self.assertion(issuer, now)}

    def dpop(self, issuer: str, path: str, now: int, method: str = "POST") -> str:
        return self._proofs.sign(
            {"jti": secrets.token_urlsafe(18), "htm": method, "htu": issuer + path, "iat": now}
        )


# -- the servers under test --------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_checked(command: list[str], **kwargs: object) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@dataclass
class Target:
    name: str
    issuer: str
    #: A cheap GET answered with 200, sent by replay.lua when it runs out of requests.
    filler_path: str
    process: subprocess.Popen
    log_path: Path
    description: str
    #: Completes the customer's interactions, given each one's id and its browser's
    #: cookies (Senim); None when the server does it itself.
    complete_interactions: Callable[[list[tuple[str, requests.cookies.RequestsCookieJar]]], None] | None = (
        None
    )

    def cpu_seconds(self) -> float:
        pids = [self.process.pid, *child_pids(self.process.pid)]
        return sum(process_cpu_seconds(pid) for pid in pids)

    def wait_ready(self, path: str) -> None:
        url = self.issuer + path
        for _ in range(READY_TRIES):
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited ({self.process.returncode}); see {self.log_path}")
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(READY_INTERVAL)
        self.stop()
        raise SystemExit(f"{self.name} was not ready at {url} after {READY_TRIES} tries; see {self.log_path}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_senim(work: Path, client: ApiClient, workers: int, threads: int) -> Target:
    port = free_port()
    data_dir = work / "senim"
    issuer = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SENIM_BIND": f"127.0.0.1:{port}",
        "SENIM_ISSUER": issuer,
        "SENIM_DATA_DIR": str(data_dir),
        "SENIM_DATABASE_URL": f"sqlite:///{data_dir / 'senim.db'}",
        "SENIM_WORKERS": str(workers),
    }
    run_checked([str(SENIM), "db", "upgrade"], env=env, cwd=work)
    jwks_file = work / "client-jwks.json"
    jwks_file.write_text(json.dumps(client.jwks()))
    run_checked(
        [
            str(SENIM),
            "clients",
            "add",
            "--name",
            "bench",
            "--client-id",
            CLIENT_ID,
            "--grant-type",
            "client_credentials",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--scope",
            CLIENT_SCOPE,
            "--redirect-uri",
            REDIRECT_URI,
            "--jwks-file",
            str(jwks_file),
        ],
        env=env,
        cwd=work,
    )
    log_path = work / "senim.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(SENIM), "run", "--workers", str(workers), "--threads", str(threads)],
            env=env,
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker_class = "gthread" if threads > 1 else "sync (no keep-alive)"
    target = Target(
        name="senim",
        issuer=issuer,
        filler_path="/healthz",
        process=process,
        log_path=log_path,
        description=(
            f"senim run: gunicorn, {workers} workers × {threads} thread{'s' if threads > 1 else ''},"
            f" {worker_class}; SQLite (WAL)"
        ),
        complete_interactions=senim_interaction_completer(env),
    )
    target.wait_ready("/readyz")
    return target


def senim_interaction_completer(
    env: dict[str, str],
) -> Callable[[list[tuple[str, requests.cookies.RequestsCookieJar]]], None]:
    """The customer's login and consent, through Senim's service layer (what its
    login and consent pages will call, with the browser's binding cookie), on the
    same data directory and database as the running server."""
    from senim.settings import Settings

    settings = Settings.from_env(env)
    state: dict = {}

    def complete(interactions: list[tuple[str, requests.cookies.RequestsCookieJar]]) -> None:
        from idp.authorize import BROWSER_COOKIE, complete_interaction
        from senim.app import create_app

        if "app" not in state:
            state["app"] = create_app(settings)
        with state["app"].app_context():
            for interaction_id, cookies in interactions:
                complete_interaction(
                    interaction_id,
                    cookies.get(BROWSER_COOKIE),
                    subject="customer-1",
                    approved=True,
                    acr="urn:senim:loa:2fa",
                    amr=["face", "sms"],
                )

    return complete


def ensure_reference_installed() -> None:
    stamp = COMPARE / "node_modules" / ".installed"
    lock = COMPARE / "package-lock.json"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    if shutil.which("npm") is None:
        raise SystemExit("npm is needed for the reference provider (or pass --skip-reference)")
    print("installing the reference provider: npm ci in bench/compare", flush=True)
    run_checked(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=COMPARE)
    stamp.touch()


def start_reference(work: Path, client: ApiClient) -> Target:
    ensure_reference_installed()
    port = free_port()
    config = work / "reference.json"
    config.write_text(
        json.dumps(
            {"port": port, "client_id": CLIENT_ID, "jwks": client.jwks(), "redirect_uri": REDIRECT_URI}
        )
    )
    log_path = work / "reference.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["node", str(COMPARE / "server.mjs"), str(config)],
            cwd=COMPARE,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    version = json.loads((COMPARE / "node_modules" / "oidc-provider" / "package.json").read_text())["version"]
    node = run_checked(["node", "--version"]).strip()
    target = Target(
        name="reference",
        issuer=f"http://127.0.0.1:{port}",
        filler_path="/jwks",
        process=process,
        log_path=log_path,
        description=(
            f"oidc-provider {version} on Node.js {node}: one process, its MemoryAdapter"
            " on a store without the default 1,000-entry LRU limit"
        ),
    )
    target.wait_ready("/.well-known/openid-configuration")
    return target


# -- grants for the refresh scenario ------------------------------------------------------
_local = threading.local()


def http() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


@dataclass
class Browser:
    """One customer's browser through the front channel: its cookies and where it is."""

    verifier: str
    location: str = ""
    cookies: requests.cookies.RequestsCookieJar = field(default_factory=requests.cookies.RequestsCookieJar)

    def get(self, url: str) -> requests.Response:
        session = http()
        session.cookies.clear()
        response = session.get(url, cookies=self.cookies, allow_redirects=False, timeout=HTTP_TIMEOUT)
        self.cookies.update(response.cookies)
        return response


def start_grant(target: Target, client: ApiClient) -> Browser:
    """PAR, then the browser at /authorize: returns the browser at the interaction."""
    verifier = secrets.token_urlsafe(48)
    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
    now = int(time.time())
    pushed = http().post(
        target.issuer + "/par",
        data={
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "scope": GRANT_SCOPE,
            "state": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **client.auth(target.issuer, now),
        },
        timeout=HTTP_TIMEOUT,
    )
    if pushed.status_code != 201:
        raise RuntimeError(f"{target.name} PAR: {pushed.status_code} {pushed.text}")
    browser = Browser(verifier=verifier)
    query = urlencode({"client_id": CLIENT_ID, "request_uri": pushed.json()["request_uri"]})
    response = browser.get(f"{target.issuer}/authorize?{query}")
    if response.status_code not in (302, 303):
        raise RuntimeError(f"{target.name} /authorize: {response.status_code} {response.text}")
    browser.location = urljoin(target.issuer, response.headers["Location"])
    return browser


def finish_grant(target: Target, client: ApiClient, browser: Browser) -> str:
    """Follow the redirects back to the client, exchange the code; the refresh token."""
    for _ in range(5):
        if browser.location.startswith(REDIRECT_URI):
            break
        response = browser.get(browser.location)
        if response.status_code not in (302, 303):
            raise RuntimeError(f"{target.name} {browser.location}: {response.status_code} {response.text}")
        browser.location = urljoin(browser.location, response.headers["Location"])
    params = {k: v[0] for k, v in parse_qs(urlsplit(browser.location).query).items()}
    if "code" not in params:
        raise RuntimeError(f"{target.name}: no code in {browser.location}")
    now = int(time.time())
    token = http().post(
        target.issuer + "/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": browser.verifier,
            **client.auth(target.issuer, now),
        },
        headers={"DPoP": client.dpop(target.issuer, "/token", now)},
        timeout=HTTP_TIMEOUT,
    )
    if token.status_code != 200 or "refresh_token" not in token.json():
        raise RuntimeError(f"{target.name} code exchange: {token.status_code} {token.text}")
    return token.json()["refresh_token"]


def prepare_grants(target: Target, client: ApiClient, count: int, concurrency: int = 8) -> list[str]:
    """``count`` grants through the whole code flow; their refresh tokens."""
    tokens: list[str] = []
    with ThreadPoolExecutor(concurrency) as pool:
        for start in range(0, count, 250):
            size = min(250, count - start)
            browsers = list(pool.map(lambda _: start_grant(target, client), range(size)))
            if target.complete_interactions is not None:
                ids = [urlsplit(b.location).path.rsplit("/", 1)[-1] for b in browsers]
                target.complete_interactions([(i, b.cookies) for i, b in zip(ids, browsers, strict=True)])
                for browser, interaction_id in zip(browsers, ids, strict=True):
                    browser.location = f"{target.issuer}/authorize/resume/{interaction_id}"
            tokens.extend(pool.map(lambda b: finish_grant(target, client, b), browsers))
    return tokens


# -- one sanity check per server: the responses are what the scenario claims --------
def jwt_header(token: str) -> dict:
    segment = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def check_client_credentials(target: Target, client: ApiClient) -> dict:
    now = int(time.time())
    response = http().post(
        target.issuer + "/token",
        data={"grant_type": "client_credentials", "scope": CC_SCOPE, **client.auth(target.issuer, now)},
        headers={"DPoP": client.dpop(target.issuer, "/token", now)},
        timeout=HTTP_TIMEOUT,
    )
    if response.status_code != 200:
        raise SystemExit(f"{target.name} client_credentials: {response.status_code} {response.text}")
    body = response.json()
    header = jwt_header(body["access_token"])
    if body.get("token_type") != "DPoP" or header.get("alg") != "ES256":
        raise SystemExit(f"{target.name}: expected a DPoP-bound ES256 JWT access token, got {body}")
    return {"token_type": body["token_type"], "alg": header["alg"], "typ": header.get("typ")}


def check_refresh(target: Target, client: ApiClient, tokens: list[str]) -> dict:
    """Refresh one prepared grant: a JWT access token and a rotated refresh token,
    no ID token; the rotated token takes the used one's place."""
    now = int(time.time())
    response = http().post(
        target.issuer + "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens[0], **client.auth(target.issuer, now)},
        headers={"DPoP": client.dpop(target.issuer, "/token", now)},
        timeout=HTTP_TIMEOUT,
    )
    if response.status_code != 200:
        raise SystemExit(f"{target.name} refresh: {response.status_code} {response.text}")
    body = response.json()
    header = jwt_header(body["access_token"])
    if body.get("token_type") != "DPoP" or body.get("refresh_token") in (None, tokens[0]):
        raise SystemExit(
            f"{target.name}: expected a DPoP-bound access token and a rotated refresh token: {body}"
        )
    tokens[0] = body["refresh_token"]
    return {
        "token_type": body["token_type"],
        "alg": header["alg"],
        "typ": header.get("typ"),
        "rotated": True,
        "id_token": "id_token" in body,
    }


# -- the load generator -----------------------------------------------------------------
def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise SystemExit("wrk is needed: install Debian's package (apt-get install wrk)")
    print("installing wrk (Debian package)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run_checked(["apt-get", "update", "-qq"], env=env)
    run_checked(["apt-get", "install", "-y", "-qq", "wrk"], env=env)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk could not be installed")
    return found


@dataclass
class RunResult:
    scenario: str
    target: str
    duration_s: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    ok: int
    errors: int
    socket_errors: int
    signed: int
    sign_seconds: float
    server_cpu_percent: float
    wrk_cpu_percent: float
    exhausted: bool
    first_error: str | None = None


def write_lines(run_dir: Path, lines: Iterator[str], threads: int, prefix: str = "proofs") -> None:
    """Line i goes to ``<prefix>.<i mod threads>``: each wrk thread reads its own file."""
    files = [(run_dir / f"{prefix}.{t}").open("w") for t in range(threads)]
    try:
        for i, line in enumerate(lines):
            files[i % threads].write(line)
    finally:
        for f in files:
            f.close()


def children_cpu_seconds() -> float:
    """User + system CPU time of this process's finished children (wrk)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def read_wrk_result(result_file: Path) -> dict[str, float]:
    """The "name value" lines a wrk script's done() wrote."""
    return {
        name: float(value)
        for name, value in (line.split(" ", 1) for line in result_file.read_text().splitlines())
    }


def report_log_errors(targets: Iterable[Target], pattern: str) -> None:
    """Print, per server, how many lines of its log match ``pattern`` and the first one."""
    for target in targets:
        errors = [
            line
            for line in target.log_path.read_text(errors="replace").splitlines()
            if re.search(pattern, line)
        ]
        if errors:
            print(f"\n{target.name} log ({target.log_path}): {len(errors)} error lines, first: {errors[0]}")


def signed_requests(target: Target, client: ApiClient, scenario: str, count: int) -> Iterator[str]:
    """One line per request: "<DPoP proof>\\t<form body>", everything signed now."""
    now = int(time.time())
    issuer = target.issuer
    for _ in range(count):
        auth = urlencode(client.auth(issuer, now))
        if scenario == "client_credentials":
            body = f"grant_type=client_credentials&scope={CC_SCOPE}&{auth}"
        else:
            body = auth  # replay.lua puts grant_type and the refresh token in front
        yield f"{client.dpop(issuer, '/token', now)}\t{body}\n"


def run_wrk(
    wrk: str,
    target: Target,
    client: ApiClient,
    scenario: str,
    duration: int,
    pool: int,
    args: argparse.Namespace,
    tokens: list[str],
) -> tuple[RunResult, list[str]]:
    """One wrk run; the result and the refresh tokens still unused afterwards."""
    with tempfile.TemporaryDirectory(prefix="senim-bench-run-") as tmp:
        run_dir = Path(tmp)
        started = time.perf_counter()
        write_lines(run_dir, signed_requests(target, client, scenario, pool), args.wrk_threads)
        sign_seconds = time.perf_counter() - started
        if scenario == "refresh":
            for t in range(args.wrk_threads):
                (run_dir / f"tokens.{t}").write_text(
                    "".join(f"{tok}\n" for tok in tokens[t :: args.wrk_threads])
                )
        command = [
            wrk,
            f"-t{args.wrk_threads}",
            f"-c{args.connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(REPLAY_LUA),
            target.issuer,
            "--",
            str(run_dir),
            scenario,
            "/token",
            target.filler_path,
        ]
        cpu_before = target.cpu_seconds()
        children_before = children_cpu_seconds()
        wall = time.perf_counter()
        done = subprocess.run(
            command,
            env={**os.environ, "BENCH_RUN_DIR": str(run_dir)},
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - wall
        server_cpu = target.cpu_seconds() - cpu_before
        wrk_cpu = children_cpu_seconds() - children_before
        result_file = run_dir / "result"
        if done.returncode != 0 or not result_file.exists():
            raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        values = read_wrk_result(result_file)
        error_file = run_dir / "error"
        remaining = (run_dir / "tokens.out").read_text().split() if scenario == "refresh" else []
        seconds = values["duration_us"] / 1e6
        socket_errors = int(sum(values[f"errors_{k}"] for k in ("connect", "read", "write", "timeout")))
        result = RunResult(
            scenario=scenario,
            target=target.name,
            duration_s=round(seconds, 3),
            requests_per_s=round(values["ok"] / seconds, 1),
            p50_ms=round(values["latency_p50_us"] / 1000, 2),
            p99_ms=round(values["latency_p99_us"] / 1000, 2),
            mean_ms=round(values["latency_mean_us"] / 1000, 2),
            max_ms=round(values["latency_max_us"] / 1000, 2),
            ok=int(values["ok"]),
            errors=int(values["bad"]),
            socket_errors=socket_errors,
            signed=pool,
            sign_seconds=round(sign_seconds, 2),
            server_cpu_percent=round(100 * server_cpu / wall, 1),
            wrk_cpu_percent=round(100 * wrk_cpu / wall, 1),
            exhausted=bool(values["exhausted"] or values["starved"] or values["fillers"]),
            first_error=error_file.read_text() if error_file.exists() else None,
        )
        return result, remaining


def describe(result: RunResult, label: str) -> str:
    text = (
        f"  {label:<8} {result.requests_per_s:>8.1f} req/s  p50 {result.p50_ms:>7.2f} ms  "
        f"p99 {result.p99_ms:>7.2f} ms  ok {result.ok:>6}  errors {result.errors}"
        f"  [{result.duration_s:.1f} s; server CPU {result.server_cpu_percent:.0f}%, "
        f"wrk CPU {result.wrk_cpu_percent:.0f}%; {result.signed} requests signed in {result.sign_seconds:.1f} s]"
    )
    if result.socket_errors:
        text += f"  socket errors {result.socket_errors}"
    if result.exhausted and not result.errors:
        text += "  (ran out of signed requests: repeated with more)"
    return text


@dataclass
class ScenarioResult:
    scenario: str
    target: str
    runs: list[RunResult]
    invalid: bool = False
    grants: int | None = None

    def median(self, name: str) -> float:
        return statistics.median(getattr(r, name) for r in self.runs)


def measure(
    wrk: str,
    target: Target,
    client: ApiClient,
    scenario: str,
    args: argparse.Namespace,
    rate_guess: float,
    tokens: list[str],
) -> tuple[ScenarioResult, list[RunResult]]:
    """Warm-up, then the timed runs; a run that ran out of signed requests is
    repeated with more, a run with a failed request ends the scenario."""
    rate = rate_guess
    runs: list[RunResult] = []
    failures: list[RunResult] = []
    plan = [("warm-up", args.warmup)] + [(f"run {i + 1}", args.duration) for i in range(args.runs)]
    for label, duration in plan:
        for _attempt in range(4):
            pool = math.ceil(rate * duration * 2) + 4 * args.connections
            result, remaining = run_wrk(wrk, target, client, scenario, duration, pool, args, tokens)
            print(describe(result, label), flush=True)
            if result.first_error:
                print(f"    first error: {result.first_error[:2000]}", flush=True)
            if scenario == "refresh":
                tokens[:] = remaining
            if result.errors or result.socket_errors:
                # Any failed request invalidates the scenario: no further runs.
                failures.append(result)
                return ScenarioResult(scenario, target.name, [*runs, result], invalid=True), failures
            if not result.exhausted:
                rate = max(result.requests_per_s, 50.0)
                break
            rate = max(rate * 2, result.requests_per_s * 2)
        else:
            raise SystemExit(f"{target.name} {scenario}: still out of signed requests after 4 tries")
        if label != "warm-up":
            runs.append(result)
    return ScenarioResult(scenario=scenario, target=target.name, runs=runs), failures


# -- output ---------------------------------------------------------------------------------
def table(results: dict[tuple[str, str], ScenarioResult], scenarios: list[str]) -> str:
    head = (
        f"{'scenario':<19}│{'Senim req/s':>12}{'p50 ms':>9}{'p99 ms':>9} │"
        f"{'ref req/s':>10}{'p50 ms':>9}{'p99 ms':>9} │{'Senim/ref':>10}"
    )
    lines = [head, "─" * len(head)]
    for scenario in scenarios:
        cells = []
        for target in ("senim", "reference"):
            r = results.get((target, scenario))
            width = 12 if target == "senim" else 10
            if r is None:
                cells.append(f"{'—':>{width}}{'—':>9}{'—':>9}")
            else:
                cells.append(
                    f"{r.median('requests_per_s'):>{width}.1f}{r.median('p50_ms'):>9.2f}{r.median('p99_ms'):>9.2f}"
                )
        s, ref = results.get(("senim", scenario)), results.get(("reference", scenario))
        ratio = (
            f"{s.median('requests_per_s') / ref.median('requests_per_s'):>10.2f}"
            if s and ref and ref.median("requests_per_s")
            else f"{'—':>10}"
        )
        invalid = any(r.invalid for r in (s, ref) if r)
        lines.append(f"{scenario + (' INVALID' if invalid else ''):<19}│{cells[0]} │{cells[1]} │{ratio}")
    return "\n".join(lines)


def summary_row(results: dict[tuple[str, str], ScenarioResult], scenario: str) -> dict:
    row: dict = {"scenario": scenario}
    for target in ("senim", "reference"):
        result = results.get((target, scenario))
        for metric in ("requests_per_s", "p50_ms", "p99_ms"):
            row[f"{target}_{metric}"] = result.median(metric) if result else None
        row[f"{target}_grants"] = result.grants if result else None
        row[f"{target}_invalid"] = result.invalid if result else None
    senim, reference = row["senim_requests_per_s"], row["reference_requests_per_s"]
    row["ratio_senim_to_reference"] = round(senim / reference, 3) if senim and reference else None
    return row


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per timed run (1–15; default 10)")
    parser.add_argument(
        "--runs", type=int, default=3, help="timed runs per scenario (default 3; median shown)"
    )
    parser.add_argument("--warmup", type=int, default=3, help="seconds of the warm-up run (default 3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("SENIM_WORKERS") or 2),
        help="Senim's gunicorn workers (default SENIM_WORKERS or 2)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per gunicorn worker (default 1: sync)"
    )
    parser.add_argument(
        "--grants",
        type=int,
        default=400,
        help="grants prepared through the code flow for refresh (default 400)",
    )
    parser.add_argument(
        "--scenario", choices=SCENARIOS, action="append", help="only this scenario (repeatable)"
    )
    parser.add_argument("--skip-reference", action="store_true", help="measure Senim only")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory and logs")
    args = parser.parse_args()
    if not 1 <= args.duration <= MAX_DURATION:
        parser.error(f"--duration must be 1–{MAX_DURATION} s: DPoP proofs are signed before the run")
    if not 1 <= args.warmup <= MAX_DURATION:
        parser.error(f"--warmup must be 1–{MAX_DURATION} s")
    if args.runs < 1 or args.connections < args.wrk_threads or args.wrk_threads < 1:
        parser.error("--runs ≥ 1 and --connections ≥ --wrk-threads ≥ 1")
    if args.grants < 4 * args.connections:
        parser.error("--grants must be at least 4 × --connections (each connection needs refresh tokens)")
    return args


def bench_target(
    wrk: str,
    target: Target,
    client: ApiClient,
    args: argparse.Namespace,
    scenarios: list[str],
    results: dict,
    failures: list[RunResult],
) -> None:
    print(f"\n== {target.name}: {target.description}, {target.issuer}", flush=True)
    print(f"  check: client_credentials gives {check_client_credentials(target, client)}", flush=True)
    rate_guess = INITIAL_RATE_GUESS
    for scenario in scenarios:
        tokens: list[str] = []
        grants = None
        if scenario == "refresh":
            started = time.perf_counter()
            tokens = prepare_grants(target, client, args.grants)
            grants = len(tokens)
            print(
                f"  refresh: {grants} grants prepared through PAR, /authorize, interaction and code "
                f"exchange in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            print(f"  check: refresh gives {check_refresh(target, client, tokens)}", flush=True)
        print(f"  {scenario}:", flush=True)
        result, failed = measure(wrk, target, client, scenario, args, rate_guess, tokens)
        result.grants = grants
        results[(target.name, scenario)] = result
        failures.extend(failed)
        rate_guess = result.median("requests_per_s")


def main() -> int:
    args = parse_args()
    scenarios = args.scenario or list(SCENARIOS)
    wrk = ensure_wrk()
    client = ApiClient()
    work = Path(tempfile.mkdtemp(prefix="senim-bench-"))
    results: dict[tuple[str, str], ScenarioResult] = {}
    failures: list[RunResult] = []
    targets: dict[str, Target] = {}
    print(
        f"token endpoint benchmark: {args.runs} × {args.duration} s per scenario (after a {args.warmup} s "
        f"warm-up), wrk {args.wrk_threads} threads × {args.connections} connections, on "
        f"{os.cpu_count()} CPUs shared by server and load generator; work dir {work}",
        flush=True,
    )
    try:
        targets["senim"] = start_senim(work, client, args.workers, args.threads)
        bench_target(wrk, targets["senim"], client, args, scenarios, results, failures)
        targets["senim"].stop()
        if not args.skip_reference:
            targets["reference"] = start_reference(work, client)
            bench_target(wrk, targets["reference"], client, args, scenarios, results, failures)
            targets["reference"].stop()
    finally:
        for target in targets.values():
            target.stop()
        report_log_errors(
            targets.values(), r"Traceback|database is locked|server_error|WORKER TIMEOUT|\[ERROR\]"
        )

    print("\nmedian of the timed runs")
    print(table(results, scenarios))
    notes = [
        "Each request: a new private_key_jwt assertion and a new DPoP proof (ES256, unique jti, used once),"
        " signed before the timed run and replayed by wrk.",
        f"refresh: {args.grants} grants prepared per server; every refresh token is used exactly once"
        " (rotation) and the rotated one goes back into the queue, so a run refreshes each grant many times.",
        "Senim persists every replay check (assertion jti, DPoP jti), every issued token and every rotation"
        " in SQLite; the reference keeps them in memory (oidc-provider's MemoryAdapter, one process; its"
        " default LRU of 1,000 entries is lifted, as it evicts live grants and replay entries under load).",
        "Server and wrk share the same CPUs; see server/wrk CPU per run above.",
    ]
    if "reference" in targets:
        notes.append(f"reference: {targets['reference'].description}.")
    for note in notes:
        print(f"- {note}")

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out = RESULTS / f"token_endpoint-{stamp}.json"
    report = {
        "created": stamp,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "options": vars(args),
        "servers": {name: t.description for name, t in targets.items()},
        "notes": notes,
        "summary": [summary_row(results, scenario) for scenario in scenarios],
        "runs": [asdict(r) for result in results.values() for r in result.runs],
    }
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results: {out.relative_to(ROOT)}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        first = failures[0]
        total = sum(f.errors + f.socket_errors for f in failures)
        print(
            f"\nINVALID: {total} failed requests ({len(failures)} runs); first, {first.target} "
            f"{first.scenario}: {first.first_error}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
