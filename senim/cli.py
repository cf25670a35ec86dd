"""The ``senim`` command: run the server, migrate, seed, rotate keys, add clients."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask

from senim.settings import Settings, SettingsError


def _app() -> Flask:
    from senim.app import create_app

    try:
        return create_app(Settings.from_env())
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


@click.group()
def main() -> None:
    """Senim: trust infrastructure of an Open Banking platform."""


# -- server --------------------------------------------------------------------
@main.command()
@click.option("--workers", type=int, default=None, help="gunicorn workers (default SENIM_WORKERS)")
@click.option("--threads", type=int, default=1, show_default=True, help="threads per worker")
def run(workers: int | None, threads: int) -> None:
    """Serve the platform with gunicorn on SENIM_BIND."""
    from gunicorn.app.base import BaseApplication

    settings = Settings.from_env()
    app = _app()

    class _Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", settings.bind)
            self.cfg.set("workers", workers or settings.workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread" if threads > 1 else "sync")
            self.cfg.set("accesslog", None)
            self.cfg.set("keepalive", 5)

        def load(self) -> Flask:
            return app

    click.echo(
        f"Senim is serving {settings.issuer} (discovery: {settings.issuer}/.well-known/openid-configuration)"
    )
    _Server().run()


# -- database ---------------------------------------------------------------------
@main.group()
def db() -> None:
    """Database migrations (Alembic)."""


@db.command()
def upgrade() -> None:
    """Apply every migration."""
    from flask_migrate import upgrade as _upgrade

    with _app().app_context():
        _upgrade()
    click.echo("database is up to date")


@db.command()
@click.option("-m", "--message", required=True)
def revision(message: str) -> None:
    """Write a new migration from the models (for developers)."""
    from flask_migrate import migrate as _migrate

    with _app().app_context():
        _migrate(message=message)


# -- demo ---------------------------------------------------------------------------
@main.group()
def demo() -> None:
    """Demo data for `make run`."""


@demo.command()
def seed() -> None:
    """Create the demo data once (idempotent)."""
    from senim.demo import seed_demo

    app = _app()
    with app.app_context():
        for line in seed_demo(app.extensions["senim.settings"]):
            click.echo(line)


# -- keys -----------------------------------------------------------------------------
@main.group()
def keys() -> None:
    """The platform's signing keys."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Make a new signing key; the old one stays in the JWKS until its tokens expire."""
    from senim.audit import audit

    app = _app()
    with app.app_context():
        new = app.extensions["senim.keyring"].rotate()
        audit("keys.rotated", kid=new.kid, alg=new.alg)
    click.echo(json.dumps({"kid": new.kid, "alg": new.alg}))


@keys.command("list")
def keys_list() -> None:
    """The keys on disk, newest first (public parts only)."""
    app = _app()
    ring = app.extensions["senim.keyring"]
    published = {k.kid for k in ring.published()}
    for key in ring.keys:
        record = {
            "kid": key.kid,
            "alg": key.alg,
            "created_at": key.created_at,
            "not_before": key.not_before,
            "retired_at": key.retired_at,
            "published": key.kid in published,
        }
        click.echo(json.dumps(record))


@keys.command("prune")
def keys_prune() -> None:
    """Delete retired keys that no live token can depend on."""
    app = _app()
    removed = app.extensions["senim.keyring"].prune()
    click.echo(json.dumps({"removed": removed}))


# -- clients ----------------------------------------------------------------------------
@main.group()
def clients() -> None:
    """OAuth clients of API users."""


@clients.command("add")
@click.option("--name", required=True)
@click.option(
    "--jwks-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the client's public keys (JWKS JSON)",
)
@click.option("--redirect-uri", "redirect_uris", multiple=True)
@click.option("--scope", default="openid accounts", show_default=True)
@click.option(
    "--grant-type",
    "grant_types",
    multiple=True,
    help="authorization_code, refresh_token, client_credentials "
    "(default: authorization_code + refresh_token)",
)
@click.option("--client-id", default=None, help="choose the client_id (default: generated)")
def clients_add(
    name: str,
    jwks_file: Path,
    redirect_uris: tuple[str, ...],
    scope: str,
    grant_types: tuple[str, ...],
    client_id: str | None,
) -> None:
    """Register a client and print it as JSON."""
    from idp.clients import ClientRegistrationError, register_client

    try:
        jwks = json.loads(jwks_file.read_text())
    except ValueError as error:
        raise click.ClickException(f"{jwks_file} is not JSON: {error}") from None
    app = _app()
    with app.app_context():
        try:
            client = register_client(
                name=name,
                jwks=jwks,
                redirect_uris=list(redirect_uris),
                scope=scope,
                grant_types=list(grant_types) or ["authorization_code", "refresh_token"],
                production=app.extensions["senim.settings"].production,
                client_id=client_id,
            )
        except ClientRegistrationError as error:
            raise click.ClickException(str(error)) from None
        click.echo(json.dumps(client.as_public_dict(), indent=2))


@clients.command("list")
def clients_list() -> None:
    """Every client, one JSON object a line."""
    from sqlalchemy import select

    from idp.models import Client
    from senim.database import db as database

    with _app().app_context():
        for client in database.session.scalars(select(Client).order_by(Client.id)):
            record = client.as_public_dict()
            record.pop("jwks")
            record["disabled"] = client.disabled_at is not None
            click.echo(json.dumps(record))


@clients.command("disable")
@click.argument("client_id")
def clients_disable(client_id: str) -> None:
    """Refuse every request of a client from now on."""
    from idp.clients import ClientRegistrationError, set_client_disabled

    with _app().app_context():
        try:
            set_client_disabled(client_id, True)
        except ClientRegistrationError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"{client_id} disabled")


@clients.command("enable")
@click.argument("client_id")
def clients_enable(client_id: str) -> None:
    """Accept a disabled client again."""
    from idp.clients import ClientRegistrationError, set_client_disabled

    with _app().app_context():
        try:
            set_client_disabled(client_id, False)
        except ClientRegistrationError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"{client_id} enabled")


# -- maintenance -------------------------------------------------------------------------
@main.command()
def purge() -> None:
    """Forget expired replay-cache entries, pushed requests and interactions."""
    from senim.maintenance import purge_expired_state

    with _app().app_context():
        counts = purge_expired_state()
    click.echo(json.dumps(counts))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
