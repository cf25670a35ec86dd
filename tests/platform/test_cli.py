"""The senim command, as operators and scripts use it."""

from __future__ import annotations

import json
import sqlite3

from click.testing import CliRunner
from joserfc.jwk import ECKey

from senim.cli import main
from senim.demo import DEMO_APPLICANT, DEMO_BANKS, DEMO_FINTECH


def _env(tmp_path) -> dict:
    return {"SENIM_DATA_DIR": str(tmp_path), "SENIM_ISSUER": "http://senim.test"}


def test_db_upgrade_demo_seed_and_clients_add(tmp_path) -> None:
    runner = CliRunner()
    env = _env(tmp_path)
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    seeded = runner.invoke(main, ["demo", "seed"], env=env)
    assert seeded.exit_code == 0, seeded.output
    assert "senim-demo-app" in seeded.output
    again = runner.invoke(main, ["demo", "seed"], env=env)
    assert "present" in again.output
    key_file = tmp_path / "demo" / "demo-app-private.jwk.json"
    assert key_file.stat().st_mode & 0o077 == 0

    # The demo banks and fintech, once each; the demo client belongs to the fintech.
    participants = [
        json.loads(line)
        for line in runner.invoke(main, ["participants", "list"], env=env).output.splitlines()
    ]
    expected = [(name, bin_, ["api_provider"]) for name, bin_ in DEMO_BANKS] + [(*DEMO_FINTECH, ["api_user"])]
    expected.append((*DEMO_APPLICANT, []))  # registered itself, waiting to be accredited
    assert sorted((p["name"], p["bin"], p["roles"]) for p in participants) == sorted(expected)
    assert {p["name"]: p["status"] for p in participants}[DEMO_APPLICANT[0]] == "registered"
    assert all(p["status"] == "active" for p in participants if p["name"] != DEMO_APPLICANT[0])
    fintech_id = next(p["id"] for p in participants if p["name"] == DEMO_FINTECH[0])
    demo_client = _listed_client(runner, env, "senim-demo-app")
    assert demo_client["participant_id"] == fintech_id

    # A demo client seeded before the registry existed joins the demo fintech.
    with sqlite3.connect(tmp_path / "senim.db") as connection:
        connection.execute("UPDATE oauth_clients SET participant_id = NULL")
    rejoined = runner.invoke(main, ["demo", "seed"], env=env)
    assert "now belongs to Senim Demo Fintech" in rejoined.output
    assert _listed_client(runner, env, "senim-demo-app")["participant_id"] == fintech_id

    jwks = tmp_path / "jwks.json"
    public = ECKey.generate_key("P-256").as_dict(private=False)
    jwks.write_text(json.dumps({"keys": [public]}))
    added = runner.invoke(
        main,
        [
            "clients",
            "add",
            "--name",
            "Kaspi test",
            "--jwks-file",
            str(jwks),
            "--redirect-uri",
            "https://app.example/cb",
            "--scope",
            "openid accounts",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
        ],
        env=env,
    )
    assert added.exit_code == 0, added.output
    client = json.loads(added.output)
    assert client["client_id"].startswith("senim-")
    assert client["token_endpoint_auth_method"] == "private_key_jwt"
    listed = runner.invoke(main, ["clients", "list"], env=env)
    assert client["client_id"] in listed.output


def _listed_client(runner: CliRunner, env: dict, client_id: str) -> dict:
    listed = runner.invoke(main, ["clients", "list"], env=env).output.splitlines()
    return next(c for c in map(json.loads, listed) if c["client_id"] == client_id)


def _add_client(runner: CliRunner, env: dict, jwks_file, redirect_uri: str):
    args = ["clients", "add", "--name", "x", "--jwks-file", str(jwks_file), "--redirect-uri", redirect_uri]
    return runner.invoke(main, args, env=env)


def test_clients_add_refuses_a_private_key_and_bad_redirects(tmp_path) -> None:
    runner = CliRunner()
    env = _env(tmp_path)
    runner.invoke(main, ["db", "upgrade"], env=env)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [ECKey.generate_key("P-256").as_dict(private=True)]}))
    result = _add_client(runner, env, jwks, "https://app.example/cb")
    assert result.exit_code != 0
    assert "private key" in result.output
    jwks.write_text(json.dumps({"keys": [ECKey.generate_key("P-256").as_dict(private=False)]}))
    result = _add_client(runner, env, jwks, "http://app.example/cb")
    assert result.exit_code != 0
    assert "https" in result.output
    result = runner.invoke(main, ["clients", "list"], env=env)
    assert result.output.strip() == ""


def test_keys_rotate_keeps_old_key_published(tmp_path) -> None:
    runner = CliRunner()
    env = _env(tmp_path)
    runner.invoke(main, ["db", "upgrade"], env=env)
    before = [json.loads(line) for line in runner.invoke(main, ["keys", "list"], env=env).output.splitlines()]
    rotated = json.loads(runner.invoke(main, ["keys", "rotate"], env=env).output.splitlines()[-1])
    after = [json.loads(line) for line in runner.invoke(main, ["keys", "list"], env=env).output.splitlines()]
    assert len(after) == len(before) + 1
    assert after[0]["kid"] == rotated["kid"]
    assert all(k["published"] for k in after)
    assert after[1]["retired_at"] is not None


def test_bad_setting_is_a_clear_cli_error(tmp_path) -> None:
    result = CliRunner().invoke(
        main, ["clients", "list"], env={**_env(tmp_path), "SENIM_SIGNING_ALG": "none"}
    )
    assert result.exit_code != 0
    assert "SENIM_SIGNING_ALG" in result.output
