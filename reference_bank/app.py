"""The reference bank as a WSGI app: the account-information standard over generated data.

It is the known-good implementation the proxy is tested against, the banks of
the demo, and later the sandbox: it verifies the platform's assertion before
anything else, shows a customer only their own accounts, shapes every answer
by the assertion's permissions with the standard's own rules, and answers
errors in the standard's shape with the interaction id echoed. Faults
(``malformed``, ``error``) and ``hold`` make it misbehave on purpose.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from urllib.parse import urlencode

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from reference_bank.assertion import (
    AssertionRefused,
    AssertionVerifier,
    Grant,
    PlatformKeys,
    fetch_jwks_over_http,
)
from reference_bank.config import BankConfig
from reference_bank.data import ALMATY, Account, BankData, Transaction, generate
from resource_proxy.standard import (
    INTERACTION_HEADER,
    PAGE_SIZE,
    load_document,
    permits,
    shape_account,
    shape_transaction,
    transaction_directions,
)
from resource_proxy.standard import errors as E


class BankError(Exception):
    """An answer in the standard's error shape."""

    def __init__(self, status: int, code: str, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.path = status, code, message, path


def create_bank_app(config: BankConfig) -> Flask:
    """A reference bank serving the standard at its root (``/accounts…``)."""
    app = Flask(__name__)
    app.config["BANK"] = config
    app.config["BANK_DATA"] = generate(config)
    keys = PlatformKeys(config.platform_jwks_url, config.jwks_fetcher or fetch_jwks_over_http, config.now)
    app.config["VERIFIER"] = AssertionVerifier(config.bank_id, config.platform_issuer, keys, config.now)

    app.before_request(_interaction_id)
    app.after_request(_echo_interaction_id)
    app.register_error_handler(BankError, _error_answer)
    app.register_error_handler(HTTPException, _http_error_answer)

    app.add_url_rule("/", view_func=_about)
    app.add_url_rule("/openapi.json", view_func=_openapi)
    app.add_url_rule("/accounts", view_func=_accounts)
    app.add_url_rule("/accounts/<account_id>", view_func=_account)
    app.add_url_rule("/accounts/<account_id>/balances", view_func=_balances)
    app.add_url_rule("/accounts/<account_id>/transactions", view_func=_transactions)
    return app


# --- the frame of every answer ------------------------------------------------------------


def _interaction_id() -> None:
    g.interaction_id = request.headers.get(INTERACTION_HEADER) or str(uuid.uuid4())


def _echo_interaction_id(response: Response) -> Response:
    response.headers[INTERACTION_HEADER] = g.get("interaction_id") or str(uuid.uuid4())
    response.headers["Cache-Control"] = "no-store"
    return response


def _error_answer(error: BankError) -> Response:
    body = E.error_body(error.status, g.get("interaction_id", ""), error.message, error.code, error.path)
    response = jsonify(body)
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def _http_error_answer(error: HTTPException) -> Response:
    status = error.code or 500
    code = E.RESOURCE_NOT_FOUND if status == 404 else E.UNEXPECTED_ERROR
    return _error_answer(BankError(status, code, error.description or "error"))


def _bank() -> BankConfig:
    return current_app.config["BANK"]


def _data() -> BankData:
    return current_app.config["BANK_DATA"]


def _about() -> Response:
    bank = _bank()
    return jsonify({"Name": bank.name, "BankId": bank.bank_id, "Standard": "account-information v1"})


def _openapi() -> Response:
    document = dict(load_document())
    document["servers"] = [{"url": request.url_root.rstrip("/")}]
    return jsonify(document)


# --- a data call, step by step --------------------------------------------------------------


def _authorised(endpoint_key: str) -> Grant:
    """The checks before any data is read: assertion (401), hold, permission (403), faults."""
    bank = _bank()
    try:
        grant = current_app.config["VERIFIER"].verify(request.headers.get("Authorization"), g.interaction_id)
    except AssertionRefused as refused:
        raise BankError(401, E.UNAUTHORISED, str(refused)) from None
    if bank.hold is not None:
        bank.hold.wait(bank.hold_timeout)
    if not permits(endpoint_key, grant.permissions):
        raise BankError(403, E.PERMISSION_MISSING, "the consent's permissions do not cover this endpoint")
    if bank.fault == "error":
        raise BankError(500, E.UNEXPECTED_ERROR, "the bank failed (fault mode)")
    return grant


def _own_account(grant: Grant, account_id: str) -> Account:
    account = _data().accounts.get(account_id)
    # another customer's account is "not found", never "forbidden": its existence is not told
    if account is None or account.owner_iin != grant.customer_iin:
        raise BankError(404, E.RESOURCE_NOT_FOUND, "no such account", "AccountId")
    return account


def _answer(data: dict, links: dict | None = None, meta: dict | None = None) -> Response:
    body = {"Data": data, "Links": links or {"Self": _self_url()}, "Meta": meta or {"TotalPages": 1}}
    if _bank().fault == "malformed":
        body = _malformed(body)
    return jsonify(body)


def _self_url(**query: object) -> str:
    url = request.url_root.rstrip("/") + request.path
    return f"{url}?{urlencode(query)}" if query else url


def _malformed(body: dict) -> dict:
    """The same answer as a careless bank would send it: lower-case keys, numbers for amounts."""
    for items in body["Data"].values():
        for item in items:
            if isinstance(item.get("Amount"), dict):
                item["Amount"]["Amount"] = float(item["Amount"]["Amount"])
            if "Currency" in item:
                item["Currency"] = item["Currency"].lower()
    return {"data": body["Data"], "links": body["Links"]}


def _money(minor: int) -> str:
    return f"{abs(minor) // 100}.{abs(minor) % 100:02d}"


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _account_json(account: Account) -> dict:
    return {
        "AccountId": account.account_id,
        "Currency": account.currency,
        "AccountType": "Personal",
        "AccountSubType": account.sub_type,
        "Nickname": account.nickname,
        "OpeningDate": _iso(account.opened),
        "Account": [{"SchemeName": "KZ.IBAN", "Identification": account.iban, "Name": account.holder_name}],
        "Holder": {"SchemeName": "KZ.IIN", "Identification": account.owner_iin},
    }


def _accounts() -> Response:
    grant = _authorised("GET /accounts")
    accounts = _data().customers.get(grant.customer_iin, [])
    return _answer({"Account": [shape_account(_account_json(a), grant.permissions) for a in accounts]})


def _account(account_id: str) -> Response:
    grant = _authorised("GET /accounts/{AccountId}")
    account = _own_account(grant, account_id)
    return _answer({"Account": [shape_account(_account_json(account), grant.permissions)]})


def _balances(account_id: str) -> Response:
    grant = _authorised("GET /accounts/{AccountId}/balances")
    account = _own_account(grant, account_id)
    balances = [
        {
            "AccountId": account.account_id,
            "Type": kind,
            "Amount": {"Amount": _money(amount), "Currency": account.currency},
            "CreditDebitIndicator": "Credit" if amount >= 0 else "Debit",
            "DateTime": _iso(account.as_of),
        }
        for kind, amount in (
            ("ClosingAvailable", account.available_balance),
            ("InterimBooked", account.booked_balance),
        )
    ]
    return _answer({"Balance": balances})


# --- transactions: window, filters, paging -----------------------------------------------------


def _parse_moment(text: str, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise BankError(400, E.FIELD_INVALID_DATE, f"{where} must be an ISO 8601 date-time", where) from None
    # a date-time without an offset is Almaty time, the bank's
    return moment if moment.tzinfo else moment.replace(tzinfo=ALMATY)


def _window(grant: Grant) -> tuple[datetime | None, datetime | None]:
    """The query's window intersected with the consent's (TransactionFrom/ToDateTime)."""
    asked_from = request.args.get("fromBookingDateTime")
    asked_to = request.args.get("toBookingDateTime")
    start = _parse_moment(asked_from, "fromBookingDateTime") if asked_from else None
    end = _parse_moment(asked_to, "toBookingDateTime") if asked_to else None
    if start and end and start > end:
        raise BankError(
            400, E.FIELD_INVALID_DATE, "fromBookingDateTime is after toBookingDateTime", "fromBookingDateTime"
        )
    if grant.transaction_from:
        consent_from = _parse_moment(grant.transaction_from, "transaction_from")
        start = max(start, consent_from) if start else consent_from
    if grant.transaction_to:
        consent_to = _parse_moment(grant.transaction_to, "transaction_to")
        end = min(end, consent_to) if end else consent_to
    return start, end


def _page_number() -> int:
    text = request.args.get("page", "1")
    if not (text.isascii() and text.isdigit()) or int(text) < 1:  # "²".isdigit() is true
        raise BankError(400, E.FIELD_INVALID, "page must be a whole number from 1", "page")
    return int(text)


def _transaction_json(account: Account, t: Transaction) -> dict:
    item = {
        "AccountId": account.account_id,
        "TransactionId": t.transaction_id,
        "BookingDateTime": _iso(t.booked),
        "ValueDateTime": _iso(t.booked),
        "Status": "Pending" if t.pending else "Booked",
        "CreditDebitIndicator": "Credit" if t.credit else "Debit",
        "Amount": {"Amount": _money(t.amount), "Currency": account.currency},
        "TransactionInformation": t.information,
        "BankTransactionCode": {"Code": t.code[0], "SubCode": t.code[1]},
    }
    if t.merchant:
        item["MerchantDetails"] = {"MerchantName": t.merchant[0], "MerchantCategoryCode": t.merchant[1]}
    if not t.pending:
        item["Balance"] = {
            "Amount": {"Amount": _money(t.balance_after), "Currency": account.currency},
            "CreditDebitIndicator": "Credit" if t.balance_after >= 0 else "Debit",
            "Type": "InterimBooked",
        }
    return item


def _transactions(account_id: str) -> Response:
    grant = _authorised("GET /accounts/{AccountId}/transactions")
    account = _own_account(grant, account_id)
    start, end = _window(grant)
    page = _page_number()
    directions = transaction_directions(grant.permissions)
    chosen = [
        t
        for t in account.transactions
        if (start is None or t.booked >= start)
        and (end is None or t.booked <= end)
        and ("Credit" if t.credit else "Debit") in directions
    ]
    total_pages = max(1, -(-len(chosen) // PAGE_SIZE))
    if page > total_pages:
        raise BankError(400, E.FIELD_INVALID, f"page must be at most {total_pages}", "page")
    shown = chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    query = {k: request.args[k] for k in ("fromBookingDateTime", "toBookingDateTime") if k in request.args}
    links = {"Self": _self_url(**query, page=page), "First": _self_url(**query, page=1)}
    if page > 1:
        links["Prev"] = _self_url(**query, page=page - 1)
    if page < total_pages:
        links["Next"] = _self_url(**query, page=page + 1)
    links["Last"] = _self_url(**query, page=total_pages)
    meta: dict = {"TotalPages": total_pages}
    if account.transactions:
        meta["FirstAvailableDateTime"] = _iso(account.transactions[-1].booked)
        meta["LastAvailableDateTime"] = _iso(account.transactions[0].booked)
    items = [shape_transaction(_transaction_json(account, t), grant.permissions) for t in shown]
    return _answer({"Transaction": items}, links, meta)
