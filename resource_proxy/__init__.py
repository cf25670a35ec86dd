"""The resource proxy: the routed Open Banking API (accounts, balances,
transactions). Every call passes the ordered checks of ``pipeline.py``, is
forwarded to the bank's published API with an assertion signed by the
platform (``forwarding.py``), and is metered (``metering.py``)."""

from __future__ import annotations

from flask import Flask

from senim.settings import Settings


def init_resource_proxy(app: Flask, settings: Settings) -> None:
    from resource_proxy.routes import bp, init_rate_limit

    app.register_blueprint(bp)
    init_rate_limit(app, settings)
