"""Interoperability with an independent relying party: openid-client v6 (Node).

``openid_client_flow.mjs`` discovers the live server, authenticates with
``private_key_jwt``, binds every token to a DPoP key, and runs
client_credentials, PAR + PKCE + the code flow (checking ``iss`` of RFC 9207,
``state``, the ID token and its ``nonce``), refresh with rotation, and
userinfo. This test plays the customer's browser in between.

Needs Node.js and ``tests/interop/node_modules`` (``make interop-deps``);
without them the test skips locally (in CI a skip fails the run).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from idp.models import IssuedToken
from senim.database import db
from tests.interop.conftest import ACR, AMR, SUBJECT, LiveServer, RegisteredClient, act_as_browser

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "openid_client_flow.mjs"
#: The whole run of the Node client, and each wait for one of its lines.
RUN_TIMEOUT = 30
LINE_TIMEOUT = 15
CLIENT_ID = "interop-openid-client"


@pytest.fixture
def node() -> str:
    """The Node.js binary, with openid-client installed next to this file."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the openid-client interop test needs node >= 20")
    if not (HERE / "node_modules" / "openid-client" / "package.json").is_file():
        pytest.skip(
            "tests/interop/node_modules is missing: run `make interop-deps` (npm ci in tests/interop)"
        )
    return node


