"""Which banks the customer can connect: the account-information APIs published on the platform.

``BankDirectory`` is the interface the app asks; ``StaticBankDirectory`` is
the list given on the command line (``--banks id=Name,...``), which
``make run`` passes until the platform publishes a public listing of its
APIs; a directory reading that listing over HTTP takes its place without
touching the views.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Bank:
    id: str  # the bank's participant id at the platform (x-provider-id)
    name: str

    @property
    def monogram(self) -> str:
        return "".join(word[0] for word in self.name.split()[:2]).upper() or "?"


class BankDirectory(Protocol):
    def banks(self) -> list[Bank]: ...


@dataclass(frozen=True)
class StaticBankDirectory:
    listed: tuple[Bank, ...]

    def banks(self) -> list[Bank]:
        return list(self.listed)


def parse_banks(text: str) -> tuple[Bank, ...]:
    """``id=Name,id2=Name 2`` → banks; a bank without ``=Name`` is shown by its id."""
    banks = []
    for item in text.split(","):
        if not item.strip():
            continue
        bank_id, _, name = item.partition("=")
        if not bank_id.strip():
            raise ValueError(f"no bank id in {item!r}")
        banks.append(Bank(bank_id.strip(), name.strip() or bank_id.strip()))
    return tuple(banks)


def bank_name(directory: BankDirectory, bank_id: str) -> str:
    for bank in directory.banks():
        if bank.id == bank_id:
            return bank.name
    return bank_id
