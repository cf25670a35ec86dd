"""The reference bank: a small, separate WSGI app implementing the account-information standard.

It imports only ``resource_proxy.standard`` from this repository (plus flask,
joserfc, requests), as a real bank's adapter would.
"""

from __future__ import annotations

from reference_bank.app import create_bank_app
from reference_bank.config import DEMO_IINS, BankConfig

__all__ = ["DEMO_IINS", "BankConfig", "create_bank_app"]
