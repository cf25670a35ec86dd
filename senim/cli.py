"""The ``senim`` command: run the server, migrate, seed, rotate keys, add participants, clients and APIs,
accredit participants and issue their certificates."""

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

    from senim.metrics import worker_exited

    settings = Settings.from_env()
    _ensure_metrics_dir()
    app = _app()

    class _Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", settings.bind)
            self.cfg.set("workers", workers or settings.workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread" if threads > 1 else "sync")
            self.cfg.set("accesslog", None)
            self.cfg.set("keepalive", 5)
            self.cfg.set("post_worker_init", _deliver_consent_events_in_worker)
            # the workers' metrics are summed from PROMETHEUS_MULTIPROC_DIR (docs/monitoring.md)
            self.cfg.set("child_exit", worker_exited)

        def load(self) -> Flask:
            return app

    def _deliver_consent_events_in_worker(worker: object) -> None:
        # each worker's own thread (threads do not survive gunicorn's fork);
        # claims keep workers from sending one event twice
        from idp.consents.notifications import start_delivery_thread

        start_delivery_thread(app, settings.notify_interval)

    click.echo(f"Senim is serving {settings.issuer}")
    click.echo(f"  discovery:  {settings.issuer}/.well-known/openid-configuration")
    click.echo(f"  JWKS:       {settings.issuer}/jwks")
    if settings.environment == "development":
        click.echo(f"  SMS outbox: {settings.issuer}/dev/sms")
    if settings.notify_interval:
        click.echo(f"  consent events: sent every {settings.notify_interval} s (SENIM_NOTIFY_INTERVAL)")
    click.echo(f"  metrics:    {settings.issuer}/metrics ({_metrics_access(settings)})")
    _Server().run()


def _ensure_metrics_dir() -> None:
    """PROMETHEUS_MULTIPROC_DIR must exist before a process counts anything; whoever starts
    the processes sharing it empties it first (the demo stack does; docs/monitoring.md)."""
    import os

    from senim.metrics import MULTIPROC_ENV

    path = os.environ.get(MULTIPROC_ENV)
    if path:
        Path(path).mkdir(parents=True, exist_ok=True)


def _metrics_access(settings: Settings) -> str:
    return "bearer token SENIM_METRICS_TOKEN" if settings.metrics_token else "loopback clients only"


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


@demo.command("staff-code")
@click.argument("email")
def demo_staff_code_command(email: str) -> None:
    """The sign-in code of a demo staff account (operator@senim.demo, …) — never outside the demo."""
    from idp.staff_login import SignInRefused, code_to_type_now
    from registry.staff import member_by_email
    from senim.demo import DEMO_STAFF

    app = _app()
    if app.extensions["senim.settings"].production:
        raise click.ClickException("demo accounts do not exist in production")
    if email.strip().lower() not in {address for address, *_rest in DEMO_STAFF}:
        raise click.ClickException(
            f"{email} is not a demo staff account: {', '.join(a for a, *_r in DEMO_STAFF)}"
        )
    with app.app_context():
        member = member_by_email(email)
        if member is None:
            raise click.ClickException(f"{email} is not seeded yet: run `senim demo seed`")
        try:
            click.echo(code_to_type_now(member))
        except SignInRefused as error:
            raise click.ClickException(str(error)) from None


@demo.command("login")
@click.option("--hint", default=None, help="login_hint for the pages: an IIN or a phone number.")
@click.option("--timeout", default=600, show_default=True, help="Seconds to wait for the browser.")
@click.option(
    "--consent/--no-consent",
    default=True,
    show_default=True,
    help="Ask for a consent to the demo banks' accounts (shown on the consent screen).",
)
def demo_login_command(hint: str | None, timeout: int, consent: bool) -> None:
    """Act as the demo app: ask for a consent, push a login request, print the address to open,
    show who signed in and what they consented to.

    Needs the platform running (`make run`) and the demo data (`senim demo seed`).
    """
    from senim.demo import demo_bank_ids
    from senim.demo_app import DemoLoginFailed, demo_login

    settings = Settings.from_env()
    key_file = settings.data_dir / "demo" / "demo-app-private.jwk.json"
    if not key_file.exists():
        raise click.ClickException(f"no demo app key at {key_file}: run `senim demo seed` first")
    banks = None
    if consent:
        with _app().app_context():
            banks = demo_bank_ids()
    try:
        login = demo_login(
            settings.issuer, key_file, click.echo, login_hint=hint, timeout=timeout, provider_ids=banks
        )
    except (DemoLoginFailed, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo("Signed in. The demo app received an ID token saying:")
    for name in ("sub", "acr", "amr", "auth_time"):
        click.echo(f"  {name}: {login.claims.get(name)}")
    for detail in login.authorization_details:
        click.echo("The customer consented:")
        for name in ("consent_id", "permissions", "provider_ids"):
            click.echo(f"  {name}: {detail.get(name)}")
    if login.authorization_details:
        click.echo(f"The customer can see and withdraw it at {settings.issuer}/cabinet")


@demo.command("banks")
def demo_banks_command() -> None:
    """The demo banks as the demo app's --banks option: ID=Name,ID=Name (active ones, in order)."""
    from registry.models import Participant
    from senim.database import db as database
    from senim.demo import demo_bank_ids

    with _app().app_context():
        banks = [database.session.get(Participant, bank_id) for bank_id in demo_bank_ids()]
        click.echo(",".join(f"{bank.id}={bank.name}" for bank in banks))


@demo.command("up")
@click.option(
    "--app-port",
    type=int,
    default=8080,
    show_default=True,
    help="Qarjy's port (the demo client's redirect URI is registered for 8080).",
)
def demo_up_command(app_port: int) -> None:
    """Run Senim, a reference bank for each demo bank and Qarjy (the demo app) until Ctrl-C.

    The banks and their ports come from the demo banks' published APIs
    (`senim apis list`); run `senim db upgrade` and `senim demo seed` first
    (`make run` does all three).
    """
    from senim.demo_stack import StackFailed, demo_processes, run_demo_stack

    settings = Settings.from_env()
    key_file = settings.data_dir / "demo" / "demo-app-private.jwk.json"
    if not key_file.exists():
        raise click.ClickException(f"no demo app key at {key_file}: run `senim demo seed` first")
    with _app().app_context():
        processes = demo_processes(settings, app_port=app_port)
    try:
        run_demo_stack(processes, settings, click.echo)
    except StackFailed as error:
        raise click.ClickException(str(error)) from None


@demo.command("face-video")
@click.option("--iin", required=True, help="One of the demo people's IINs (see `senim people list`).")
@click.option("--poses", required=True, help="The poses the face page asks for, in order, e.g. left,up.")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default="face-check.mp4",
    show_default=True,
)
def demo_face_video_command(iin: str, poses: str, out: Path) -> None:
    """Make a clip of a demo person following the asked poses, for the page's video upload."""
    from senim.demo import demo_face_video

    if Settings.from_env().production:
        raise click.ClickException("demo clips are not made in production")
    try:
        demo_face_video(iin, [p.strip() for p in poses.split(",") if p.strip()], out)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f'wrote {out}: upload it on the face page ("No camera here?") before the check times out')


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
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the client's public keys (JWKS JSON)",
)
@click.option("--jwks-uri", default=None, help="or: where the client publishes its public keys (https)")
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
@click.option(
    "--participant",
    "participant_id",
    default=None,
    help="id of the API user the client belongs to (an active participant, see `senim participants list`)",
)
@click.option(
    "--notification-uri",
    default=None,
    help="where consent events (signed SETs) are POSTed: https (http only for localhost outside production)",
)
def clients_add(
    name: str,
    jwks_file: Path | None,
    jwks_uri: str | None,
    redirect_uris: tuple[str, ...],
    scope: str,
    grant_types: tuple[str, ...],
    client_id: str | None,
    participant_id: str | None,
    notification_uri: str | None,
) -> None:
    """Register a client and print it as JSON."""
    from idp.clients import ClientRegistrationError, register_client

    jwks = None
    if jwks_file is not None:
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
                jwks_uri=jwks_uri,
                redirect_uris=list(redirect_uris),
                scope=scope,
                grant_types=list(grant_types) or ["authorization_code", "refresh_token"],
                production=app.extensions["senim.settings"].production,
                client_id=client_id,
                participant_id=participant_id,
                notification_uri=notification_uri,
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


