"""Consent events from the command line: registering notification URIs (and
the addresses refused), delivering the outbox, listing what waits."""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest
from click.testing import CliRunner
from joserfc.jwk import ECKey

from idp.clients import ClientRegistrationError, validate_notification_uri
from senim.cli import main
from senim.settings import Settings, SettingsError
from tests.support.set_receiver import ACCEPT, FAIL, SetReceiver


def _env(tmp_path, **extra: str) -> dict:
    return {"SENIM_DATA_DIR": str(tmp_path), "SENIM_ISSUER": "http://senim.test", **extra}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def env(tmp_path, runner) -> dict:
    env = _env(tmp_path)
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    return env


@pytest.fixture
def receiver():
    receiver = SetReceiver()
    yield receiver
    receiver.down()


def _add_client(runner, env, tmp_path, *extra: str):
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [ECKey.generate_key("P-256").as_dict(private=False)]}))
    args = ["clients", "add", "--name", "Fintech", "--jwks-file", str(jwks)]
    args += ["--redirect-uri", "https://app.example/cb", "--client-id", "fintech-app", *extra]
    return runner.invoke(main, args, env=env)


def _listed(runner, env, *args: str) -> list[dict]:
    answer = runner.invoke(main, list(args), env=env)
    assert answer.exit_code == 0, answer.output
    return [json.loads(line) for line in answer.output.splitlines()]


def _ended_consent(env: dict) -> str:
    """A consent of fintech-app that its API user ended (the change queues its event)."""
    from idp.consents.lifecycle import change_status, record_creation
    from idp.consents.models import Consent
    from senim import clock
    from senim.app import create_app
    from senim.database import db

    with create_app(Settings.from_env(env)).app_context():
        now = clock.now_int()
        consent = Consent(
            id=str(uuid.uuid4()),
            client_id="fintech-app",
            permissions=["ReadAccountsBasic"],
            provider_ids=["bank"],
            purpose="budget",
            expires_at=now + 3600,
            status="AwaitingAuthorisation",
            created_at=now,
            status_updated_at=now,
        )
        db.session.add(consent)
        record_creation(consent, "fintech-app")
        change_status(consent, "Rejected", actor="api_user", reason="API_USER_ENDED")
        db.session.commit()
        return consent.id


def test_a_client_registered_with_a_notification_uri_shows_it(runner, env, tmp_path) -> None:
    added = _add_client(runner, env, tmp_path, "--notification-uri", "https://fintech.example/senim-events")
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["notification_uri"] == "https://fintech.example/senim-events"
    [listed] = _listed(runner, env, "clients", "list")
    assert listed["notification_uri"] == "https://fintech.example/senim-events"


def test_clients_add_refuses_a_plain_http_notification_uri(runner, env, tmp_path) -> None:
    added = _add_client(runner, env, tmp_path, "--notification-uri", "http://fintech.example/senim-events")
    assert added.exit_code != 0
    assert "notification URI must be an absolute https URL" in added.output
    assert _listed(runner, env, "clients", "list") == []


def test_the_notification_uri_is_set_changed_and_removed(runner, env, tmp_path) -> None:
    assert _add_client(runner, env, tmp_path).exit_code == 0
    assert _listed(runner, env, "clients", "list")[0]["notification_uri"] is None
    cmd = ["clients", "set-notification-uri", "fintech-app"]
    answer = runner.invoke(main, [*cmd, "https://fintech.example/events"], env=env)
    assert answer.exit_code == 0, answer.output
    assert _listed(runner, env, "clients", "list")[0]["notification_uri"] == "https://fintech.example/events"
    answer = runner.invoke(main, [*cmd, "--remove"], env=env)
    assert answer.exit_code == 0, answer.output
    assert _listed(runner, env, "clients", "list")[0]["notification_uri"] is None

    neither = runner.invoke(main, cmd, env=env)
    assert neither.exit_code != 0 and "either a URI or --remove" in neither.output
    unknown = runner.invoke(
        main, ["clients", "set-notification-uri", "nobody", "https://x.example/"], env=env
    )
    assert unknown.exit_code != 0 and "no client nobody" in unknown.output


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("http://fintech.example/events", "absolute https URL"),
        ("ftp://fintech.example/events", "absolute https URL"),
        ("/events", "absolute https URL"),
        ("https://user:pw@fintech.example/events", "credentials"),
        ("https://fintech.example/events#here", "fragment"),
        ("https://fintech.example:99999/events", "not a valid URL"),
        ("", "1 to 2000 characters"),
    ],
)
def test_set_notification_uri_refuses_addresses_that_are_not_https(
    runner, env, tmp_path, uri, message
) -> None:
    assert (
        _add_client(runner, env, tmp_path, "--notification-uri", "https://fintech.example/ok").exit_code == 0
    )
    answer = runner.invoke(main, ["clients", "set-notification-uri", "fintech-app", uri], env=env)
    assert answer.exit_code != 0
    assert message in answer.output
    assert _listed(runner, env, "clients", "list")[0]["notification_uri"] == "https://fintech.example/ok"


