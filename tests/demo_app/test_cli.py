"""What `make demo-app` passes to the demo app: `senim demo banks` as `--banks`."""

from __future__ import annotations

from click.testing import CliRunner

from demo_app.banks import parse_banks
from senim.cli import main
from senim.demo import DEMO_BANKS


def test_senim_demo_banks_prints_the_demo_banks_as_the_banks_option(tmp_path) -> None:
    runner = CliRunner()
    env = {"SENIM_DATA_DIR": str(tmp_path), "SENIM_ISSUER": "http://senim.test"}
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    assert runner.invoke(main, ["demo", "seed"], env=env).exit_code == 0

    printed = runner.invoke(main, ["demo", "banks"], env=env)

    assert printed.exit_code == 0, printed.output
    banks = parse_banks(printed.stdout.strip().splitlines()[-1])
    assert [bank.name for bank in banks] == [name for name, _bin in DEMO_BANKS]
    assert len({bank.id for bank in banks}) == 3
