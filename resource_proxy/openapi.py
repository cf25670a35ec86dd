"""The OpenAPI 3 document of the proxy, served at ``/openapi/open-banking.json``.

Derived from the standard's document (``resource_proxy/standard``), which
describes the API as a bank implements it: here the server is the platform
(``{issuer}/open-banking/v1``), the caller authenticates with a DPoP-bound
access token and a proof (RFC 9449 §7) instead of the platform's assertion,
and names the bank with ``x-provider-id``.
"""

from __future__ import annotations

import copy

from resource_proxy.checks import PROVIDER_HEADER
from resource_proxy.forwarding import PROXY_PREFIX
from resource_proxy.standard import load_document

_PROXY_ERRORS = {
    "400": "The bank is not named or unknown (x-provider-id), or a parameter is invalid",
    "401": "The access token or its DPoP proof is missing or invalid",
    "403": "No live consent covers the call, a participant is blocked, or the API is not routed",
    "429": "Too many calls by this API user (see Retry-After)",
    "502": "The bank could not be reached or answered outside the standard",
    "504": "The bank did not answer in time",
}


def proxy_openapi_document(issuer: str) -> dict:
    document = copy.deepcopy(load_document())
    document["info"]["title"] = "Senim Open Banking API (account information, via the platform)"
    document["info"]["description"] = (
        "The account-information standard as API users call it: through the platform, which checks the "
        "access token, its DPoP proof and the customer's consent on every call and routes it to the bank "
        "named in x-provider-id."
    )
    document["servers"] = [{"url": issuer + PROXY_PREFIX}]
    components = document.setdefault("components", {})
    components["securitySchemes"] = {
        "DPoP": {
            "type": "http",
            "scheme": "DPoP",
            "description": "A DPoP-bound access token (RFC 9449 §7.1) of a customer's grant under an "
            "Authorised consent; send it as 'Authorization: DPoP <token>' with a DPoP proof carrying ath.",
        }
    }
    document["security"] = [{"DPoP": []}]
    parameters = components.setdefault("parameters", {})
    parameters["ProviderId"] = {
        "name": PROVIDER_HEADER,
        "in": "header",
        "required": True,
        "description": "The participant id of the bank (API provider) to read from",
        "schema": {"type": "string", "format": "uuid"},
    }
    parameters["DPoPProof"] = {
        "name": "DPoP",
        "in": "header",
        "required": True,
        "description": "DPoP proof JWT (RFC 9449 §4) for this method and URL, with ath",
        "schema": {"type": "string"},
    }
    error_ref = _error_schema_ref(document)
    for operations in document["paths"].values():
        for operation in operations.values():
            operation.setdefault("parameters", [])
            operation["parameters"] += [
                {"$ref": "#/components/parameters/ProviderId"},
                {"$ref": "#/components/parameters/DPoPProof"},
            ]
            operation.pop("security", None)
            responses = operation.setdefault("responses", {})
            for status, description in _PROXY_ERRORS.items():
                if status not in responses and error_ref:
                    responses[status] = {
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": error_ref}}},
                    }
    return document


def _error_schema_ref(document: dict) -> str | None:
    for name in document.get("components", {}).get("schemas", {}):
        if name.lower() in ("error", "errorresponse"):
            return f"#/components/schemas/{name}"
    return None