@pytest.mark.parametrize(
    "uri", ["http://127.0.0.1:8080/events", "http://localhost/events", "http://[::1]:9000/events"]
)
def test_http_to_this_machine_is_allowed_outside_production_only(uri) -> None:
    assert validate_notification_uri(uri, production=False) == uri
    with pytest.raises(ClientRegistrationError):
        validate_notification_uri(uri, production=True)


@pytest.mark.parametrize(
    "uri",
    [
        "https://127.0.0.1/events",
        "https://localhost/events",
        "https://10.1.2.3/events",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00::1]/events",
    ],
)
def test_production_refuses_https_to_addresses_that_are_not_public(uri) -> None:
    with pytest.raises(ClientRegistrationError, match="public host"):
        validate_notification_uri(uri, production=True)
    assert validate_notification_uri("https://fintech.example/events", production=True)


def test_production_cli_refuses_a_loopback_notification_uri(runner, tmp_path) -> None:
    env = _env(tmp_path, SENIM_ENV="production", SENIM_ISSUER="https://senim.test")
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    assert _add_client(runner, env, tmp_path).exit_code == 0
    answer = runner.invoke(
        main, ["clients", "set-notification-uri", "fintech-app", "http://127.0.0.1:8080/e"], env=env
    )
    assert answer.exit_code != 0 and "http only for localhost outside production" in answer.output


def test_deliver_sends_what_is_due_and_list_shows_what_waits(runner, env, tmp_path, receiver) -> None:
    assert _add_client(runner, env, tmp_path, "--notification-uri", receiver.url).exit_code == 0
    consent_id = _ended_consent(env)

    [waiting] = _listed(runner, env, "notifications", "list", "--pending")
    assert (waiting["consent_id"], waiting["client_id"], waiting["attempts"]) == (
        consent_id,
        "fintech-app",
        0,
    )
    assert waiting["event_type"] == "https://senim.kz/secevents/consent/rejected"
    assert waiting["delivered_at"] is None

    receiver.mode = FAIL
    answer = runner.invoke(main, ["notifications", "deliver"], env=env)
    assert answer.exit_code == 0, answer.output
    assert json.loads(answer.output) == {"delivered": 0, "failed": 1}
    [waiting] = _listed(runner, env, "notifications", "list", "--pending")
    assert (waiting["attempts"], waiting["last_error"]) == (1, "HTTP 503")
    assert waiting["next_attempt_at"] > waiting["occurred_at"]

    # not due yet: nothing is sent
    assert json.loads(runner.invoke(main, ["notifications", "deliver"], env=env).output)["failed"] == 0
    assert len(receiver.received) == 1

    # its time comes (moved in the database: the CLI runs on the system clock)
    with sqlite3.connect(tmp_path / "senim.db") as connection:
        connection.execute("UPDATE security_events SET next_attempt_at = 0")
    receiver.mode = ACCEPT
    answer = runner.invoke(main, ["notifications", "deliver"], env=env)
    assert json.loads(answer.output) == {"delivered": 1, "failed": 0}
    assert _listed(runner, env, "notifications", "list", "--pending") == []
    [done] = _listed(runner, env, "notifications", "list")
    assert done["delivered_at"] is not None and done["attempts"] == 2 and done["next_attempt_at"] is None


def test_the_delivery_interval_is_a_setting() -> None:
    assert Settings.from_env({}).notify_interval == 5
    assert Settings.from_env({"SENIM_NOTIFY_INTERVAL": "0"}).notify_interval == 0
    with pytest.raises(SettingsError, match="SENIM_NOTIFY_INTERVAL"):
        Settings.from_env({"SENIM_NOTIFY_INTERVAL": "-1"})