@clients.command("set-notification-uri")
@click.argument("client_id")
@click.argument("uri", required=False)
@click.option("--remove", is_flag=True, help="remove the address (events then wait until one is set)")
def clients_set_notification_uri(client_id: str, uri: str | None, remove: bool) -> None:
    """Set where CLIENT_ID's consent events are POSTed (https; http only for localhost outside production)."""
    from idp.clients import ClientRegistrationError, set_notification_uri

    if remove == (uri is not None):
        raise click.UsageError("give either a URI or --remove")
    app = _app()
    with app.app_context():
        try:
            client = set_notification_uri(client_id, uri, app.extensions["senim.settings"].production)
        except ClientRegistrationError as error:
            raise click.ClickException(str(error)) from None
        shown = client.notification_uri or "no address: its consent events wait in the outbox"
    click.echo(f"{client_id}: {shown}")


# -- consent events (the outbox) ------------------------------------------------------------
@main.group()
def notifications() -> None:
    """Consent events (signed SETs) to API users: deliver them, see what waits."""


@notifications.command("deliver")
@click.option("--loop", is_flag=True, help="keep delivering (a process next to gunicorn); Ctrl-C stops")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.5),
    default=None,
    help="seconds between rounds with --loop (default: SENIM_NOTIFY_INTERVAL, or 5 when it is 0)",
)
def notifications_deliver(loop: bool, interval: float | None) -> None:
    """Send the consent events that are due, once (or, with --loop, again and again)."""
    import threading

    from idp.consents.notifications import DeliveryRound, deliver_all_due, delivery_loop

    def report(done: DeliveryRound) -> None:
        if done.attempted or not loop:
            click.echo(json.dumps({"delivered": done.delivered, "failed": done.failed}))

    app = _app()
    if not loop:
        with app.app_context():
            report(deliver_all_due())
        return
    every = interval or app.extensions["senim.settings"].notify_interval or 5
    click.echo(f"delivering consent events every {every:g} s", err=True)
    try:
        delivery_loop(app, every, threading.Event(), on_round=report)
    except KeyboardInterrupt:
        click.echo("stopped", err=True)


