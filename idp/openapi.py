"""The OpenAPI 3 document of the authorization server's HTTP endpoints,
served at ``/openapi/authorization-server.json``. The discovery document
remains the normative description for OAuth clients; this one is for people
and tools that read OpenAPI."""

from __future__ import annotations

_FORM = "application/x-www-form-urlencoded"

_CLIENT_AUTH = {
    "client_assertion_type": {
        "type": "string",
        "enum": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"],
    },
    "client_assertion": {
        "type": "string",
        "description": "private_key_jwt (RFC 7523): iss = sub = client_id, aud = issuer, unique jti, exp <= 5 min",
    },
}

_OAUTH_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "example": "invalid_grant"},
        "error_description": {"type": "string"},
    },
}

_DPOP_HEADER = {
    "name": "DPoP",
    "in": "header",
    "required": True,
    "description": "DPoP proof JWT (RFC 9449) for this method and URL",
    "schema": {"type": "string"},
}


def _error_responses(*codes: str) -> dict:
    return {
        code: {
            "description": "Standard OAuth error (RFC 6749 §5.2)",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OAuthError"}}},
        }
        for code in codes
    }


def _form(properties: dict, required: list[str]) -> dict:
    return {
        "required": True,
        "content": {
            _FORM: {
                "schema": {
                    "type": "object",
                    "required": [*required, "client_assertion_type", "client_assertion"],
                    "properties": {**properties, **_CLIENT_AUTH},
                }
            }
        },
    }


