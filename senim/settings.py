"""One settings object, read from ``SENIM_*`` environment variables.

Defaults make ``make run`` work on a laptop: a SQLite file and generated keys
under ``SENIM_DATA_DIR`` (``./instance``), the server on ``127.0.0.1:8000``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

ENVIRONMENTS = ("development", "test", "production")
SIGNING_ALGS = ("ES256", "PS256")
LOCALES = ("kk", "ru", "en")
SMS_BACKENDS = ("outbox", "twilio")


class SettingsError(ValueError):
    """A ``SENIM_*`` variable holds a value Senim cannot run with."""


def _int(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _float(env: dict[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:  # also refuses NaN
        raise SettingsError(f"{name} must be between {low:g} and {high:g}, got {raw}")
    return value


def _rate_limit(env: dict[str, str], name: str, default: str) -> str:
    from limits import parse_many

    value = (env.get(name) or default).strip()
    try:
        parse_many(value)
    except ValueError:
        raise SettingsError(f"{name} must be a rate limit such as 1200/minute, got {value!r}") from None
    return value


def _choice(env: dict[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name) or default
    if value not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _metrics_token(env: dict[str, str]) -> str | None:
    token = (env.get("SENIM_METRICS_TOKEN") or "").strip()
    if token and len(token) < 16:
        raise SettingsError(
            "SENIM_METRICS_TOKEN must be at least 16 characters (e.g. `openssl rand -hex 32`)"
        )
    return token or None


@dataclass(frozen=True)
class Settings:
    environment: str = "development"
    bind: str = "127.0.0.1:8000"
    issuer: str = "http://127.0.0.1:8000"
    data_dir: Path = Path("instance")
    database_url: str = "sqlite:///instance/senim.db"
    key_dir: Path = Path("instance/keys")
    signing_alg: str = "ES256"
    access_token_ttl: int = 300
    refresh_token_ttl: int = 30 * 24 * 3600
    id_token_ttl: int = 300
    authorization_code_ttl: int = 60
    par_ttl: int = 60
    interaction_ttl: int = 600
    client_assertion_max_age: int = 300
    dpop_iat_window: int = 60
    dpop_require_nonce: bool = False
    sms_backend: str = "outbox"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_api_base: str | None = None
    biometric_key: str | None = None
    rate_limit_storage: str = "memory://"
    default_locale: str = "ru"
    workers: int = 2
    log_level: str = "INFO"
    audit_log_path: Path | None = None
    #: seconds between consent-event delivery rounds in each `senim run` worker; 0: none there
    notify_interval: int = 5
    #: seconds the resource proxy waits for a bank (connect and read) before answering 504
    proxy_timeout: float = 5.0
    #: calls per API user through the resource proxy (Flask-Limiter notation)
    proxy_rate_limit: str = "1200/minute"
    #: the request header in which the TLS terminator passes the client's certificate (URL-encoded
    #: PEM, nginx's $ssl_client_escaped_cert); empty: no mutual TLS in front of Senim
    mtls_client_cert_header: str = ""
    #: seconds between two conformance checks of a published API by `senim worker`
    #: (45: 1,920 checks a day, the pilot's figure)
    api_check_interval: int = 45
    #: the bearer token a Prometheus scraper presents at /metrics; unset: loopback clients only
    #: (docs/monitoring.md). Never shown in the settings' repr.
    metrics_token: str | None = field(default=None, repr=False)

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        bind = env.get("SENIM_BIND") or "127.0.0.1:8000"
        data_dir = Path(env.get("SENIM_DATA_DIR") or "instance")
        issuer = (env.get("SENIM_ISSUER") or f"http://{bind}").rstrip("/")
        if not issuer.startswith(("https://", "http://")):
            raise SettingsError(f"SENIM_ISSUER must be an http(s) URL, got {issuer!r}")
        environment = _choice(env, "SENIM_ENV", "development", ENVIRONMENTS)
        if environment == "production" and not issuer.startswith("https://"):
            raise SettingsError("SENIM_ISSUER must use https in production")
        audit_path = env.get("SENIM_AUDIT_LOG")
        sms_backend = _choice(env, "SENIM_SMS_BACKEND", "outbox", SMS_BACKENDS)
        if sms_backend == "twilio":
            missing = [
                name
                for name in ("SENIM_TWILIO_ACCOUNT_SID", "SENIM_TWILIO_AUTH_TOKEN", "SENIM_TWILIO_FROM")
                if not env.get(name)
            ]
            if missing:
                raise SettingsError(f"SENIM_SMS_BACKEND=twilio needs {', '.join(missing)}")
        return cls(
            environment=environment,
            bind=bind,
            issuer=issuer,
            data_dir=data_dir,
            database_url=env.get("SENIM_DATABASE_URL") or f"sqlite:///{(data_dir / 'senim.db').resolve()}",
            key_dir=Path(env.get("SENIM_KEY_DIR") or data_dir / "keys"),
            signing_alg=_choice(env, "SENIM_SIGNING_ALG", "ES256", SIGNING_ALGS),
            access_token_ttl=_int(env, "SENIM_ACCESS_TOKEN_TTL", 300, 30, 300),
            refresh_token_ttl=_int(env, "SENIM_REFRESH_TOKEN_TTL", 30 * 24 * 3600, 60, 180 * 24 * 3600),
            id_token_ttl=_int(env, "SENIM_ID_TOKEN_TTL", 300, 30, 3600),
            authorization_code_ttl=_int(env, "SENIM_CODE_TTL", 60, 10, 60),
            par_ttl=_int(env, "SENIM_PAR_TTL", 60, 60, 90),
            interaction_ttl=_int(env, "SENIM_INTERACTION_TTL", 600, 60, 3600),
            client_assertion_max_age=_int(env, "SENIM_CLIENT_ASSERTION_MAX_AGE", 300, 10, 3600),
            dpop_iat_window=_int(env, "SENIM_DPOP_IAT_WINDOW", 60, 5, 300),
            dpop_require_nonce=_bool(env, "SENIM_DPOP_REQUIRE_NONCE", False),
            sms_backend=sms_backend,
            twilio_account_sid=env.get("SENIM_TWILIO_ACCOUNT_SID") or None,
            twilio_auth_token=env.get("SENIM_TWILIO_AUTH_TOKEN") or None,
            twilio_from_number=env.get("SENIM_TWILIO_FROM") or None,
            twilio_api_base=(env.get("SENIM_TWILIO_API_BASE") or "").rstrip("/") or None,
            biometric_key=env.get("SENIM_BIOMETRIC_KEY") or None,
            rate_limit_storage=env.get("SENIM_RATE_LIMIT_STORAGE") or "memory://",
            default_locale=_choice(env, "SENIM_DEFAULT_LOCALE", "ru", LOCALES),
            workers=_int(env, "SENIM_WORKERS", 2, 1, 64),
            log_level=(env.get("SENIM_LOG_LEVEL") or "INFO").upper(),
            audit_log_path=Path(audit_path) if audit_path else None,
            notify_interval=_int(env, "SENIM_NOTIFY_INTERVAL", 5, 0, 3600),
            proxy_timeout=_float(env, "SENIM_PROXY_TIMEOUT", 5.0, 0.05, 120.0),
            proxy_rate_limit=_rate_limit(env, "SENIM_PROXY_RATE_LIMIT", "1200/minute"),
            mtls_client_cert_header=(env.get("SENIM_MTLS_CLIENT_CERT_HEADER") or "").strip(),
            api_check_interval=_int(env, "SENIM_API_CHECK_INTERVAL", 45, 5, 7 * 24 * 3600),
            metrics_token=_metrics_token(env),
        )

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)