@notifications.command("list")
@click.option("--pending", is_flag=True, help="only events not yet accepted by their receiver")
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True)
def notifications_list(pending: bool, limit: int) -> None:
    """Consent events, oldest first, one JSON object a line (times in seconds since the epoch)."""
    from idp.consents.notifications import event_record, list_events

    with _app().app_context():
        for event in list_events(pending_only=pending, limit=limit):
            click.echo(json.dumps(event_record(event)))


# -- participants (the registry) ---------------------------------------------------------
@main.group()
def participants() -> None:
    """Participants: legal entities (by BIN) that are API providers (banks) or API users."""


@participants.command("add")
@click.option("--name", required=True, help="the legal entity's name")
@click.option("--bin", "bin_", required=True, help="its 12-digit BIN")
@click.option(
    "--role",
    "roles",
    required=True,
    multiple=True,
    type=click.Choice(["api_provider", "api_user"]),
    help="api_provider (a bank serving the API) and/or api_user (an app calling it); repeatable",
)
def participants_add(name: str, bin_: str, roles: tuple[str, ...]) -> None:
    """Register a participant (active) and print it as JSON."""
    from registry.participants import ParticipantError, add_participant

    with _app().app_context():
        try:
            participant = add_participant(name=name, bin=bin_, roles=list(roles))
        except ParticipantError as error:
            raise click.ClickException(str(error)) from None
        click.echo(json.dumps(participant.as_public_dict(), ensure_ascii=False))


@participants.command("list")
def participants_list() -> None:
    """Every participant by name, one JSON object a line."""
    from registry.participants import list_participants

    with _app().app_context():
        for participant in list_participants():
            click.echo(json.dumps(participant.as_public_dict(), ensure_ascii=False))


