"""Published APIs and subscriptions: the routing tables of the resource proxy.

A bank (an API provider) publishes its implementation of a standard at a
base URL; an API user's client subscribes to it. The proxy routes a call
only to a published API of the bank named, and only for a subscribed
client (``resource_proxy/pipeline.py``: ``check_api_published``,
``check_api_user_subscribed``). Rows are never deleted: an API is
unpublished, a subscription ended.

``add_api`` is the operator's way (an API routed without the sandbox's
checks: the demo, tests); API providers submit theirs through the sandbox
(``registry/publication.py``: ``submit_api``), which publishes only a passing API.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from registry.models import (
    PUBLISHED,
    SUBSCRIPTION_ACTIVE,
    UNPUBLISHED,
    ApiSubscription,
    PublishedApi,
)
from registry.participants import API_PROVIDER, API_USER, ParticipantError, require_active
from senim import clock
from senim.audit import audit
from senim.database import db

ACCOUNT_INFORMATION = "account-information"
STANDARDS = {ACCOUNT_INFORMATION: ("v1",)}
MAX_BASE_URL = 2000


#: Where a bank may be reached over plain http (a reference bank on this machine, the demo, tests).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ApiRegistryError(ValueError):
    """An API cannot be added, published or subscribed to as asked; ``str(error)`` says why."""


def validate_base_url(url: str) -> str:
    """An absolute http(s) URL without query, fragment or credentials; no trailing slash."""
    url = (url or "").strip().rstrip("/")
    if not url or len(url) > MAX_BASE_URL:
        raise ApiRegistryError(f"a base URL must have 1 to {MAX_BASE_URL} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ApiRegistryError(f"not a valid URL: {url}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiRegistryError(f"a base URL is an absolute http(s) URL: {url}")
    if parts.query or parts.fragment or parts.username is not None or parts.password is not None:
        raise ApiRegistryError(f"a base URL has no query, fragment or credentials: {url}")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        # The platform's assertion names the customer (IIN) and the consent: never in clear text.
        raise ApiRegistryError(
            f"a bank's base URL is https (http only on this machine: 127.0.0.1, localhost): {url}"
        )
    return url


def check_provider_may_publish(provider_id: str, standard: str, version: str) -> None:
    """The standard and version are known, and the provider is an active API provider."""
    if version not in STANDARDS.get(standard, ()):
        raise ApiRegistryError(f"unknown standard {standard} {version}")
    try:
        require_active(provider_id, API_PROVIDER)
    except ParticipantError as error:
        raise ApiRegistryError(str(error)) from None


def add_api(
    *,
    provider_id: str,
    base_url: str,
    publish: bool = False,
    standard: str = ACCOUNT_INFORMATION,
    version: str = "v1",
    sandbox_url: str | None = None,
    description: str | None = None,
) -> PublishedApi:
    """Register a bank's API at ``base_url`` (published at once with ``publish``, without the
    sandbox's first check: the operator's and the demo's way). With a ``sandbox_url`` a
    published API is on the worker's schedule from its next round."""
    check_provider_may_publish(provider_id, standard, version)
    base_url = validate_base_url(base_url)
    if sandbox_url is not None:
        sandbox_url = validate_base_url(sandbox_url)
    if description is not None:
        from registry.publication import validate_description

        description = validate_description(description)
    now = clock.now_int()
    api = PublishedApi(
        id=str(uuid.uuid4()),
        provider_id=provider_id,
        standard=standard,
        version=version,
        base_url=base_url,
        status=PUBLISHED if publish else UNPUBLISHED,
        created_at=now,
        published_at=now if publish else None,
        status_changed_at=now,
        sandbox_url=sandbox_url,
        description=description,
        next_check_due_at=now if publish and sandbox_url else None,
    )
    db.session.add(api)
    db.session.commit()
    audit("api.added", api_id=api.id, provider_id=provider_id, status=api.status)
    return api


