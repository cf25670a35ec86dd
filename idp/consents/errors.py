"""The platform's standard error shape for its REST APIs (Open Banking style):

    {"Code": "400 Bad Request", "Id": "<request id>", "Message": "...",
     "Errors": [{"ErrorCode": "KZ.SENIM.Field.Invalid", "Message": "...", "Path": "Data.Permissions[2]"}]}

``Id`` is the request id also sent as ``X-Request-Id``, so a support
question can be matched with the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus

from flask import Response, g, jsonify

FIELD_MISSING = "KZ.SENIM.Field.Missing"
FIELD_INVALID = "KZ.SENIM.Field.Invalid"
FIELD_INVALID_DATE = "KZ.SENIM.Field.InvalidDate"
FIELD_UNEXPECTED = "KZ.SENIM.Field.Unexpected"
HEADER_INVALID = "KZ.SENIM.Header.Invalid"
BODY_INVALID = "KZ.SENIM.Body.Invalid"
RESOURCE_NOT_FOUND = "KZ.SENIM.Resource.NotFound"
CONSENT_STATUS = "KZ.SENIM.Resource.InvalidConsentStatus"
UNKNOWN_PARTICIPANT = "KZ.SENIM.Participant.Unknown"
PARTICIPANT_BLOCKED = "KZ.SENIM.Participant.Blocked"
UNAUTHORISED = "KZ.SENIM.Unauthorised"
FORBIDDEN = "KZ.SENIM.Forbidden"


@dataclass(frozen=True)
class FieldError:
    code: str
    message: str
    path: str | None = None

    def as_dict(self) -> dict:
        item = {"ErrorCode": self.code, "Message": self.message}
        if self.path:
            item["Path"] = self.path
        return item


@dataclass
class ApiError(Exception):
    """A refusal of an API request, with every problem found."""

    status: int
    message: str
    errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


def error_response(error: ApiError) -> Response:
    phrase = HTTPStatus(error.status).phrase
    response = jsonify(
        {
            "Code": f"{error.status} {phrase}",
            "Id": g.get("request_id", ""),
            "Message": error.message,
            "Errors": [e.as_dict() for e in error.errors]
            or [{"ErrorCode": BODY_INVALID, "Message": error.message}],
        }
    )
    response.status_code = error.status
    response.headers["Cache-Control"] = "no-store"
    return response