@participants.command("block")
@click.argument("participant_id")
@click.option("--reason", required=True, help="why (kept with the participant, up to 200 characters)")
def participants_block(participant_id: str, reason: str) -> None:
    """Stop a participant: its clients may not ask for consents, no consent may name it."""
    from registry.participants import ParticipantError, block_participant

    with _app().app_context():
        try:
            block_participant(participant_id, reason)
        except ParticipantError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"{participant_id} blocked")


@participants.command("unblock")
@click.argument("participant_id")
def participants_unblock(participant_id: str) -> None:
    """Let a blocked participant act again."""
    from registry.participants import ParticipantError, unblock_participant

    with _app().app_context():
        try:
            unblock_participant(participant_id)
        except ParticipantError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"{participant_id} unblocked")


@participants.command("register")
@click.option("--name", required=True, help="the legal entity's name")
@click.option("--bin", "bin_", required=True, help="its 12-digit BIN")
@click.option("--email", "contact_email", required=True, help="contact e-mail")
@click.option("--phone", "contact_phone", required=True, help="contact phone, e.g. +7 701 234 56 78")
@click.option("--description", default=None, help="what the participant does (up to 1000 characters)")
def participants_register(
    name: str, bin_: str, contact_email: str, contact_phone: str, description: str | None
) -> None:
    """Register a participant as it would itself (status registered, no roles) and print it as JSON."""
    from registry.participants import ParticipantError, register_participant

    with _app().app_context():
        try:
            participant = register_participant(
                name=name,
                bin=bin_,
                contact_email=contact_email,
                contact_phone=contact_phone,
                description=description,
            )
        except ParticipantError as error:
            raise click.ClickException(str(error)) from None
        click.echo(json.dumps(participant.profile_dict(), ensure_ascii=False))


@participants.command("apply")
@click.argument("participant_id")
@click.option(
    "--role",
    "roles",
    required=True,
    multiple=True,
    type=click.Choice(["api_provider", "api_user"]),
    help="the role asked for; repeatable",
)
@click.option(
    "--document",
    "document_files",
    required=True,
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a PDF sent with the application; repeatable",
)
@click.option("--actor", "actor_id", default="cli", show_default=True, help="who applies (recorded)")
def participants_apply(
    participant_id: str, roles: tuple[str, ...], document_files: tuple[Path, ...], actor_id: str
) -> None:
    """Apply for accreditation on a participant's behalf; prints the application as JSON."""
    from registry.accreditation import AccreditationError, Document, apply
    from registry.participants import ParticipantError

    docs = [Document(filename=f.name, content=f.read_bytes()) for f in document_files]
    with _app().app_context():
        try:
            application = apply(participant_id, list(roles), docs, actor_id)
        except (AccreditationError, ParticipantError) as error:
            raise click.ClickException(str(error)) from None
        click.echo(json.dumps(application.as_dict()))


@participants.command("applications")
@click.option("--participant", "participant_id", default=None, help="that participant's, newest first")
def participants_applications(participant_id: str | None) -> None:
    """The operators' queue (open applications, oldest first), or one participant's applications."""
    from registry.accreditation import applications_of, documents, list_queue

    with _app().app_context():
        found = applications_of(participant_id) if participant_id else list_queue()
        for application in found:
            record = application.as_dict()
            record["documents"] = [d.as_dict() for d in documents(application.id)]
            click.echo(json.dumps(record, ensure_ascii=False))


def _operator_step(step: str, application_id: str, actor_id: str, **kwargs: str) -> None:
    from registry import accreditation
    from registry.participants import ParticipantError

    with _app().app_context():
        try:
            if step == "approve":
                application, certificate = accreditation.approve(application_id, actor_id)
                click.echo(json.dumps({**application.as_dict(), "certificate_number": certificate.number}))
                return
            if step == "review":
                application = accreditation.start_review(application_id, actor_id)
            else:
                application = accreditation.reject(application_id, actor_id, kwargs["reason"])
        except (accreditation.AccreditationError, ParticipantError) as error:
            raise click.ClickException(str(error)) from None
        click.echo(json.dumps(application.as_dict(), ensure_ascii=False))


