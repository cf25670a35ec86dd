"""The dashboard's picture of what the banks answered: accounts per bank, balances, totals.

Pure functions over the standard's ``Data`` (``Account``, ``Balance``,
``Transaction``), plus the formatting the templates use (IBAN in groups of
four, amounts with thousands separated and the currency's sign).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from demo_app.banks import BankDirectory, bank_name
from demo_app.store import Store

CURRENCY_SIGNS = {"KZT": "₸", "USD": "$", "EUR": "€", "RUB": "₽", "GBP": "£"}
BALANCE_PREFERENCE = ("ClosingAvailable", "InterimAvailable", "InterimBooked", "ClosingBooked")
SUBTYPE_WORDS = {"CurrentAccount": "Current account", "Savings": "Savings", "CardAccount": "Card account"}
THIN_SPACE, NO_BREAK_SPACE = "\u202f", "\u00a0"
#: Transactions shown per account.
SHOWN_TRANSACTIONS = 6


@dataclass
class AccountView:
    name: str
    kind: str
    iban: str | None
    holder: str | None
    balance: Decimal | None
    currency: str
    transactions: list[dict]
    problem: bool


@dataclass
class BankView:
    id: str
    name: str
    consent_id: str
    accounts: list[AccountView] = field(default_factory=list)
    error: str | None = None
    fetched_at: int | None = None


@dataclass
class DashboardView:
    banks: list[BankView]
    totals: dict[str, Decimal]
    consents: list[dict]


def dashboard(store: Store, directory: BankDirectory, browser: str) -> DashboardView:
    banks, totals, consents = [], {}, []
    for connection in store.connections_of(browser):
        held = store.bank_data(connection.consent_id)
        names = []
        for bank_id in connection.banks:
            view = _bank_view(
                bank_id, bank_name(directory, bank_id), connection.consent_id, held.get(bank_id)
            )
            view.fetched_at = connection.fetched_at
            names.append(view.name)
            banks.append(view)
            for account in view.accounts:
                if account.balance is not None:
                    totals[account.currency] = totals.get(account.currency, Decimal(0)) + account.balance
        consents.append(
            {"consent_id": connection.consent_id, "banks": names, "connected_at": connection.connected_at}
        )
    return DashboardView(banks, totals, consents)


def _bank_view(bank_id: str, name: str, consent_id: str, held: dict | None) -> BankView:
    view = BankView(bank_id, name, consent_id)
    if held is None:
        view.error = "Not read yet: press Refresh."
        return view
    if "error" in held:
        view.error = _error_words(held["error"])
        return view
    for item in held.get("accounts", []):
        account = item.get("account", {})
        balance = _pick_balance(item.get("balances", []))
        currency = account.get("Currency") or (balance[1] if balance else "KZT")
        detail = account.get("Account") or []
        first = detail[0] if detail and isinstance(detail[0], dict) else {}
        view.accounts.append(
            AccountView(
                name=account.get("Nickname") or SUBTYPE_WORDS.get(account.get("AccountSubType"), "Account"),
                kind=SUBTYPE_WORDS.get(account.get("AccountSubType"), account.get("AccountSubType") or ""),
                iban=first.get("Identification") if first.get("SchemeName") == "KZ.IBAN" else None,
                holder=first.get("Name"),
                balance=balance[0] if balance else None,
                currency=currency,
                transactions=[_transaction(t) for t in item.get("transactions", [])[:SHOWN_TRANSACTIONS]],
                problem=bool(item.get("errors")),
            )
        )
    return view


def _pick_balance(balances: list[dict]) -> tuple[Decimal, str] | None:
    by_type = {b.get("Type"): b for b in balances if isinstance(b, dict)}
    for kind in (*BALANCE_PREFERENCE, *by_type):
        balance = by_type.get(kind)
        if balance is None:
            continue
        amount = _signed(balance.get("Amount", {}), balance.get("CreditDebitIndicator"))
        if amount is not None:
            return amount, balance.get("Amount", {}).get("Currency", "KZT")
    return None


def _signed(amount: dict, indicator: str | None) -> Decimal | None:
    try:
        value = Decimal(str(amount.get("Amount")))
    except (InvalidOperation, ValueError):
        return None
    return -value if indicator == "Debit" else value


def _transaction(transaction: dict) -> dict:
    merchant = transaction.get("MerchantDetails") or {}
    amount = transaction.get("Amount") or {}
    return {
        "what": merchant.get("MerchantName")
        or transaction.get("TransactionInformation")
        or ("Money in" if transaction.get("CreditDebitIndicator") == "Credit" else "Payment"),
        "when": transaction.get("BookingDateTime", ""),
        "amount": _signed(amount, transaction.get("CreditDebitIndicator")),
        "currency": amount.get("Currency", "KZT"),
        "pending": transaction.get("Status") == "Pending",
    }


def _error_words(error: dict) -> str:
    status = error.get("status")
    if status in (502, 504) or status is None:
        return "The bank did not answer in time. Try Refresh in a moment."
    if status in (401, 403):
        return "Senim did not let us read this bank (is the consent still in force?)."
    if status == 429:
        return "Too many requests just now. Try Refresh in a minute."
    return "We could not read this bank just now."


# -- formatting for the templates ---------------------------------------------------------------------
def format_money(amount: Decimal | None, currency: str = "KZT", signed: bool = False) -> str:
    if amount is None:
        return "—"
    sign = "−" if amount < 0 else ("+" if signed and amount > 0 else "")
    whole, _, cents = f"{abs(amount):,.2f}".partition(".")
    symbol = CURRENCY_SIGNS.get(currency, currency)
    grouped = whole.replace(",", THIN_SPACE)
    return f"{sign}{grouped}.{cents}{NO_BREAK_SPACE}{symbol}"


def format_iban(iban: str | None) -> str:
    if not iban:
        return ""
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def format_date(value: str | int | None) -> str:
    if value is None or value == "":
        return ""
    try:
        when = (
            datetime.fromtimestamp(value)
            if isinstance(value, int)
            else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        )
    except (ValueError, OverflowError, OSError):
        return str(value)
    return when.strftime("%d %b %Y")
