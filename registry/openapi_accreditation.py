"""OpenAPI 3 paths of the registry's accreditation routes (``registry.accreditation_routes``).

Exported as ``PATHS`` and ``COMPONENTS`` to be merged into the registry's
served document (``/openapi/registry.json``); ``document()`` makes a
stand-alone one (for tests and tools).
"""

from __future__ import annotations

_ERROR = {"$ref": "#/components/schemas/Error"}
_PARTICIPANT_ID = {
    "name": "participant_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


COMPONENTS: dict = {
    "schemas": {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {"type": "string", "example": "not_found"},
                "error_description": {"type": "string"},
            },
        },
        "RegisterEntry": {
            "type": "object",
            "required": ["participant_id", "name", "bin", "roles"],
            "properties": {
                "participant_id": {"type": "string", "format": "uuid"},
                "name": {"type": "string"},
                "bin": {"type": "string", "pattern": "^[0-9]{12}$", "description": "BIN of the legal entity"},
                "roles": {"type": "array", "items": {"type": "string", "enum": ["api_provider", "api_user"]}},
                "accredited_since": {"type": "integer", "nullable": True, "description": "epoch seconds"},
                "accreditation_certificate_number": {"type": "string", "nullable": True},
                "certificates": {
                    "type": "array",
                    "description": "certificates of the platform's CA in force (not revoked, not expired)",
                    "items": {
                        "type": "object",
                        "properties": {
                            "serial": {"type": "string", "description": "hexadecimal"},
                            "purpose": {"type": "string", "enum": ["mtls", "signing"]},
                            "not_after": {"type": "integer"},
                        },
                    },
                },
            },
        },
        "CertificateVerification": {
            "type": "object",
            "properties": {
                "valid": {"type": "boolean"},
                "current": {"type": "boolean", "description": "not superseded by a later certificate"},
                "participant_status": {"type": "string", "enum": ["registered", "active", "blocked"]},
                "claims": {"type": "object", "additionalProperties": True},
            },
        },
    }
}

PATHS: dict = {
    "/registry/v1/register": {
        "get": {
            "tags": ["register"],
            "summary": "The public register of accredited API providers and API users",
            "description": "Active participants only; never contacts of people.",
            "parameters": [
                {
                    "name": "role",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": ["api_provider", "api_user"]},
                }
            ],
            "responses": {
                "200": {
                    "description": "The register, by name",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "participants": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/RegisterEntry"},
                                    }
                                },
                            }
                        }
                    },
                },
                "400": _error("Unknown role"),
            },
        }
    },
    "/registry/v1/participants/{participant_id}/logo.png": {
        "get": {
            "tags": ["participants"],
            "summary": "The participant's logo (PNG, re-encoded by the platform)",
            "parameters": [_PARTICIPANT_ID],
            "responses": {
                "200": {
                    "description": "The logo",
                    "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
                },
                "404": _error("No such participant, or no logo"),
            },
        }
    },
    "/registry/v1/participants/{participant_id}/accreditation-certificate.jwt": {
        "get": {
            "tags": ["accreditation"],
            "summary": "The participant's current accreditation certificate (JWT, typ senim-accreditation+jwt)",
            "description": "Signed with the platform's key published at /jwks.",
            "parameters": [_PARTICIPANT_ID],
            "responses": {
                "200": {
                    "description": "The certificate",
                    "content": {"application/jwt": {"schema": {"type": "string"}}},
                },
                "404": _error("No such participant, or not accredited"),
            },
        }
    },
    "/registry/v1/participants/{participant_id}/accreditation-certificate.pdf": {
        "get": {
            "tags": ["accreditation"],
            "summary": "The participant's current accreditation certificate, for people (PDF)",
            "parameters": [_PARTICIPANT_ID],
            "responses": {
                "200": {
                    "description": "The certificate",
                    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                },
                "404": _error("No such participant, or not accredited"),
            },
        }
    },
    "/registry/v1/accreditation-certificates/verify": {
        "post": {
            "tags": ["accreditation"],
            "summary": "Check an accreditation certificate: signature, type, expiry, on record",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["certificate"],
                            "properties": {"certificate": {"type": "string", "description": "the JWT"}},
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "A valid certificate",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/CertificateVerification"}
                        }
                    },
                },
                "400": _error("Not a valid certificate (invalid_certificate) or no certificate sent"),
            },
        }
    },
    "/registry/v1/ca/certificate.pem": {
        "get": {
            "tags": ["certificate authority"],
            "summary": "The platform CA's certificate (PEM)",
            "responses": {
                "200": {
                    "description": "The CA certificate",
                    "content": {"application/x-pem-file": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/registry/v1/ca/crl": {
        "get": {
            "tags": ["certificate authority"],
            "summary": "The certificate revocation list (RFC 5280 §5), DER, signed by the CA",
            "responses": {
                "200": {
                    "description": "The CRL",
                    "content": {"application/pkix-crl": {"schema": {"type": "string", "format": "binary"}}},
                }
            },
        }
    },
}


def document(server_url: str = "/") -> dict:
    """A stand-alone OpenAPI 3 document of these paths."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Senim registry: register, accreditation certificates, certificate authority",
            "version": "1",
        },
        "servers": [{"url": server_url}],
        "paths": PATHS,
        "components": COMPONENTS,
    }
