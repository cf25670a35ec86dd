"""The account-information standard (v1): its OpenAPI document and the rules proxy and banks share.

This package stands alone (no flask, senim, idp or registry imports) so a
bank — the reference bank here, a real bank's adapter later — can use the
very rules the proxy enforces: which permission each endpoint needs, what
Basic and Detail show, what a valid answer looks like.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from resource_proxy.standard.permissions import (
    ACCOUNT_DETAIL_FIELDS,
    ENDPOINTS,
    PAGE_SIZE,
    PERMISSIONS,
    TRANSACTION_DETAIL_FIELDS,
    Endpoint,
    match_endpoint,
    permits,
    shape_account,
    shape_transaction,
    shows_account_detail,
    shows_transaction_detail,
    transaction_directions,
)

DOCUMENT_PATH = Path(__file__).resolve().parent / "account-information-v1.json"
STANDARD = "account-information"
VERSION = "v1"
#: The ``typ`` header of the platform's assertion to a bank.
ASSERTION_TYP = "senim-ais-assertion+jwt"
INTERACTION_HEADER = "x-fapi-interaction-id"

__all__ = [
    "ACCOUNT_DETAIL_FIELDS",
    "ASSERTION_TYP",
    "DOCUMENT_PATH",
    "ENDPOINTS",
    "INTERACTION_HEADER",
    "PAGE_SIZE",
    "PERMISSIONS",
    "STANDARD",
    "TRANSACTION_DETAIL_FIELDS",
    "VERSION",
    "Endpoint",
    "load_document",
    "match_endpoint",
    "permits",
    "shape_account",
    "shape_transaction",
    "shows_account_detail",
    "shows_transaction_detail",
    "transaction_directions",
]


@cache
def load_document() -> dict:
    """The OpenAPI 3 document of the standard (parsed once; do not mutate it)."""
    return json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
