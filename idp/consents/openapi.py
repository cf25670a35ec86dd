"""The OpenAPI 3 document of the consent API, served at ``/openapi/consents.json``."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from idp.consents.lifecycle import TRANSITIONS
from idp.consents.models import STATUSES
from idp.consents.service import MAX_PROVIDERS, MAX_PURPOSE, PERMISSIONS

bp = Blueprint("consents_openapi", __name__)

_DATE_TIME = {"type": "string", "format": "date-time", "example": "2027-05-01T00:00:00+05:00"}

_ERROR = {
    "type": "object",
    "required": ["Code", "Id", "Message", "Errors"],
    "properties": {
        "Code": {"type": "string", "example": "400 Bad Request"},
        "Id": {"type": "string", "description": "The request id (also the X-Request-Id header)"},
        "Message": {"type": "string"},
        "Errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["ErrorCode", "Message"],
                "properties": {
                    "ErrorCode": {"type": "string", "example": "KZ.SENIM.Field.Invalid"},
                    "Message": {"type": "string"},
                    "Path": {"type": "string", "example": "Data.Permissions[0]"},
                },
            },
        },
    },
}

_REQUEST = {
    "type": "object",
    "required": ["Data"],
    "properties": {
        "Data": {
            "type": "object",
            "additionalProperties": False,
            "required": ["Permissions", "ExpirationDateTime", "ProviderIds", "Purpose"],
            "properties": {
                "Permissions": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {"type": "string", "enum": list(PERMISSIONS)},
                    "description": "ReadTransactionsCredits/Debits only together with ReadTransactionsBasic or Detail",
                },
                "ExpirationDateTime": {**_DATE_TIME, "description": "In the future, at most 180 days ahead"},
                "TransactionFromDateTime": _DATE_TIME,
                "TransactionToDateTime": _DATE_TIME,
                "ProviderIds": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_PROVIDERS,
                    "uniqueItems": True,
                    "items": {"type": "string", "maxLength": 36},
                    "description": "Participant ids of the banks (active API providers) asked for",
                },
                "Purpose": {"type": "string", "minLength": 1, "maxLength": MAX_PURPOSE},
            },
        }
    },
}

_CONSENT = {
    "type": "object",
    "required": ["Data", "Links", "Meta"],
    "properties": {
        "Data": {
            "type": "object",
            "required": [
                "ConsentId",
                "Status",
                "CreationDateTime",
                "StatusUpdateDateTime",
                "Permissions",
                "ProviderIds",
                "Purpose",
                "ExpirationDateTime",
            ],
            "properties": {
                "ConsentId": {"type": "string"},
                "Status": {"type": "string", "enum": list(STATUSES)},
                "CreationDateTime": _DATE_TIME,
                "StatusUpdateDateTime": _DATE_TIME,
                "Permissions": {"type": "array", "items": {"type": "string", "enum": list(PERMISSIONS)}},
                "ProviderIds": {"type": "array", "items": {"type": "string"}},
                "AuthorisedProviderIds": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "The banks the customer kept when authorising",
                },
                "Purpose": {"type": "string"},
                "ExpirationDateTime": _DATE_TIME,
                "TransactionFromDateTime": _DATE_TIME,
                "TransactionToDateTime": _DATE_TIME,
            },
        },
        "Links": {"type": "object", "properties": {"Self": {"type": "string", "format": "uri"}}},
        "Meta": {"type": "object"},
    },
}


def _errors(*codes: str) -> dict:
    return {
        code: {
            "description": "Refused; the error in the platform's standard shape",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for code in codes
    }


def _consent_answer(description: str) -> dict:
    return {
        "description": description,
        "headers": {"x-fapi-interaction-id": {"schema": {"type": "string"}}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Consent"}}},
    }


def openapi_document(issuer: str) -> dict:
    transitions = "; ".join(f"{a} → {b} ({', '.join(r)})" for (a, b), r in TRANSITIONS.items())
    consent_id = {
        "name": "ConsentId",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "maxLength": 36},
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Senim consent API",
            "version": "1",
            "description": (
                "The central register of consents. An API user creates a consent (AwaitingAuthorisation), "
                "names it in a pushed authorization request (authorization_details of type "
                "account_information with consent_id), and the customer authorises or rejects it. "
                f"Status changes: {transitions}; a consent not authorised within 60 minutes is Rejected, "
                "an authorised one past its ExpirationDateTime is Expired. Consents are never deleted."
            ),
        },
        "servers": [{"url": issuer}],
        "security": [{"DPoP": []}],
        "paths": {
            "/consents": {
                "post": {
                    "summary": "Create a consent awaiting the customer's authorisation",
                    "parameters": [
                        {
                            "name": "x-idempotency-key",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"},
                            "description": "A retry with the same key and body returns the same consent",
                        },
                        {
                            "name": "x-fapi-interaction-id",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ConsentRequest"}}
                        },
                    },
                    "responses": {
                        "201": _consent_answer(
                            "The consent (or the one an earlier attempt with this key made)"
                        ),
                        **_errors("400", "401", "403", "415"),
                    },
                }
            },
            "/consents/{ConsentId}": {
                "get": {
                    "summary": "Read one of the API user's consents",
                    "parameters": [consent_id],
                    "responses": {"200": _consent_answer("The consent"), **_errors("401", "403", "404")},
                },
                "delete": {
                    "summary": "End a consent (Authorised → Revoked, AwaitingAuthorisation → Rejected; harmless when over)",
                    "parameters": [consent_id],
                    "responses": {
                        "204": {"description": "Ended (or already over)"},
                        **_errors("401", "403", "404"),
                    },
                },
            },
        },
        "components": {
            "securitySchemes": {
                "DPoP": {
                    "type": "http",
                    "scheme": "DPoP",
                    "description": (
                        "A client-credentials access token with scope 'consents', bound to a DPoP key "
                        "(RFC 9449): Authorization: DPoP <token> and a DPoP proof with ath"
                    ),
                }
            },
            "schemas": {"ConsentRequest": _REQUEST, "Consent": _CONSENT, "Error": _ERROR},
        },
    }


@bp.get("/openapi/consents.json")
def consents_openapi() -> Response:
    return jsonify(openapi_document(current_app.extensions["senim.settings"].issuer))
