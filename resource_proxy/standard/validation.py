"""Does a bank's answer follow the standard? The proxy asks before passing an answer on.

An API user builds on the standard, not on one bank, so an answer outside it
(a missing field, a bad IBAN, Detail fields under a Basic consent, debits
under a Credits-only consent) is the bank's failure to report, never
something to forward. ``validate_answer`` returns the problems found (empty:
the answer is good), checked with ``openapi_schema_validator`` against the
schemas of ``account-information-v1.json`` plus the rules a schema cannot say.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from openapi_schema_validator import OAS30Validator, oas30_format_checker

from resource_proxy.standard import load_document
from resource_proxy.standard.iban import is_valid_kz_iban
from resource_proxy.standard.iin import is_valid_iin
from resource_proxy.standard.permissions import (
    ACCOUNT_DETAIL_FIELDS,
    ENDPOINTS,
    TRANSACTION_DETAIL_FIELDS,
    permits,
    shows_account_detail,
    shows_transaction_detail,
    transaction_directions,
)


@cache
def _validator(schema_ref: str) -> OAS30Validator:
    # The components travel with the schema so "#/components/schemas/…" resolves inside it.
    root = {"components": load_document()["components"], "$ref": schema_ref}
    return OAS30Validator(root, format_checker=oas30_format_checker)


def _response_schema_ref(endpoint_key: str, status: int) -> str | None:
    path = ENDPOINTS[endpoint_key].path
    answer = load_document()["paths"][path]["get"]["responses"].get(str(status))
    if answer is None:
        return None
    return answer["content"]["application/json"]["schema"]["$ref"]


def _where(error_path: Iterable[object]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error_path).lstrip(".") or "(body)"


def validate_answer(
    endpoint_key: str, status: int, body: object, permissions: Iterable[str] | None = None
) -> list[str]:
    """The problems with ``body`` as the answer (``status``) to a call of ``endpoint_key``.

    With ``permissions`` (the consent's), also checks that the answer shows no
    more than they allow: no Detail fields under Basic, only the credit/debit
    directions granted, and no 200 to an endpoint they do not cover.
    """
    if endpoint_key not in ENDPOINTS:
        return [f"unknown endpoint {endpoint_key!r}"]
    ref = _response_schema_ref(endpoint_key, status)
    if ref is None:
        return [f"status {status} is not defined for {endpoint_key}"]
    problems = [
        f"{_where(e.absolute_path)}: {e.message}"
        for e in sorted(_validator(ref).iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if problems or status != 200:
        return problems
    problems += _kazakh_identifiers(body)
    if permissions is not None:
        problems += _within_permissions(endpoint_key, body, frozenset(permissions))
    return problems


def _kazakh_identifiers(body: dict) -> list[str]:
    # A pattern checks the form; the check digits need arithmetic.
    problems = []
    for i, account in enumerate(body["Data"].get("Account", [])):
        for j, ident in enumerate(account.get("Account", [])):
            if not is_valid_kz_iban(ident["Identification"]):
                problems.append(f"Data.Account[{i}].Account[{j}].Identification: IBAN check digits are wrong")
        holder = account.get("Holder")
        if holder and not is_valid_iin(holder["Identification"]):
            problems.append(f"Data.Account[{i}].Holder.Identification: IIN/BIN check digit is wrong")
    return problems


def _within_permissions(endpoint_key: str, body: dict, permissions: frozenset[str]) -> list[str]:
    if not permits(endpoint_key, permissions):
        return [f"a 200 answer to {endpoint_key}, which the permissions do not cover"]
    problems = []
    if not shows_account_detail(permissions):
        for i, account in enumerate(body["Data"].get("Account", [])):
            problems += [
                f"Data.Account[{i}].{f}: Detail field under ReadAccountsBasic"
                for f in ACCOUNT_DETAIL_FIELDS
                if f in account
            ]
    directions = transaction_directions(permissions)
    detail = shows_transaction_detail(permissions)
    for i, transaction in enumerate(body["Data"].get("Transaction", [])):
        if not detail:
            problems += [
                f"Data.Transaction[{i}].{f}: Detail field under ReadTransactionsBasic"
                for f in TRANSACTION_DETAIL_FIELDS
                if f in transaction
            ]
        if transaction["CreditDebitIndicator"] not in directions:
            problems.append(
                f"Data.Transaction[{i}].CreditDebitIndicator: {transaction['CreditDebitIndicator']} "
                f"not granted (only {', '.join(sorted(directions))})"
            )
    return problems
