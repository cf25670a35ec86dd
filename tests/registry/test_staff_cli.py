"""`senim staff` and the demo staff: invitations from the command line, the demo's sign-in codes."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from senim.app import create_app
from senim.cli import main
from senim.settings import Settings
from tests.support.staff import STAFF_ORIGIN, staff_browser


def _senim(tmp_path):
    env = {"SENIM_DATA_DIR": str(tmp_path), "SENIM_ISSUER": STAFF_ORIGIN}
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    return env, lambda *args: runner.invoke(main, list(args), env=env)


def test_the_first_operator_is_invited_from_the_command_line(tmp_path):
    _env, senim = _senim(tmp_path)
    invited = senim("staff", "invite-operator", "--email", "First@Senim.kz", "--name", "Aliya")
    assert invited.exit_code == 0, invited.output
    record = json.loads(invited.output.splitlines()[0])
    assert (record["email"], record["role"], record["status"]) == ("first@senim.kz", "operator", "invited")
    assert re.search(rf"{STAFF_ORIGIN}/registry/join/[A-Za-z0-9_-]{{43}}$", invited.output.strip())
    again = senim("staff", "invite-operator", "--email", "first@senim.kz")
    assert again.exit_code != 0 and "already has a Senim staff account" in again.output
    listed = senim("staff", "list")
    assert [json.loads(line)["email"] for line in listed.output.splitlines()] == ["first@senim.kz"]


def test_inviting_staff_of_an_unknown_participant_is_refused(tmp_path):
    _env, senim = _senim(tmp_path)
    refused = senim(
        "staff", "invite", "--participant", "00000000-0000-4000-8000-000000000000", "--email", "a@b.kz"
    )
    assert refused.exit_code != 0 and "no participant" in refused.output


def test_a_newcomer_signs_in_as_the_demo_operator_with_the_printed_code(tmp_path):
    env, senim = _senim(tmp_path)
    assert senim("demo", "seed").exit_code == 0
    code = senim("demo", "staff-code", "operator@senim.demo")
    assert code.exit_code == 0 and re.fullmatch(r"\d{6}", code.output.strip())
    app = create_app(Settings.from_env(env))
    with app.app_context():
        browser = staff_browser(app)
        page = browser.get("/registry/sign-in").get_data(as_text=True)
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        signed_in = browser.post(
            "/registry/sign-in/code",
            data={"csrf_token": csrf, "email": "operator@senim.demo", "code": code.output.strip()},
        )
        assert signed_in.headers["Location"] == "/registry/console"
        console = browser.get("/registry/console").get_data(as_text=True)
        assert "Altyn Demo Bank" in console and "Senim Demo Fintech" in console


def test_staff_codes_are_printed_for_demo_accounts_only(tmp_path):
    _env, senim = _senim(tmp_path)
    senim("demo", "seed")
    senim("staff", "invite-operator", "--email", "real@senim.kz")
    refused = senim("demo", "staff-code", "real@senim.kz")
    assert refused.exit_code != 0 and "not a demo staff account" in refused.output