@participants.command("review")
@click.argument("application_id")
@click.option("--actor", "actor_id", required=True, help="the operator's staff id (recorded)")
def participants_review(application_id: str, actor_id: str) -> None:
    """Take a submitted application into review."""
    _operator_step("review", application_id, actor_id)


@participants.command("approve")
@click.argument("application_id")
@click.option("--actor", "actor_id", required=True, help="the operator's staff id (recorded)")
def participants_approve(application_id: str, actor_id: str) -> None:
    """Approve an application in review: roles added, register, accreditation certificate."""
    _operator_step("approve", application_id, actor_id)


@participants.command("reject")
@click.argument("application_id")
@click.option("--actor", "actor_id", required=True, help="the operator's staff id (recorded)")
@click.option("--reason", required=True, help="why (the participant reads it)")
def participants_reject(application_id: str, actor_id: str, reason: str) -> None:
    """Reject an application in review, saying why; the participant may apply again."""
    _operator_step("reject", application_id, actor_id, reason=reason)


# -- the platform's certificate authority --------------------------------------------------------------
@main.group()
def ca() -> None:
    """The platform's certificate authority: participants' mTLS and signing certificates."""


@ca.command("sign")
@click.option("--participant", "participant_id", required=True, help="an accredited participant's id")
@click.option(
    "--csr",
    "csr_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the certificate signing request (PEM)",
)
@click.option("--purpose", type=click.Choice(["mtls", "signing"]), default="mtls", show_default=True)
def ca_sign(participant_id: str, csr_file: Path, purpose: str) -> None:
    """Issue a one-year certificate for the CSR's key; prints the certificate (PEM)."""
    from registry.certificate_authority import CertificateAuthorityError, sign_csr
    from registry.participants import ParticipantError

    with _app().app_context():
        try:
            issued = sign_csr(participant_id, csr_file.read_bytes(), purpose)
        except (CertificateAuthorityError, ParticipantError) as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"serial {issued.serial}, {issued.subject}", err=True)
        click.echo(issued.certificate_pem, nl=False)


@ca.command("list")
@click.option("--participant", "participant_id", default=None, help="only this participant's")
def ca_list(participant_id: str | None) -> None:
    """Issued certificates, newest first, one JSON object a line."""
    from registry.certificate_authority import list_certificates

    with _app().app_context():
        for issued in list_certificates(participant_id):
            click.echo(json.dumps(issued.as_dict(), ensure_ascii=False))


@ca.command("revoke")
@click.argument("serial")
@click.option(
    "--reason",
    required=True,
    help="RFC 5280 CRLReason: keyCompromise, affiliationChanged, superseded, cessationOfOperation, "
    "privilegeWithdrawn, unspecified…",
)
def ca_revoke(serial: str, reason: str) -> None:
    """Revoke a certificate; it is listed in the CRL from now on."""
    from registry.certificate_authority import CertificateAuthorityError, revoke_certificate

    with _app().app_context():
        try:
            revoked = revoke_certificate(serial, reason, actor_id="cli")
        except CertificateAuthorityError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"{revoked.serial} revoked ({revoked.revocation_reason})")


# -- published APIs and subscriptions (the proxy's routing tables) ----------------------------
@main.group()
def apis() -> None:
    """Banks' published APIs and the API users' subscriptions: where the proxy routes."""


@apis.command("add")
@click.option("--provider", "provider_id", required=True, help="participant id of the bank (an API provider)")
@click.option(
    "--base-url", required=True, help="the bank's base URL of the standard, e.g. https://api.bank.kz/ob/v1"
)
@click.option("--publish", is_flag=True, help="publish it at once (the proxy routes to it)")
def apis_add(provider_id: str, base_url: str, publish: bool) -> None:
    """Register a bank's account-information API and print it as JSON."""
    from registry.apis import ApiRegistryError, add_api

    with _app().app_context():
        try:
            api = add_api(provider_id=provider_id, base_url=base_url, publish=publish)
        except ApiRegistryError as error:
            raise click.ClickException(str(error)) from None
        click.echo(json.dumps(api.as_public_dict()))


