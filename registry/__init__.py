"""The registry of participants: the legal entities (known by their BIN) that
take part in the platform, each an API provider (a bank that serves the
Open Banking API), an API user (an app that calls it), or both, and each
registered, active or blocked.

The authorization server asks whether a client's API user and the banks a
consent names may take part (``participants``). Accreditation
(``accreditation``, ``accreditation_certificate``), the public register
(``register``), the platform's certificate authority
(``certificate_authority``) and logos (``logos``) are described in
docs/registry.md (routes: ``accreditation_routes``). API publication through
the sandbox is in ``publication.py`` (checks in ``conformance.py``, scheduled
re-checks in ``worker.py``), the showcase in ``showcase.py``, their JSON API in
``routes.py``. Billing comes later.
"""

from __future__ import annotations

from flask import Flask


def init_registry(app: Flask) -> None:
    """The registry's JSON API (the showcase, check history) and its OpenAPI document."""
    import registry.appeal_models  # noqa: F401 - the appeals' tables
    from registry.routes import bp

    app.register_blueprint(bp)
