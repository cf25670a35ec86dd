"""Which permission each endpoint of the standard needs, and what each permission lets a caller see.

The proxy refuses a call the consent does not cover; the bank shapes its
answer by the permissions in the platform's assertion. Both use these
functions so the two can never disagree (UK Open Banking Read/Write Data
API v3.1, "Permissions", adopted for Kazakhstan):

- ``/accounts``, ``/accounts/{AccountId}``: ReadAccountsBasic or ReadAccountsDetail;
  Detail adds the account identification (IBAN, holder name) and the holder's IIN.
- ``/balances``: ReadBalances.
- ``/transactions``: ReadTransactionsBasic or ReadTransactionsDetail; Detail adds
  the description, merchant, bank transaction code and running balance.
  ReadTransactionsCredits / ReadTransactionsDebits restrict the list to credits /
  debits; with neither, both are shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

READ_ACCOUNTS_BASIC = "ReadAccountsBasic"
READ_ACCOUNTS_DETAIL = "ReadAccountsDetail"
READ_BALANCES = "ReadBalances"
READ_TRANSACTIONS_BASIC = "ReadTransactionsBasic"
READ_TRANSACTIONS_DETAIL = "ReadTransactionsDetail"
READ_TRANSACTIONS_CREDITS = "ReadTransactionsCredits"
READ_TRANSACTIONS_DEBITS = "ReadTransactionsDebits"

PERMISSIONS = (
    READ_ACCOUNTS_BASIC,
    READ_ACCOUNTS_DETAIL,
    READ_BALANCES,
    READ_TRANSACTIONS_BASIC,
    READ_TRANSACTIONS_DETAIL,
    READ_TRANSACTIONS_CREDITS,
    READ_TRANSACTIONS_DEBITS,
)

#: Transactions per page of ``/transactions``.
PAGE_SIZE = 25

#: Fields of an account that only ReadAccountsDetail shows.
ACCOUNT_DETAIL_FIELDS = ("Account", "Holder")
#: Fields of a transaction that only ReadTransactionsDetail shows.
TRANSACTION_DETAIL_FIELDS = ("TransactionInformation", "MerchantDetails", "BankTransactionCode", "Balance")


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of the standard: its key (as metered), path template, answer schema, permissions."""

    key: str
    path: str
    schema: str
    #: Any one of these permissions is enough.
    any_of: frozenset[str]
    pattern: re.Pattern[str]


def _endpoint(path: str, schema: str, *any_of: str) -> Endpoint:
    regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$"
    return Endpoint(f"GET {path}", path, schema, frozenset(any_of), re.compile(regex))


ENDPOINTS: dict[str, Endpoint] = {
    e.key: e
    for e in (
        _endpoint("/accounts", "AccountsResponse", READ_ACCOUNTS_BASIC, READ_ACCOUNTS_DETAIL),
        _endpoint("/accounts/{AccountId}", "AccountsResponse", READ_ACCOUNTS_BASIC, READ_ACCOUNTS_DETAIL),
        _endpoint("/accounts/{AccountId}/balances", "BalancesResponse", READ_BALANCES),
        _endpoint(
            "/accounts/{AccountId}/transactions",
            "TransactionsResponse",
            READ_TRANSACTIONS_BASIC,
            READ_TRANSACTIONS_DETAIL,
        ),
    )
}


def match_endpoint(method: str, path: str) -> tuple[Endpoint, dict[str, str]] | None:
    """The endpoint a request path (relative to the base URL) calls, with its path parameters."""
    if method.upper() != "GET":
        return None
    for endpoint in ENDPOINTS.values():
        found = endpoint.pattern.match(path.rstrip("/") or "/")
        if found:
            return endpoint, found.groupdict()
    return None


def permits(endpoint_key: str, permissions: Iterable[str]) -> bool:
    """Whether these permissions cover a call to the endpoint."""
    return not ENDPOINTS[endpoint_key].any_of.isdisjoint(permissions)


def shows_account_detail(permissions: Iterable[str]) -> bool:
    return READ_ACCOUNTS_DETAIL in set(permissions)


def shows_transaction_detail(permissions: Iterable[str]) -> bool:
    return READ_TRANSACTIONS_DETAIL in set(permissions)


def transaction_directions(permissions: Iterable[str]) -> frozenset[str]:
    """The CreditDebitIndicator values of the transactions these permissions show."""
    granted = set(permissions)
    directions = set()
    if READ_TRANSACTIONS_CREDITS in granted:
        directions.add("Credit")
    if READ_TRANSACTIONS_DEBITS in granted:
        directions.add("Debit")
    return frozenset(directions or {"Credit", "Debit"})


def shape_account(account: dict, permissions: Iterable[str]) -> dict:
    """The account as these permissions show it (Detail fields dropped under Basic)."""
    if shows_account_detail(permissions):
        return dict(account)
    return {k: v for k, v in account.items() if k not in ACCOUNT_DETAIL_FIELDS}


def shape_transaction(transaction: dict, permissions: Iterable[str]) -> dict:
    """The transaction as these permissions show it (Detail fields dropped under Basic)."""
    if shows_transaction_detail(permissions):
        return dict(transaction)
    return {k: v for k, v in transaction.items() if k not in TRANSACTION_DETAIL_FIELDS}
