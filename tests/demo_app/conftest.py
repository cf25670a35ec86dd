"""Qarjy (the demo API user's app) next to a live Senim (``tests/interop``'s server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.conftest import LiveServer, live_server, live_server_pool  # noqa: F401 - fixtures
from tests.support.demo_app import Qarjy, start_qarjy


@pytest.fixture
def qarjy(live_server: LiveServer, tmp_path: Path) -> Iterator[Qarjy]:  # noqa: F811 - the fixture above
    running = start_qarjy(live_server.app, live_server.issuer, tmp_path)
    try:
        yield running
    finally:
        running.stop()
