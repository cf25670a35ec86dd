"""An API user's receiver of Security Event Tokens: a real HTTP server on
127.0.0.1 that can be told to accept (202), fail (503), refuse (400 with an
RFC 8935 error), redirect, or be down (its port closed)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from joserfc import jwt
from joserfc.jwk import KeySet

ACCEPT = "accept"
FAIL = "fail"
REFUSE = "refuse"
REDIRECT = "redirect"
#: what a refusal's free text says; it must never reach Senim's records
REFUSAL_DESCRIPTION = "signature by kid abc failed; customer 880101300123"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: str


class SetReceiver:
    def __init__(self) -> None:
        self.mode = ACCEPT
        self.redirect_to = "http://127.0.0.1:9/"
        self.refusal_err = "invalid_key"  # RFC 8935 §2.4 code a refusal carries
        self.received: list[Received] = []
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/senim-events"

    def up(self, mode: str | None = None) -> None:
        """Listen (again, on the same port)."""
        if mode is not None:
            self.mode = mode
        if self._server is not None:
            return
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                with receiver._lock:
                    receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                if receiver.mode == ACCEPT:
                    self.send_response(202)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif receiver.mode == REFUSE:
                    answer = json.dumps(
                        {"err": receiver.refusal_err, "description": REFUSAL_DESCRIPTION}
                    ).encode()
                    self.send_response(400)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                elif receiver.mode == REDIRECT:
                    self.send_response(307)
                    self.send_header("Location", receiver.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    answer = b"upstream unavailable: secret-detail"
                    self.send_response(503)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                receiver.arrived.set()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Stop listening: connections to the port are refused."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self._server = None

    def tokens(self) -> list[str]:
        with self._lock:
            return [r.body for r in self.received]


def verify_set(token: str, jwks: dict) -> jwt.Token:
    """A SET as its receiver checks it: signed by a key of the platform's JWKS."""
    return jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["ES256", "PS256"])
