"""The resource proxy: the routed Open Banking API (accounts, balances,
transactions). Every call passes the ordered checks of ``pipeline.py``, is
forwarded to the bank's published API with an assertion signed by the
platform (``forwarding.py``), and is metered (``metering.py``)."""

from __future__ import annotations

from flask import Flask

from senim.settings import Settings


def init_resource_proxy(app: Flask, settings: Settings) -> None:
    from werkzeug.exceptions import HTTPException

    from registry.conformance import EXTENSION
    from resource_proxy.conformance import ProxyConformanceSuite
    from resource_proxy.routes import bp, init_rate_limit, standard_http_error

    app.register_blueprint(bp)
    # App-wide: an unknown path under the prefix reaches no blueprint (its answer is left alone elsewhere).
    app.register_error_handler(HTTPException, standard_http_error)
    init_rate_limit(app, settings)
    # the registry's sandbox checks banks with the proxy's own way of calling them
    app.extensions[EXTENSION] = ProxyConformanceSuite()