class NodeClient:
    """The Node process, read line by line with a timeout on every wait."""

    def __init__(self, node: str, config: dict) -> None:
        env = dict(os.environ, SENIM_INTEROP_CONFIG=json.dumps(config), NO_COLOR="1")
        self.process = subprocess.Popen(
            [node, str(SCRIPT)],
            cwd=HERE,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._pump_stdout, daemon=True),
            threading.Thread(target=self._pump_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _pump_stdout(self) -> None:
        for line in self.process.stdout:
            self.stdout.put(line)
        self.stdout.put(None)

    def _pump_stderr(self) -> None:
        for line in self.process.stderr:
            self.stderr.append(line)

    def diagnostics(self) -> str:
        for reader in self._readers:
            reader.join(timeout=LINE_TIMEOUT)
        return f"exit code {self.process.poll()}; stderr:\n{''.join(self.stderr)}"

    def next_json(self) -> dict:
        try:
            line = self.stdout.get(timeout=LINE_TIMEOUT)
        except queue.Empty:
            pytest.fail(f"openid-client printed nothing within {LINE_TIMEOUT} s")
        if line is None:
            self.process.wait(timeout=LINE_TIMEOUT)
            pytest.fail(f"openid-client stopped early: {self.diagnostics()}")
        return json.loads(line)

    def send(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def finish(self) -> int:
        self.process.stdin.close()
        return self.process.wait(timeout=RUN_TIMEOUT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=LINE_TIMEOUT)


def run_openid_client(node: str, live: LiveServer, client: RegisteredClient) -> tuple[dict, dict, str]:
    """Run the Node client through the whole flow; its client_credentials line,
    its final line, and the callback URL the browser ended on."""
    runner = NodeClient(
        node,
        {
            "issuer": live.issuer,
            "client_id": client.client_id,
            "private_jwk": client.private_jwk(),
            "redirect_uri": client.redirect_uri,
        },
    )
    try:
        client_credentials = runner.next_json()
        assert client_credentials.get("step") == "client_credentials", client_credentials
        started = runner.next_json()
        assert "authorization_url" in started, started
        callback = act_as_browser(live, started["authorization_url"])
        runner.send(callback)
        final = runner.next_json()
        code = runner.finish()
        assert code == 0, runner.diagnostics()
        assert final.get("step") == "final", final
        return client_credentials, final, callback
    finally:
        runner.stop()


# The same flow against a server that also demands server-provided DPoP
# nonces (RFC 9449 §8, §9): openid-client must retry with the nonce.
@pytest.mark.parametrize(
    "live_server", [{}, {"dpop_require_nonce": True}], ids=["dpop", "dpop-nonce"], indirect=True
)
def test_openid_client_runs_the_whole_flow(node: str, live_server: LiveServer, register_client) -> None:
    started_at = time.monotonic()
    client = register_client(CLIENT_ID)
    client_credentials, final, callback = run_openid_client(node, live_server, client)

    # Discovery as openid-client read it.
    assert final["discovery"]["issuer"] == live_server.issuer
    assert final["discovery"]["authorization_response_iss_parameter_supported"] is True
    assert final["discovery"]["require_pushed_authorization_requests"] is True

    # client_credentials: DPoP-bound to the client's proof key (RFC 9449 §5, §6.1).
    assert client_credentials["token_type"].lower() == "dpop"
    assert client_credentials["scope"] == "consents"
    assert client_credentials["has_refresh_token"] is False
    assert client_credentials["cnf_jkt"] == final["dpop_jkt"]

    # The authorization response carried code, state and iss (RFC 9207 §2).
    assert callback.startswith(client.redirect_uri + "?")
    assert final["authorization_response"] == {
        "has_code": True,
        "state_matched": True,
        "iss": live_server.issuer,
    }

    # The code exchange: openid-client validated the ID token, nonce included.
    assert final["code"]["token_type"].lower() == "dpop"
    assert final["code"]["has_id_token"] is True
    assert final["code"]["has_refresh_token"] is True
    assert final["code"]["cnf_jkt"] == final["dpop_jkt"]
    assert set(final["code"]["scope"].split()) == {"openid", "accounts"}
    id_token = final["id_token"]
    assert id_token["iss"] == live_server.issuer
    assert id_token["sub"] == SUBJECT
    assert id_token["aud"] == CLIENT_ID
    assert id_token["azp"] == CLIENT_ID
    assert id_token["nonce_matched"] is True
    assert id_token["acr"] == ACR
    assert id_token["amr"] == AMR

    # Refresh: rotated, still bound to the same DPoP key; the old one is refused.
    assert final["refresh"]["token_type"].lower() == "dpop"
    assert final["refresh"]["rotated"] is True
    assert final["refresh"]["cnf_jkt"] == final["dpop_jkt"]
    assert final["old_refresh_token_error"] == "invalid_grant"

    # UserInfo with the refreshed token, subject checked by openid-client too.
    assert final["userinfo"] == {"sub": SUBJECT}

    # On the wire: a DPoP proof on every token, PAR and userinfo request, the
    # DPoP scheme at userinfo (RFC 9449 §7.1), token_type exactly "DPoP".
    requests_seen = final["requests"]
    for entry in requests_seen:
        if entry["path"] in ("/token", "/par", "/userinfo"):
            assert entry["dpop_proof"] is True, entry
    token_types = {e["token_type"] for e in requests_seen if e["path"] == "/token" and e["status"] == 200}
    assert token_types == {"DPoP"}
    userinfo_calls = [e for e in requests_seen if e["path"] == "/userinfo"]
    assert userinfo_calls and all(e["authorization_scheme"] == "DPoP" for e in userinfo_calls)
    assert userinfo_calls[-1]["status"] == 200
    if live_server.app.extensions["senim.settings"].dpop_require_nonce:
        # openid-client learnt the nonce from the first refusal and retried.
        refused = [e for e in requests_seen if e.get("error") == "use_dpop_nonce"]
        assert refused, requests_seen
        assert all(e["status"] in (400, 401) for e in refused)

    # What the server recorded: every access token bound to openid-client's key.
    with live_server.app.app_context():
        records = db.session.scalars(select(IssuedToken).where(IssuedToken.client_id == CLIENT_ID)).all()
        assert {r.dpop_jkt for r in records} == {final["dpop_jkt"]}
        assert {r.subject for r in records if r.authorization_id is not None} == {SUBJECT}

    assert time.monotonic() - started_at < 10