@apis.command("list")
def apis_list() -> None:
    """Every API, one JSON object a line, with its subscriptions."""
    from registry.apis import list_apis, list_subscriptions

    with _app().app_context():
        subscriptions = list_subscriptions()
        for api in list_apis():
            record = api.as_public_dict()
            record["subscriptions"] = [
                {"client_id": s.client_id, "participant_id": s.participant_id, "status": s.status}
                for s in subscriptions
                if s.api_id == api.id
            ]
            click.echo(json.dumps(record))


@apis.command("publish")
@click.argument("api_id")
def apis_publish(api_id: str) -> None:
    """Route calls to this API from now on."""
    from registry.apis import ApiRegistryError, set_published

    with _app().app_context():
        try:
            set_published(api_id, True)
        except ApiRegistryError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"{api_id} published")


@apis.command("unpublish")
@click.argument("api_id")
def apis_unpublish(api_id: str) -> None:
    """Stop routing calls to this API (at once)."""
    from registry.apis import ApiRegistryError, set_published

    with _app().app_context():
        try:
            set_published(api_id, False)
        except ApiRegistryError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"{api_id} unpublished")


@apis.command("subscribe")
@click.option("--client", "client_id", required=True, help="the API user's client_id")
@click.option("--api", "api_id", required=True, help="the API's id (see `senim apis list`)")
def apis_subscribe(client_id: str, api_id: str) -> None:
    """Subscribe a client (of an active API user) to an API."""
    from sqlalchemy import select

    from idp.models import Client
    from registry.apis import ApiRegistryError, subscribe
    from senim.database import db as database

    with _app().app_context():
        client = database.session.scalar(select(Client).where(Client.client_id == client_id))
        if client is None:
            raise click.ClickException(f"no client {client_id}")
        if client.participant_id is None:
            raise click.ClickException(
                f"client {client_id} belongs to no API user: set its participant first"
            )
        try:
            subscription = subscribe(api_id=api_id, client_id=client_id, participant_id=client.participant_id)
        except ApiRegistryError as error:
            raise click.ClickException(str(error)) from None
        click.echo(json.dumps(subscription.as_public_dict()))


@apis.command("submit")
@click.option("--provider", "provider_id", required=True, help="participant id of the bank (an API provider)")
@click.option("--base-url", required=True, help="the production base URL the proxy will route to")
@click.option("--sandbox-url", required=True, help="the sandbox base URL the conformance suite checks")
@click.option("--description", required=True, help="plain text shown on the showcase (up to 1000 characters)")
@click.option(
    "--sandbox-iin",
    default=None,
    help="the test customer whose data the sandbox serves (default: the reference banks' 900101300017)",
)
def apis_submit(
    provider_id: str, base_url: str, sandbox_url: str, description: str, sandbox_iin: str | None
) -> None:
    """Submit an account-information v1 API: the sandbox's conformance suite runs against it
    and it is published only if every check passes. Prints the API and the report as JSON."""
    from registry.apis import ApiRegistryError
    from registry.publication import DEFAULT_SANDBOX_CUSTOMER_IIN, submit_api

    with _app().app_context():
        try:
            outcome = submit_api(
                provider_id=provider_id,
                base_url=base_url,
                sandbox_url=sandbox_url,
                description=description,
                sandbox_customer_iin=sandbox_iin or DEFAULT_SANDBOX_CUSTOMER_IIN,
            )
        except ApiRegistryError as error:
            raise click.ClickException(str(error)) from None
        _echo_outcome(outcome)


@apis.command("recheck")
@click.argument("api_id")
def apis_recheck(api_id: str) -> None:
    """Run the conformance suite against the API's sandbox now; print the report as JSON."""
    from registry.apis import ApiRegistryError
    from registry.publication import recheck_api

    with _app().app_context():
        try:
            outcome = recheck_api(api_id)
        except ApiRegistryError as error:
            raise click.ClickException(str(error)) from None
        _echo_outcome(outcome)


def _echo_outcome(outcome: object) -> None:
    click.echo(json.dumps({"api": outcome.api.as_public_dict(), "check": outcome.run.as_public_dict()}))
    if not outcome.report.passed:
        raise click.ClickException(
            f"API {outcome.api.id} is {outcome.api.status}: failed {', '.join(outcome.report.failed_checks)}"
        )


