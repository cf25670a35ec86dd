"""Reading a customer's accounts, balances and recent transactions from each bank of a consent.

Every call goes to the platform's resource proxy (``/open-banking/v1``, the
bank named by ``x-provider-id``) with the consent's DPoP-bound access token.
The banks are read side by side (one thread each); a bank that refuses or
fails is recorded as such (status and the standard's error code, never the
answer's text) and the others still show.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import requests

from demo_app.api_user import ApiUser

#: How far back "recent transactions" reach, and how many pages of 25 are read at most.
TRANSACTION_DAYS = 90
MAX_TRANSACTION_PAGES = 4
#: Transactions kept per account for the dashboard, newest first.
KEPT_TRANSACTIONS = 20


def read_banks(user: ApiUser, access_token: str, bank_ids: list[str]) -> dict[str, dict]:
    """What each bank answered, by bank id: ``{"accounts": [...]}`` or ``{"error": {...}}``."""
    if not bank_ids:
        return {}
    with ThreadPoolExecutor(max_workers=min(len(bank_ids), 5)) as pool:
        answers = pool.map(lambda bank: read_bank(user, access_token, bank), bank_ids)
        return dict(zip(bank_ids, answers, strict=True))


def read_bank(user: ApiUser, access_token: str, bank_id: str) -> dict:
    """One bank's accounts, each with its balances and recent transactions."""
    accounts, error = _get(user, access_token, bank_id, "/accounts")
    if error is not None:
        return {"error": error}
    result = []
    for account in accounts.get("Account", []):
        account_id = account.get("AccountId")
        if not isinstance(account_id, str):
            continue
        balances, balance_error = _get(user, access_token, bank_id, f"/accounts/{account_id}/balances")
        transactions, transaction_error = _transactions(user, access_token, bank_id, account_id)
        result.append(
            {
                "account": account,
                "balances": (balances or {}).get("Balance", []),
                "transactions": transactions,
                "errors": [e for e in (balance_error, transaction_error) if e is not None],
            }
        )
    return {"accounts": result}


def _transactions(
    user: ApiUser, access_token: str, bank_id: str, account_id: str
) -> tuple[list[dict], dict | None]:
    since = (datetime.now(UTC) - timedelta(days=TRANSACTION_DAYS)).replace(microsecond=0)
    found: list[dict] = []
    page, pages = 1, 1
    while page <= min(pages, MAX_TRANSACTION_PAGES):
        data, error = _get(
            user,
            access_token,
            bank_id,
            f"/accounts/{account_id}/transactions",
            {"fromBookingDateTime": since.isoformat(), "page": str(page)},
        )
        if error is not None:
            return found, error
        found.extend(data.get("Transaction", []))
        pages = data.get("_pages", 1)
        page += 1
    found.sort(key=lambda t: str(t.get("BookingDateTime", "")), reverse=True)
    return found[:KEPT_TRANSACTIONS], None


def _get(
    user: ApiUser, access_token: str, bank_id: str, path: str, params: dict | None = None
) -> tuple[dict, dict | None]:
    """``Data`` of one answer (with ``_pages`` from ``Meta.TotalPages``), or the error to show."""
    try:
        answer = user.read(access_token, bank_id, path, params)
    except requests.RequestException as error:
        return {}, {"status": None, "code": type(error).__name__}
    try:
        body = answer.json()
    except ValueError:
        body = None
    if answer.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("Data"), dict):
        code = None
        if isinstance(body, dict) and isinstance(body.get("Errors"), list) and body["Errors"]:
            first = body["Errors"][0]
            code = first.get("ErrorCode") if isinstance(first, dict) else None
        return {}, {"status": answer.status_code, "code": code}
    data = dict(body["Data"])
    meta = body.get("Meta") if isinstance(body.get("Meta"), dict) else {}
    total = meta.get("TotalPages")
    data["_pages"] = total if isinstance(total, int) and total > 0 else 1
    return data, None
