"""`senim participants …` and `senim clients add --participant`, as operators use them."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner
from joserfc.jwk import ECKey

from biometrics.iin import iin_check_digit
from senim.cli import main

BANK_BIN = "99014000001" + str(iin_check_digit("99014000001"))
FINTECH_BIN = "15074000004" + str(iin_check_digit("15074000004"))


@pytest.fixture
def senim(tmp_path):
    """Run the command against a fresh, migrated data directory."""
    runner = CliRunner()
    env = {"SENIM_DATA_DIR": str(tmp_path), "SENIM_ISSUER": "http://senim.test"}
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    return lambda *args: runner.invoke(main, list(args), env=env)


def _add(senim, name: str, bin_: str, *roles: str):
    args = ["participants", "add", "--name", name, "--bin", bin_]
    for role in roles:
        args += ["--role", role]
    return senim(*args)


def _client_args(tmp_path, participant_id: str) -> list[str]:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [ECKey.generate_key("P-256").as_dict(private=False)]}))
    return [
        "clients",
        "add",
        "--name",
        "Fintech app",
        "--jwks-file",
        str(jwks),
        "--redirect-uri",
        "https://app.example/cb",
        "--participant",
        participant_id,
    ]


def test_add_list_block_and_unblock(senim) -> None:
    added = _add(senim, "Nur Bank", BANK_BIN, "api_provider")
    assert added.exit_code == 0, added.output
    bank = json.loads(added.output)
    assert (bank["name"], bank["bin"], bank["roles"], bank["status"]) == (
        "Nur Bank",
        BANK_BIN,
        ["api_provider"],
        "active",
    )
    both = json.loads(_add(senim, "Altyn Fintech", FINTECH_BIN, "api_user", "api_provider").output)
    assert both["roles"] == ["api_user", "api_provider"]

    listed = [json.loads(line) for line in senim("participants", "list").output.splitlines()]
    assert [p["name"] for p in listed] == ["Altyn Fintech", "Nur Bank"]

    blocked = senim("participants", "block", bank["id"], "--reason", "licence suspended")
    assert blocked.exit_code == 0, blocked.output
    assert f"{bank['id']} blocked" in blocked.output
    [row] = [json.loads(line) for line in senim("participants", "list").output.splitlines()][1:]
    assert (row["status"], row["status_reason"]) == ("blocked", "licence suspended")

    unblocked = senim("participants", "unblock", bank["id"])
    assert unblocked.exit_code == 0, unblocked.output
    [row] = [json.loads(line) for line in senim("participants", "list").output.splitlines()][1:]
    assert (row["status"], row["status_reason"]) == ("active", None)


def test_a_bad_bin_is_refused_with_the_reason(senim) -> None:
    wrong = BANK_BIN[:11] + str((int(BANK_BIN[11]) + 1) % 10)
    result = _add(senim, "Nur Bank", wrong, "api_provider")
    assert result.exit_code != 0
    assert f"BIN {wrong}: wrong check digit" in result.output
    assert senim("participants", "list").output.strip() == ""


def test_the_same_bin_twice_is_refused(senim) -> None:
    _add(senim, "Nur Bank", BANK_BIN, "api_provider")
    result = _add(senim, "Nur Bank again", BANK_BIN, "api_provider")
    assert result.exit_code != 0
    assert "already registered" in result.output


def test_a_role_is_required_and_must_be_known(senim) -> None:
    assert _add(senim, "Nur Bank", BANK_BIN).exit_code != 0
    result = _add(senim, "Nur Bank", BANK_BIN, "admin")
    assert result.exit_code != 0
    assert "api_provider" in result.output


def test_blocking_an_unknown_participant_says_so(senim) -> None:
    nobody = str(uuid.uuid4())
    result = senim("participants", "block", nobody, "--reason", "x")
    assert result.exit_code != 0
    assert f"no participant {nobody}" in result.output
    result = senim("participants", "unblock", "not-an-id")
    assert result.exit_code != 0
    assert "no participant not-an-id" in result.output


def test_a_block_needs_a_reason(senim) -> None:
    bank = json.loads(_add(senim, "Nur Bank", BANK_BIN, "api_provider").output)
    assert senim("participants", "block", bank["id"]).exit_code != 0
    result = senim("participants", "block", bank["id"], "--reason", "  ")
    assert result.exit_code != 0
    assert "reason" in result.output


def test_a_client_belongs_to_an_active_api_user(senim, tmp_path) -> None:
    fintech = json.loads(_add(senim, "Fintech", FINTECH_BIN, "api_user").output)
    added = senim(*_client_args(tmp_path, fintech["id"]))
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["participant_id"] == fintech["id"]
    [listed] = [json.loads(line) for line in senim("clients", "list").output.splitlines()]
    assert listed["participant_id"] == fintech["id"]


def test_a_client_of_an_unknown_participant_is_refused(senim, tmp_path) -> None:
    nobody = str(uuid.uuid4())
    result = senim(*_client_args(tmp_path, nobody))
    assert result.exit_code != 0
    assert f"no participant {nobody}" in result.output
    assert senim("clients", "list").output.strip() == ""


def test_a_client_of_a_blocked_participant_is_refused(senim, tmp_path) -> None:
    fintech = json.loads(_add(senim, "Fintech", FINTECH_BIN, "api_user").output)
    senim("participants", "block", fintech["id"], "--reason", "unpaid")
    result = senim(*_client_args(tmp_path, fintech["id"]))
    assert result.exit_code != 0
    assert f"participant {fintech['id']} is blocked" in result.output
    assert senim("clients", "list").output.strip() == ""


def test_a_client_of_a_bank_only_is_refused(senim, tmp_path) -> None:
    bank = json.loads(_add(senim, "Nur Bank", BANK_BIN, "api_provider").output)
    result = senim(*_client_args(tmp_path, bank["id"]))
    assert result.exit_code != 0
    assert "is not an API user" in result.output