@apis.command("checks")
@click.argument("api_id")
@click.option("--limit", default=20, show_default=True, help="runs shown, newest first")
def apis_checks(api_id: str, limit: int) -> None:
    """The API's conformance check runs, newest first, one JSON object a line."""
    from registry.apis import ApiRegistryError
    from registry.showcase import check_history

    with _app().app_context():
        try:
            runs = check_history(api_id, limit)
        except ApiRegistryError as error:
            raise click.ClickException(str(error)) from None
        for run in runs:
            click.echo(json.dumps(run.as_public_dict()))


# -- billing -------------------------------------------------------------------------------------
@main.group()
def billing() -> None:
    """Billing periods: close a month into invoices and a settlement statement."""


@billing.command("close")
@click.argument("period")
def billing_close(period: str) -> None:
    """Close PERIOD (a month, e.g. 2026-11, Kazakhstan time) once it has ended; again: what is stored."""
    from registry.billing import BillingError, close_period, invoices_of_period
    from registry.tariffs import format_tenge

    with _app().app_context():
        try:
            closed = close_period(period, "cli")
        except BillingError as error:
            raise click.ClickException(str(error)) from None
        invoices = invoices_of_period(closed.period)
        click.echo(
            f"{closed.period} closed by {closed.closed_by}: {len(invoices)} invoice(s), "
            f"{closed.calls_charged} call(s) charged, {format_tenge(closed.total_tiyn)} KZT"
        )
        for invoice in invoices:
            click.echo(
                f"{invoice.number}  {format_tenge(invoice.total_tiyn):>14} KZT  {invoice.api_user_name}"
            )


# -- the worker: scheduled re-checks of published APIs --------------------------------------------
@main.command()
@click.option("--once", is_flag=True, help="run the due checks once and exit")
@click.option("--poll", type=float, default=5.0, show_default=True, help="seconds between two rounds")
def worker(once: bool, poll: float) -> None:
    """Re-check every published or suspended API whose check is due (every
    SENIM_API_CHECK_INTERVAL seconds): a failure suspends it, a pass publishes it again.
    Several workers may run: each API is claimed by one. Stops on Ctrl-C or SIGTERM."""
    import signal
    import threading

    from registry.worker import run_worker

    _ensure_metrics_dir()
    app = _app()
    stop = threading.Event()
    if not once:
        signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
        interval = app.extensions["senim.settings"].api_check_interval
        click.echo(f"checking published APIs every {interval} s (SENIM_API_CHECK_INTERVAL); Ctrl-C stops")
    try:
        checked = run_worker(app, stop, once=once, poll_seconds=poll)
    except KeyboardInterrupt:
        stop.set()
        return
    click.echo(f"{checked} API check(s) run")


# -- people (the reference photo registry) ------------------------------------------------
@main.group()
def people() -> None:
    """The reference photo registry: people, their phone on record, their reference face."""


def _people_app() -> Flask:
    from senim.keys import KeyConfigurationError

    try:
        return _app()
    except KeyConfigurationError as error:
        raise click.ClickException(str(error)) from None


@people.command("add")
@click.option("--iin", required=True, help="12-digit IIN")
@click.option("--name", "full_name", required=True, help="full name")
@click.option("--phone", required=True, help="phone on record, e.g. +7 701 234 56 78")
@click.option(
    "--photo",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="reference photo (JPEG or PNG, exactly one face)",
)
@click.option("--keep-photo", is_flag=True, help="also keep the photo (sealed); by default only the encoding")
def people_add(iin: str, full_name: str, phone: str, photo: Path, keep_photo: bool) -> None:
    """Put one person on record."""
    from biometrics.errors import BiometricsError
    from biometrics.images import read_photo_file
    from biometrics.phones import mask_phone
    from biometrics.registry import LocalReferenceRegistry

    app = _people_app()
    with app.app_context():
        registry = LocalReferenceRegistry(app.extensions["senim.biometric_key"])
        try:
            person = registry.add_person(
                iin=iin, full_name=full_name, phone=phone, photo=read_photo_file(photo), keep_photo=keep_photo
            )
        except BiometricsError as error:
            raise click.ClickException(str(error)) from None
    kept = ", photo kept" if person.photo_kept else ""
    click.echo(f"{person.iin} added ({mask_phone(person.phone)}{kept})")


