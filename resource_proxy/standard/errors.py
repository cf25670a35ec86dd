"""The standard's error answer, built the same way by the proxy and by any bank.

Shape (the platform's REST error shape, UK Open Banking style):
``{"Code": "404 Not Found", "Id": "<x-fapi-interaction-id>", "Message": "...",
"Errors": [{"ErrorCode": "KZ.SENIM.Resource.NotFound", "Message": "...", "Path": "..."}]}``.
``Id`` is the interaction id so a complaint can be traced through proxy and bank.
"""

from __future__ import annotations

from http import HTTPStatus

FIELD_INVALID = "KZ.SENIM.Field.Invalid"
FIELD_INVALID_DATE = "KZ.SENIM.Field.InvalidDate"
HEADER_INVALID = "KZ.SENIM.Header.Invalid"
RESOURCE_NOT_FOUND = "KZ.SENIM.Resource.NotFound"
METHOD_NOT_ALLOWED = "KZ.SENIM.Method.NotAllowed"
UNAUTHORISED = "KZ.SENIM.Unauthorised"
FORBIDDEN = "KZ.SENIM.Forbidden"
PERMISSION_MISSING = "KZ.SENIM.Resource.ConsentMismatch"
TOO_MANY_REQUESTS = "KZ.SENIM.TooManyRequests"
UNEXPECTED_ERROR = "KZ.SENIM.UnexpectedError"
BANK_UNAVAILABLE = "KZ.SENIM.Provider.Unavailable"
BANK_INVALID_ANSWER = "KZ.SENIM.Provider.InvalidAnswer"
BANK_TIMEOUT = "KZ.SENIM.Provider.Timeout"


def error_body(status: int, interaction_id: str, message: str, code: str, path: str | None = None) -> dict:
    """The body of an error answer with one problem."""
    item = {"ErrorCode": code, "Message": message}
    if path:
        item["Path"] = path
    return {
        "Code": f"{status} {HTTPStatus(status).phrase}",
        "Id": interaction_id,
        "Message": message,
        "Errors": [item],
    }
