"""The reference bank's customers, accounts and transactions, generated from its seed and bank code.

Demo screens and tests need data that looks like a Kazakh retail bank —
salaries, Magnum and Small groceries, fuel, Kaspi-style transfers, utility
bills — and that is the same on every run (so a test can name an account),
and different from one bank to the next. Everything comes from one
``random.Random`` seeded with the bank code and seed; dates are counted back
from the day the bank starts (its clock), so the history is always recent.
Balances are the running sum of the booked transactions, so an API user
adding up the transactions finds the balance the bank reports.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from reference_bank.config import DEMO_NAMES, BankConfig
from resource_proxy.standard.iban import make_kz_iban
from resource_proxy.standard.iin import iin_check_digit

#: Almaty time, in which the bank books.
ALMATY = timezone(timedelta(hours=5))

_FIRST_NAMES = (
    ("Aidos", "Arman", "Nurlan", "Yerlan", "Daniyar", "Timur", "Askar", "Bauyrzhan", "Olzhas", "Sanzhar"),
    ("Aigerim", "Dana", "Aliya", "Madina", "Gulnara", "Zhanna", "Saule", "Dinara", "Asel", "Kamila"),
)
_LAST_NAMES = ("Nurpeisov", "Abenov", "Seitkali", "Zhaksylykov", "Omarov", "Tulegenov", "Ismailov", "Bekov")

# (merchant, MCC, smallest, largest amount in KZT, how many a week)
_KZT_SPENDING = (
    ("Magnum Cash&Carry", "5411", 3_000, 28_000, 2.0),
    ("Small", "5411", 800, 7_500, 2.5),
    ("Galmart", "5411", 4_000, 35_000, 0.3),
    ("Helios", "5541", 8_000, 22_000, 0.7),
    ("Qazaq Oil", "5541", 7_000, 20_000, 0.4),
    ("Coffee Boom", "5814", 1_200, 4_500, 1.2),
    ("Yandex Go", "4121", 900, 4_800, 1.5),
    ("Europharma", "5912", 1_500, 15_000, 0.4),
    ("Technodom", "5732", 15_000, 180_000, 0.05),
    ("Wildberries", "5399", 2_500, 40_000, 0.5),
    ("Kinopark", "7832", 2_500, 6_000, 0.2),
)
_UTILITIES = (
    ("Almaty Energo Sbyt", "4900", 6_000, 16_000),
    ("Alseco", "4900", 9_000, 28_000),
    ("Beeline Kazakhstan", "4814", 3_000, 6_500),
    ("Kazakhtelecom", "4814", 5_500, 9_900),
)
_EMPLOYERS = ("KazMunayGas", "Kazakhtelecom", "Air Astana", "Kaspi.kz", "Halyk Bank", "ERG", "Glotur")
_USD_SPENDING = (
    ("Amazon", "5942", 15, 180),
    ("Booking.com", "4722", 80, 600),
    ("Apple.com", "5818", 2, 30),
    ("Steam", "5816", 5, 60),
)


@dataclass
class Transaction:
    transaction_id: str
    booked: datetime
    credit: bool
    amount: int  # in minor units (tiyn, cents)
    pending: bool
    information: str
    merchant: tuple[str, str] | None
    code: tuple[str, str]
    balance_after: int = 0


@dataclass
class Account:
    account_id: str
    owner_iin: str
    holder_name: str
    currency: str
    sub_type: str
    nickname: str
    opened: datetime
    iban: str
    transactions: list[Transaction] = field(default_factory=list)  # newest first
    booked_balance: int = 0
    available_balance: int = 0
    as_of: datetime | None = None


@dataclass
class BankData:
    accounts: dict[str, Account]
    customers: dict[str, list[Account]]
    names: dict[str, str]


def _generated_iin(rng: random.Random) -> str:
    while True:
        born = date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 44))
        century_digit = 3 + (born.year >= 2000) * 2 + rng.randrange(2)
        first_eleven = f"{born:%y%m%d}{century_digit}{rng.randrange(1, 10_000):04d}"
        digit = iin_check_digit(first_eleven)
        if digit is not None:
            return first_eleven + str(digit)


def _name(rng: random.Random, iin: str) -> str:
    if iin in DEMO_NAMES:
        return DEMO_NAMES[iin]
    female = int(iin[6]) % 2 == 0
    last = rng.choice(_LAST_NAMES)
    if female:
        last += "a"
    return f"{rng.choice(_FIRST_NAMES[female])} {last}"


def generate(config: BankConfig) -> BankData:
    """The bank's data, as of the start of the day its clock shows."""
    # made-up demo data, reproducible on purpose: not for secrets
    rng = random.Random(f"reference-bank:{config.bank_code}:{config.seed}")  # noqa: S311
    end = datetime.fromtimestamp(config.now(), ALMATY).replace(microsecond=0)
    today = end.replace(hour=0, minute=0, second=0)
    start = today - timedelta(days=config.history_days)
    iins = list(dict.fromkeys(config.customers))
    while len(iins) < len(set(config.customers)) + config.generated_customers:
        iin = _generated_iin(rng)
        if iin not in iins:
            iins.append(iin)
    data = BankData(accounts={}, customers={}, names={})
    serial = 0
    for iin in iins:
        name = data.names[iin] = _name(rng, iin)
        data.customers[iin] = []
        for index in range(rng.choice((1, 1, 2, 2, 2, 3))):
            serial += 1
            account = _account(rng, config, iin, name, index, serial, start)
            _history(rng, account, start, end)
            data.accounts[account.account_id] = account
            data.customers[iin].append(account)
    return data