@people.command("import")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--keep-photo", is_flag=True, help="also keep the photos (sealed); by default only the encodings"
)
def people_import(directory: Path, keep_photo: bool) -> None:
    """Put everyone in DIRECTORY/people.csv (iin,name,phone,photo) on record, or no one."""
    from biometrics.errors import BiometricsError
    from biometrics.registry import LocalReferenceRegistry

    app = _people_app()
    with app.app_context():
        registry = LocalReferenceRegistry(app.extensions["senim.biometric_key"])
        try:
            added = registry.import_directory(directory, keep_photo=keep_photo)
        except BiometricsError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"{len(added)} people imported from {directory}")


@people.command("list")
def people_list() -> None:
    """Everyone on record, one JSON object a line (phones masked, never the face)."""
    from biometrics.phones import mask_phone
    from biometrics.registry import LocalReferenceRegistry

    app = _people_app()
    with app.app_context():
        for person in LocalReferenceRegistry(app.extensions["senim.biometric_key"]).people():
            record = {
                "iin": person.iin,
                "name": person.full_name,
                "phone": mask_phone(person.phone),
                "photo_kept": person.photo_kept,
                "source": person.source,
                "created_at": person.created_at,
            }
            click.echo(json.dumps(record, ensure_ascii=False))


@people.command("remove")
@click.argument("iin")
def people_remove(iin: str) -> None:
    """Take a person off record (their encoding and photo are deleted)."""
    from biometrics.errors import BiometricsError
    from biometrics.registry import LocalReferenceRegistry

    app = _people_app()
    with app.app_context():
        try:
            LocalReferenceRegistry(app.extensions["senim.biometric_key"]).remove(iin)
        except BiometricsError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"{iin.strip()} removed")


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


# -- staff (participants' staff and the platform's operators) ------------------------------------
@main.group()
def staff() -> None:
    """Staff accounts: invitations for participants' staff and the platform's operators."""


def _invite_and_print(participant_id: str | None, email: str, role: str, name: str) -> None:
    """Invite, then print the member as JSON and the link to send them (shown only now)."""
    from flask import current_app

    from idp.staff_login import staff_origin
    from registry.staff import StaffError, invite

    with _app().app_context():
        try:
            member, secret = invite(
                participant_id=participant_id, email=email, role=role, name=name, invited_by=None
            )
        except StaffError as error:
            raise click.ClickException(str(error)) from None
        origin = staff_origin(current_app.extensions["senim.settings"].issuer)
        click.echo(json.dumps(member.as_dict(), ensure_ascii=False))
        click.echo(f"Invitation link (works once, for three days): {origin}/registry/join/{secret}")


@staff.command("invite-operator")
@click.option("--email", required=True, help="the operator's e-mail address (their sign-in name)")
@click.option("--name", default="", help="their name as colleagues see it")
def staff_invite_operator(email: str, name: str) -> None:
    """Invite an operator of the platform (the first one starts here) and print the link to send them."""
    from registry.staff import OPERATOR

    _invite_and_print(None, email, OPERATOR, name)


@staff.command("invite")
@click.option("--participant", "participant_id", required=True, help="the participant's id")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option(
    "--role",
    type=click.Choice(["admin", "developer", "finance", "viewer"]),
    default="admin",
    show_default=True,
)
def staff_invite(participant_id: str, email: str, name: str, role: str) -> None:
    """Invite a participant's staff member (e.g. its first admin) and print the link to send them."""
    _invite_and_print(participant_id, email, role, name)


@staff.command("list")
@click.option(
    "--participant", "participant_id", default=None, help="a participant's staff (default: operators)"
)
def staff_list(participant_id: str | None) -> None:
    """Staff of a participant, or the operators, one JSON object a line."""
    from registry.staff import staff_of

    with _app().app_context():
        for member in staff_of(participant_id):
            click.echo(json.dumps(member.as_dict(), ensure_ascii=False))