def openapi_document(issuer: str) -> dict:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Senim authorization server",
            "version": "1.0.0",
            "description": "OAuth 2.0 / OpenID Connect endpoints of the Senim platform (FAPI 2.0 profile: "
            "PAR, PKCE S256, private_key_jwt, DPoP). Discovery: /.well-known/openid-configuration.",
        },
        "servers": [{"url": issuer}],
        "paths": {
            "/.well-known/openid-configuration": {
                "get": {
                    "summary": "OpenID Provider / authorization server metadata",
                    "responses": {
                        "200": {
                            "description": "Metadata (OIDC Discovery, RFC 8414)",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
            "/jwks": {
                "get": {
                    "summary": "Public signing keys",
                    "responses": {
                        "200": {
                            "description": "JWK Set",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics of the platform (docs/monitoring.md)",
                    "description": "With SENIM_METRICS_TOKEN set: `Authorization: Bearer <token>` from any "
                    "address; without it, loopback clients only, never through a reverse proxy, and "
                    "nobody in production.",
                    "security": [{}, {"metricsToken": []}],
                    "responses": {
                        "200": {
                            "description": "The Prometheus text exposition format (OpenMetrics when asked for)",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        **_error_responses("401", "403"),
                    },
                }
            },
            "/par": {
                "post": {
                    "summary": "Pushed authorization request (RFC 9126)",
                    "parameters": [{**_DPOP_HEADER, "required": False}],
                    "requestBody": _form(
                        {
                            "response_type": {"type": "string", "enum": ["code"]},
                            "client_id": {"type": "string"},
                            "redirect_uri": {"type": "string", "format": "uri"},
                            "scope": {"type": "string", "example": "openid accounts"},
                            "state": {"type": "string"},
                            "nonce": {"type": "string"},
                            "code_challenge": {"type": "string"},
                            "code_challenge_method": {"type": "string", "enum": ["S256"]},
                            "authorization_details": {
                                "type": "string",
                                "description": 'JSON array (RFC 9396), e.g. [{"type":"account_information",'
                                '"consent_id":"..."}]',
                            },
                            "dpop_jkt": {"type": "string"},
                            "request": {"type": "string", "description": "signed request object (RFC 9101)"},
                        },
                        [],
                    ),
                    "responses": {
                        "201": {
                            "description": "The request_uri to send the browser with",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["request_uri", "expires_in"],
                                        "properties": {
                                            "request_uri": {"type": "string"},
                                            "expires_in": {"type": "integer"},
                                        },
                                    }
                                }
                            },
                        },
                        **_error_responses("400", "401"),
                    },
                }
            },
            "/authorize": {
                "get": {
                    "summary": "Start the customer's login and consent (PAR only)",
                    "parameters": [
                        {"name": "client_id", "in": "query", "required": True, "schema": {"type": "string"}},
                        {
                            "name": "request_uri",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "303": {"description": "To the customer's login page"},
                        "400": {"description": "The request cannot continue (shown to the customer)"},
                    },
                }
            },
            "/authorize/resume/{interaction_id}": {
                "get": {
                    "summary": "Back from the customer's login and consent",
                    "parameters": [
                        {
                            "name": "interaction_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "303": {
                            "description": "To the client's redirect_uri with code, state, iss (RFC 9207)"
                        },
                        "400": {"description": "Unknown, expired, finished or another browser's interaction"},
                    },
                }
            },
            "/token": {
                "post": {
                    "summary": "Token endpoint",
                    "parameters": [_DPOP_HEADER],
                    "requestBody": _form(
                        {
                            "grant_type": {
                                "type": "string",
                                "enum": ["authorization_code", "refresh_token", "client_credentials"],
                            },
                            "code": {"type": "string"},
                            "redirect_uri": {"type": "string"},
                            "code_verifier": {"type": "string"},
                            "refresh_token": {"type": "string"},
                            "scope": {"type": "string"},
                        },
                        ["grant_type"],
                    ),
                    "responses": {
                        "200": {
                            "description": "DPoP-bound tokens",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["access_token", "token_type", "expires_in"],
                                        "properties": {
                                            "access_token": {
                                                "type": "string",
                                                "description": "JWT (RFC 9068)",
                                            },
                                            "token_type": {"type": "string", "enum": ["DPoP"]},
                                            "expires_in": {"type": "integer", "maximum": 300},
                                            "scope": {"type": "string"},
                                            "refresh_token": {"type": "string"},
                                            "id_token": {"type": "string"},
                                            "authorization_details": {
                                                "type": "array",
                                                "items": {"type": "object"},
                                            },
                                        },
                                    }
                                }
                            },
                        },
                        **_error_responses("400", "401"),
                    },
                }
            },
            "/userinfo": {
                "get": {
                    "summary": "The customer's claims",
                    "security": [{"dpop": []}],
                    "parameters": [_DPOP_HEADER],
                    "responses": {
                        "200": {
                            "description": "Claims",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["sub"],
                                        "properties": {"sub": {"type": "string"}},
                                    }
                                }
                            },
                        },
                        **_error_responses("401", "403"),
                    },
                }
            },
            "/introspect": {
                "post": {
                    "summary": "Token introspection (RFC 7662), for the client's own tokens",
                    "requestBody": _form(
                        {"token": {"type": "string"}, "token_type_hint": {"type": "string"}}, ["token"]
                    ),
                    "responses": {
                        "200": {
                            "description": "active, and the token's claims when active",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["active"],
                                        "properties": {
                                            "active": {"type": "boolean"},
                                            "consent_id": {
                                                "type": "string",
                                                "description": "the consent the token's grant is tied to",
                                            },
                                        },
                                    }
                                }
                            },
                        },
                        **_error_responses("400", "401"),
                    },
                }
            },
            "/revoke": {
                "post": {
                    "summary": "Token revocation (RFC 7009)",
                    "requestBody": _form(
                        {"token": {"type": "string"}, "token_type_hint": {"type": "string"}}, ["token"]
                    ),
                    "responses": {
                        "200": {"description": "Revoked (or unknown)"},
                        **_error_responses("400", "401"),
                    },
                }
            },
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}},
            "/readyz": {
                "get": {
                    "summary": "Readiness (database, signing key)",
                    "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}},
                }
            },
        },
        "components": {
            "schemas": {"OAuthError": _OAUTH_ERROR},
            "securitySchemes": {
                "dpop": {
                    "type": "http",
                    "scheme": "DPoP",
                    "description": "Authorization: DPoP <access token>, with a DPoP proof carrying ath",
                },
                "metricsToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "SENIM_METRICS_TOKEN, for a Prometheus scraping /metrics",
                },
            },
        },
    }
