"""The OpenAPI 3 document of the registry's REST API, served at ``/openapi/registry.json``.

The registry grows by areas (the showcase and check history now; accreditation,
apps, billing later): each area describes its paths and schemas in a ``PathGroup``
added to ``PATH_GROUPS``; the document merges them and refuses two areas
describing the same path or schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from registry.conformance import FAILED, NOT_RUN, PASSED
from registry.models import API_STATUSES, CHECK_TRIGGERS

PREFIX = "/registry/v1"


@dataclass(frozen=True)
class PathGroup:
    """One area of the registry's API: its paths (under ``PREFIX``) and component schemas."""

    paths: dict
    schemas: dict = field(default_factory=dict)


def _json(description: str, schema_ref: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}},
    }


_ERRORS = {
    "400": _json("The request is invalid (error: invalid_request)", "RegistryError"),
    "404": _json("No such resource (error: not_found)", "RegistryError"),
}

_COMMON_SCHEMAS = {
    "RegistryError": {
        "type": "object",
        "required": ["error", "error_description"],
        "properties": {
            "error": {"type": "string", "example": "not_found"},
            "error_description": {"type": "string"},
        },
    },
}

SHOWCASE = PathGroup(
    paths={
        "/showcase": {
            "get": {
                "summary": "Published APIs with their owner, standard, version and health",
                "description": "Public and read-only. Only published APIs are listed; a bank's base URLs "
                "are never shown (API users call banks through the platform's proxy).",
                "parameters": [
                    {
                        "name": "q",
                        "in": "query",
                        "required": False,
                        "description": "Text searched in the owner's name, the description and the standard",
                        "schema": {"type": "string", "maxLength": 100},
                    }
                ],
                "responses": {"200": _json("The matching published APIs", "Showcase"), "400": _ERRORS["400"]},
            }
        }
    },
    schemas={
        "Showcase": {
            "type": "object",
            "required": ["apis"],
            "properties": {"apis": {"type": "array", "items": {"$ref": "#/components/schemas/ShowcaseApi"}}},
        },
        "ShowcaseApi": {
            "type": "object",
            "required": ["id", "owner", "standard", "version", "health"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "owner": {
                    "type": "object",
                    "required": ["id", "name"],
                    "properties": {"id": {"type": "string", "format": "uuid"}, "name": {"type": "string"}},
                },
                "standard": {"type": "string", "example": "account-information"},
                "version": {"type": "string", "example": "v1"},
                "description": {"type": "string", "nullable": True},
                "published_at": {"type": "integer", "nullable": True, "description": "epoch seconds"},
                "health": {"$ref": "#/components/schemas/ApiHealth"},
            },
        },
        "ApiHealth": {
            "type": "object",
            "required": ["window_seconds", "checks_counted", "uptime_percent", "latency_ms"],
            "properties": {
                "window_seconds": {"type": "integer", "example": 86400},
                "checks_counted": {"type": "integer"},
                "uptime_percent": {"type": "number", "nullable": True},
                "latency_ms": {
                    "type": "object",
                    "properties": {
                        "median": {"type": "integer", "nullable": True},
                        "p95": {"type": "integer", "nullable": True},
                    },
                },
                "last_checked_at": {"type": "integer", "nullable": True},
                "last_check_passed": {"type": "boolean", "nullable": True},
            },
        },
    },
)

CHECK_HISTORY = PathGroup(
    paths={
        "/apis/{api_id}/checks": {
            "get": {
                "summary": "The API's conformance check runs, newest first",
                "description": "Public for now: the runs name checks and fields, never account data, "
                "addresses or secrets.",
                "parameters": [
                    {"name": "api_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                    },
                ],
                "responses": {
                    "200": _json("The runs", "CheckHistory"),
                    "400": _ERRORS["400"],
                    "404": _ERRORS["404"],
                },
            }
        }
    },
    schemas={
        "CheckHistory": {
            "type": "object",
            "required": ["api_id", "checks"],
            "properties": {
                "api_id": {"type": "string"},
                "status": {"type": "string", "enum": list(API_STATUSES)},
                "checks": {"type": "array", "items": {"$ref": "#/components/schemas/CheckRun"}},
            },
        },
        "CheckRun": {
            "type": "object",
            "required": ["id", "trigger", "started_at", "finished_at", "passed", "results"],
            "properties": {
                "id": {"type": "string"},
                "api_id": {"type": "string"},
                "trigger": {"type": "string", "enum": list(CHECK_TRIGGERS)},
                "started_at": {"type": "integer"},
                "finished_at": {"type": "integer"},
                "passed": {"type": "boolean"},
                "duration_ms": {"type": "integer"},
                "api_status": {"type": "string", "enum": list(API_STATUSES)},
                "results": {"type": "array", "items": {"$ref": "#/components/schemas/CheckResult"}},
            },
        },
        "CheckResult": {
            "type": "object",
            "required": ["name", "status", "passed", "detail", "duration_ms"],
            "properties": {
                # no enum: the history keeps the names of checks a later suite may rename
                "name": {
                    "type": "string",
                    "description": "The check, e.g. sandbox_reachable (docs/api-publication.md)",
                },
                "status": {"type": "string", "enum": [PASSED, FAILED, NOT_RUN]},
                "passed": {"type": "boolean"},
                "detail": {"type": "string"},
                "duration_ms": {"type": "integer"},
            },
        },
    },
)


def _accreditation() -> PathGroup:
    """The accreditation routes' paths (``registry.openapi_accreditation``), under ``PREFIX``."""
    from registry.openapi_accreditation import COMPONENTS, PATHS

    return PathGroup(
        paths={path.removeprefix(PREFIX): item for path, item in PATHS.items()},
        schemas=dict(COMPONENTS.get("schemas", {})),
    )


ACCREDITATION = _accreditation()

#: Every area of the registry's API; a new area appends its group here.
PATH_GROUPS: tuple[PathGroup, ...] = (SHOWCASE, CHECK_HISTORY, ACCREDITATION)


def registry_openapi_document(issuer: str, groups: tuple[PathGroup, ...] = PATH_GROUPS) -> dict:
    paths: dict = {}
    schemas: dict = dict(_COMMON_SCHEMAS)
    for group in groups:
        for path, item in group.paths.items():
            if path in paths:
                raise ValueError(f"two registry areas describe {path}")
            paths[path] = item
        for name, schema in group.schemas.items():
            if name in schemas:
                raise ValueError(f"two registry areas define the schema {name}")
            schemas[name] = schema
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Senim registry",
            "version": "1.0.0",
            "description": "The registry of the platform: the showcase of published APIs and their "
            "conformance checks; the public register of accredited participants, their accreditation "
            "certificates and logos; the platform's certificate authority (CA certificate, CRL).",
        },
        "servers": [{"url": issuer + PREFIX}],
        "paths": paths,
        "components": {"schemas": schemas},
    }