def _account(
    rng: random.Random, config: BankConfig, iin: str, name: str, index: int, serial: int, start: datetime
) -> Account:
    if index == 0:
        currency, sub_type, nickname = "KZT", rng.choice(("CurrentAccount", "CardAccount")), "Main card"
    elif rng.random() < 0.35:
        currency, sub_type, nickname = "USD", "CurrentAccount", "USD account"
    else:
        currency, sub_type, nickname = "KZT", "Savings", rng.choice(("Deposit", "Savings", "For a rainy day"))
    number = f"{currency}{serial:04d}{rng.randrange(10**6):06d}"
    return Account(
        account_id=f"{config.bank_code}-{rng.getrandbits(48):012x}",
        owner_iin=iin,
        holder_name=name,
        currency=currency,
        sub_type=sub_type,
        nickname=nickname,
        opened=start - timedelta(days=rng.randrange(60, 3000), hours=-rng.randrange(9, 18)),
        iban=make_kz_iban(config.bank_code, number),
    )


def _at(rng: random.Random, day: datetime) -> datetime:
    return day + timedelta(hours=rng.randrange(8, 22), minutes=rng.randrange(60), seconds=rng.randrange(60))


def _planned(rng: random.Random, account: Account, start: datetime, today: datetime) -> list[tuple]:
    """(when, credit, amount in minor units, information, merchant, code) before balances are applied."""
    plan: list[tuple] = []
    days = [start + timedelta(days=d) for d in range((today - start).days + 1)]
    if account.currency == "USD":
        for day in days:
            if day.day == 3:
                plan.append(
                    (
                        _at(rng, day),
                        True,
                        rng.randrange(200, 1500) * 100,
                        "Incoming SWIFT transfer",
                        None,
                        ("ReceivedCreditTransfer", "InternationalCreditTransfer"),
                    )
                )
            if rng.random() < 0.12:
                merchant, mcc, low, high = rng.choice(_USD_SPENDING)
                plan.append(
                    (
                        _at(rng, day),
                        False,
                        rng.randrange(low * 100, high * 100),
                        f"Card payment {merchant}",
                        (merchant, mcc),
                        ("IssuedDirectDebit", "CardPayment"),
                    )
                )
        return plan
    if account.sub_type == "Savings":
        for day in days:
            if day.day == 6:
                plan.append(
                    (
                        _at(rng, day),
                        True,
                        rng.randrange(20, 150) * 1000 * 100,
                        "Top-up from own card",
                        None,
                        ("ReceivedCreditTransfer", "InternalTransfer"),
                    )
                )
            if day.day == 1:
                plan.append(
                    (
                        day + timedelta(hours=1),
                        True,
                        rng.randrange(2_000, 15_000) * 100,
                        "Interest",
                        None,
                        ("Interest", "InterestCredit"),
                    )
                )
        return plan
    employer = rng.choice(_EMPLOYERS)
    salary = rng.randrange(180, 900) * 1000
    friends = [f"{rng.choice(_FIRST_NAMES[rng.randrange(2)])} {rng.choice('ABDEKMNST')}." for _ in range(4)]
    for day in days:
        if day.day in (5, 20):
            plan.append(
                (
                    day + timedelta(hours=10),
                    True,
                    salary * 50,
                    f"Salary {employer}",
                    None,
                    ("ReceivedCreditTransfer", "Salary"),
                )
            )
        if day.day == 10:
            for merchant, mcc, low, high in _UTILITIES[: rng.randrange(2, 5)]:
                plan.append(
                    (
                        _at(rng, day),
                        False,
                        rng.randrange(low, high) * 100,
                        f"Utility payment {merchant}",
                        (merchant, mcc),
                        ("IssuedDirectDebit", "BillPayment"),
                    )
                )
        for merchant, mcc, low, high, weekly in _KZT_SPENDING:
            if rng.random() < weekly / 7:
                plan.append(
                    (
                        _at(rng, day),
                        False,
                        rng.randrange(low, high) * 100,
                        f"Card payment {merchant}",
                        (merchant, mcc),
                        ("IssuedDirectDebit", "CardPayment"),
                    )
                )
        if rng.random() < 0.25:
            friend = rng.choice(friends)
            credit = rng.random() < 0.45
            text = f"Transfer by phone from {friend}" if credit else f"Transfer by phone to {friend}"
            code = (
                ("ReceivedCreditTransfer", "P2PTransfer")
                if credit
                else ("IssuedCreditTransfer", "P2PTransfer")
            )
            plan.append((_at(rng, day), credit, rng.randrange(2, 60) * 1000 * 100, text, None, code))
    return plan


def _history(rng: random.Random, account: Account, start: datetime, end: datetime) -> None:
    today = end.replace(hour=0, minute=0, second=0)
    plan = sorted((p for p in _planned(rng, account, start, today) if p[0] <= end), key=lambda p: p[0])
    opening = (
        rng.randrange(50_000, 900_000) * 100 if account.currency == "KZT" else rng.randrange(300, 5000) * 100
    )
    booked = opening
    pending_debits = 0
    # card payments of the day the bank starts are still pending
    cut = today
    transactions = []
    for n, (when, credit, amount, information, merchant, code) in enumerate(plan):
        if not credit and amount > booked - pending_debits:
            continue  # a card payment the balance cannot cover is declined, not booked
        pending = when >= cut
        if pending and credit:
            continue  # only debits wait (a hold on the card); credits arrive booked
        if pending:
            pending_debits += amount
        else:
            booked += amount if credit else -amount
        transactions.append(
            Transaction(
                transaction_id=f"{account.account_id}-{n:05d}",
                booked=when,
                credit=credit,
                amount=amount,
                pending=pending,
                information=information,
                merchant=merchant,
                code=code,
                balance_after=booked,
            )
        )
    transactions.reverse()
    account.transactions = transactions
    account.booked_balance = booked
    account.available_balance = booked - pending_debits
    account.as_of = end
