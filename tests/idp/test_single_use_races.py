"""Single-use things stay single-use when requests race (several workers or
nodes): exactly one of concurrent requests wins."""

from __future__ import annotations

import threading

from tests.support import flow

RACERS = 6


def _race(app, send) -> list[int]:
    barrier = threading.Barrier(RACERS)
    statuses: list[int] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        client = app.test_client()
        barrier.wait(timeout=10)
        status = send(client, index)
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(statuses)


def test_a_code_raced_by_several_requests_is_redeemed_once(app, api_user) -> None:
    params = flow.authorize(api_user)
    bodies = [
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": "https://app.example/cb",
            "code_verifier": api_user.verifier,
            **api_user.client_auth(),
        }
        for _ in range(RACERS)
    ]
    proofs = [api_user.dpop("POST", "/token") for _ in range(RACERS)]

    def send(client, i: int) -> int:
        return client.post("/token", data=bodies[i], headers={"DPoP": proofs[i]}).status_code

    assert _race(app, send) == [200] + [400] * (RACERS - 1)


def test_a_request_uri_raced_by_several_browsers_starts_one_interaction(app, api_user) -> None:
    request_uri = api_user.par().get_json()["request_uri"]

    def send(client, i: int) -> int:
        return client.get(
            "/authorize",
            query_string={"client_id": "app-1", "request_uri": request_uri},
            headers={"Accept": "application/json"},
        ).status_code

    assert _race(app, send) == [303] + [400] * (RACERS - 1)


def test_a_client_assertion_raced_by_several_requests_is_accepted_once(app, api_user) -> None:
    auth = api_user.client_auth()
    proofs = [api_user.dpop("POST", "/token") for _ in range(RACERS)]

    def send(client, i: int) -> int:
        data = {"grant_type": "client_credentials", "scope": "consents", **auth}
        return client.post("/token", data=data, headers={"DPoP": proofs[i]}).status_code

    statuses = _race(app, send)
    assert statuses.count(200) == 1
    assert all(s in (400, 401) for s in statuses if s != 200)
