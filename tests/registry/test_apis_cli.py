"""`senim apis …` as operators use it, and the demo seed's routing tables."""

from __future__ import annotations

import json
import sqlite3

from tests.registry.test_participants_cli import BANK_BIN, FINTECH_BIN, _add, _client_args, senim  # noqa: F401


def test_add_publish_subscribe_list(senim, tmp_path) -> None:  # noqa: F811
    bank = json.loads(_add(senim, "Altyn", BANK_BIN, "api_provider").output)["id"]
    fintech = json.loads(_add(senim, "Budget", FINTECH_BIN, "api_user").output)["id"]
    client = senim(*_client_args(tmp_path, fintech), "--client-id", "budget-app")
    assert client.exit_code == 0, client.output
    added = senim("apis", "add", "--provider", bank, "--base-url", "http://127.0.0.1:8101")
    assert added.exit_code == 0, added.output
    api = json.loads(added.output)
    assert api["status"] == "unpublished"
    assert senim("apis", "publish", api["id"]).exit_code == 0
    subscribed = senim("apis", "subscribe", "--client", "budget-app", "--api", api["id"])
    assert subscribed.exit_code == 0, subscribed.output
    [listed] = [json.loads(line) for line in senim("apis", "list").output.splitlines()]
    assert listed["status"] == "published"
    assert listed["subscriptions"] == [
        {"client_id": "budget-app", "participant_id": fintech, "status": "active"}
    ]
    assert senim("apis", "unpublish", api["id"]).exit_code == 0
    assert json.loads(senim("apis", "list").output)["status"] == "unpublished"


def test_refusals_are_clear(senim) -> None:  # noqa: F811
    missing = senim("apis", "add", "--provider", "nope", "--base-url", "http://127.0.0.1:8101")
    assert missing.exit_code != 0 and "no participant" in missing.output
    assert "no client" in senim("apis", "subscribe", "--client", "x", "--api", "y").output
    assert "no API" in senim("apis", "publish", "y").output


def test_the_demo_seed_publishes_the_demo_banks_and_subscribes_the_demo_app(senim) -> None:  # noqa: F811
    assert senim("demo", "seed").exit_code == 0
    again = senim("demo", "seed")
    assert again.exit_code == 0 and "demo API present" in again.output
    apis = [json.loads(line) for line in senim("apis", "list").output.splitlines()]
    assert sorted(a["base_url"] for a in apis) == [f"http://127.0.0.1:{p}" for p in (8101, 8102, 8103)]
    assert all(a["status"] == "published" for a in apis)
    assert all([s["client_id"] for s in a["subscriptions"]] == ["senim-demo-app"] for a in apis)
    client = next(json.loads(line) for line in senim("clients", "list").output.splitlines())
    assert client["notification_uri"] == "http://127.0.0.1:8080/events"
    assert "http://127.0.0.1:8080/callback" in client["redirect_uris"]
    assert "http://127.0.0.1:8001/callback" in client["redirect_uris"]


def test_a_demo_client_seeded_before_the_demo_app_gets_its_addresses(senim, tmp_path) -> None:  # noqa: F811
    assert senim("demo", "seed").exit_code == 0
    with sqlite3.connect(tmp_path / "senim.db") as connection:
        connection.execute(
            "UPDATE oauth_clients SET notification_uri = NULL, redirect_uris = ?",
            (json.dumps(["http://127.0.0.1:8001/callback"]),),
        )
    reseeded = senim("demo", "seed")
    assert "redirect URI http://127.0.0.1:8080/callback added" in reseeded.output
    client = next(json.loads(line) for line in senim("clients", "list").output.splitlines())
    assert client["redirect_uris"] == ["http://127.0.0.1:8001/callback", "http://127.0.0.1:8080/callback"]
    assert client["notification_uri"] == "http://127.0.0.1:8080/events"


def test_submit_runs_the_suite_and_refuses_a_sandbox_that_is_down(senim) -> None:  # noqa: F811
    from tests.resource_proxy.conftest import closed_port

    bank = json.loads(_add(senim, "Altyn", BANK_BIN, "api_provider").output)["id"]
    sandbox = f"http://127.0.0.1:{closed_port()}"
    submitted = senim(
        "apis", "submit", "--provider", bank, "--base-url", "http://127.0.0.1:8101",
        "--sandbox-url", sandbox, "--description", "Altyn accounts",
    )  # fmt: skip
    assert submitted.exit_code != 0
    assert "refused: failed sandbox_reachable" in submitted.output
    printed = json.loads(submitted.output.splitlines()[0])
    assert printed["api"]["status"] == "refused"
    assert printed["api"]["sandbox_customer_iin"] == "900101300017"  # the reference banks' test customer
    assert printed["check"]["trigger"] == "submission"
    api_id = printed["api"]["id"]
    rechecked = senim("apis", "recheck", api_id)
    assert rechecked.exit_code != 0 and "refused" in rechecked.output
    runs = [json.loads(line) for line in senim("apis", "checks", api_id).output.splitlines()]
    # newest first; both ran within the same second here, so only the set is certain
    assert sorted(r["trigger"] for r in runs) == ["manual", "submission"]


def test_submit_refuses_bad_input_clearly(senim) -> None:  # noqa: F811
    bank = json.loads(_add(senim, "Altyn", BANK_BIN, "api_provider").output)["id"]
    bad = senim(
        "apis", "submit", "--provider", bank, "--base-url", "http://127.0.0.1:8101",
        "--sandbox-url", "http://127.0.0.1:8101", "--description", "x", "--sandbox-iin", "123",
    )  # fmt: skip
    assert bad.exit_code != 0 and "sandbox test customer" in bad.output
    assert senim("apis", "list").output == ""
    assert "no API" in senim("apis", "checks", "nope").output