def get_api(api_id: str) -> PublishedApi | None:
    if not isinstance(api_id, str) or len(api_id) > 36:
        return None
    return db.session.get(PublishedApi, api_id, populate_existing=True)


def list_apis() -> list[PublishedApi]:
    return list(db.session.scalars(select(PublishedApi).order_by(PublishedApi.created_at, PublishedApi.id)))


def _require_api(api_id: str) -> PublishedApi:
    api = get_api(api_id)
    if api is None:
        raise ApiRegistryError(f"no API {api_id}")
    return api


def set_published(api_id: str, published: bool) -> PublishedApi:
    """Publish or unpublish an API (the provider or the operator); the proxy follows on its
    next call. An unpublished API leaves the worker's schedule; one published again with a
    sandbox is checked on the worker's next round (``registry/publication.py``)."""
    api = _require_api(api_id)
    status = PUBLISHED if published else UNPUBLISHED
    if api.status != status:
        now = clock.now_int()
        api.status = status
        api.status_changed_at = now
        if published:
            api.published_at = now
        api.next_check_due_at = now if published and api.sandbox_url else None
        db.session.commit()
        audit("api.published" if published else "api.unpublished", api_id=api.id)
    return api


def published_api(
    provider_id: str, standard: str = ACCOUNT_INFORMATION, version: str = "v1"
) -> PublishedApi | None:
    """The bank's published API of this standard (the newest, if it published several)."""
    return db.session.scalar(
        select(PublishedApi)
        .where(
            PublishedApi.provider_id == provider_id,
            PublishedApi.standard == standard,
            PublishedApi.version == version,
            PublishedApi.status == PUBLISHED,
        )
        .order_by(PublishedApi.published_at.desc(), PublishedApi.id)
        .limit(1)
    )


def subscribe(*, api_id: str, client_id: str, participant_id: str) -> ApiSubscription:
    """Subscribe an API user's client to an API; subscribing again returns the subscription."""
    api = _require_api(api_id)
    try:
        require_active(participant_id, API_USER)
    except ParticipantError as error:
        raise ApiRegistryError(str(error)) from None
    existing = db.session.scalar(
        select(ApiSubscription).where(
            ApiSubscription.api_id == api.id, ApiSubscription.client_id == client_id
        )
    )
    if existing is not None:
        if existing.status != SUBSCRIPTION_ACTIVE:
            existing.status = SUBSCRIPTION_ACTIVE
            db.session.commit()
            audit("api.subscribed", api_id=api.id, client_id=client_id, participant_id=participant_id)
        return existing
    subscription = ApiSubscription(
        id=str(uuid.uuid4()),
        api_id=api.id,
        client_id=client_id,
        participant_id=participant_id,
        status=SUBSCRIPTION_ACTIVE,
        created_at=clock.now_int(),
    )
    db.session.add(subscription)
    try:
        db.session.commit()
    except IntegrityError:  # the same subscription made in parallel
        db.session.rollback()
        return subscribe(api_id=api_id, client_id=client_id, participant_id=participant_id)
    audit("api.subscribed", api_id=api.id, client_id=client_id, participant_id=participant_id)
    return subscription


def end_subscription(*, api_id: str, client_id: str) -> ApiSubscription:
    subscription = active_subscription(api_id, client_id)
    if subscription is None:
        raise ApiRegistryError(f"client {client_id} is not subscribed to API {api_id}")
    subscription.status = "ended"
    db.session.commit()
    audit("api.subscription_ended", api_id=api_id, client_id=client_id)
    return subscription


def active_subscription(api_id: str, client_id: str) -> ApiSubscription | None:
    return db.session.scalar(
        select(ApiSubscription).where(
            ApiSubscription.api_id == api_id,
            ApiSubscription.client_id == client_id,
            ApiSubscription.status == SUBSCRIPTION_ACTIVE,
        )
    )


def list_subscriptions() -> list[ApiSubscription]:
    return list(db.session.scalars(select(ApiSubscription).order_by(ApiSubscription.created_at)))
