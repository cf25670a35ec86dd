"""What makes one reference bank differ from another: its identity, its data seed, its faults, its clock.

Several banks run from the same code (Altyn, Dala, Nur in the demo), so
everything that differs is here, and the things tests need to control — the
clock, the platform's keys, a slow or broken bank — are injected rather than
switched on by a testing flag.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

#: The demo customers of the platform (``senim.demo.DEMO_PEOPLE``), copied: a bank does not import senim.
DEMO_IINS: tuple[str, ...] = ("900101300017", "850202300014")
#: Their names as the platform's demo knows them.
DEMO_NAMES: dict[str, str] = {"900101300017": "Demo Customer One", "850202300014": "Demo Customer Two"}

FAULTS = (None, "malformed", "error")


@dataclass(frozen=True)
class BankConfig:
    """One reference bank.

    - ``bank_id``: its participant id at the platform (the ``aud`` of the assertion it accepts).
    - ``bank_code``: 3 digits, the bank code inside its IBANs.
    - ``platform_issuer``: the ``iss`` of the assertion; the JWKS is at ``jwks_url``
      (default ``{platform_issuer}/jwks``).
    - ``seed``, ``customers``, ``generated_customers``: the data (the same seed and bank code
      give the same data); ``customers`` are always customers, ``generated_customers`` more are made up.
    - ``fault``: None (a correct bank), "malformed" (answers outside the standard),
      "error" (500 on every data call); ``hold``: every data call waits for this event.
    - ``now``: the bank's clock (epoch seconds); the data ends on the day the bank starts.
    - ``jwks_fetcher``: how the platform's JWKS is fetched (default: an HTTP GET with requests).
    """

    bank_id: str
    name: str
    bank_code: str
    platform_issuer: str
    jwks_url: str | None = None
    seed: int = 0
    customers: tuple[str, ...] = DEMO_IINS
    fault: str | None = None
    hold: threading.Event | None = None
    now: Callable[[], float] = time.time
    jwks_fetcher: Callable[[str], dict] | None = None
    generated_customers: int = 20
    #: Days of transactions before the day the bank starts.
    history_days: int = 120
    #: How long a held call waits at most (so a forgotten event cannot hang a server forever).
    hold_timeout: float = 60.0

    def __post_init__(self) -> None:
        if not (len(self.bank_code) == 3 and self.bank_code.isdigit()):
            raise ValueError("bank_code is 3 digits")
        if self.fault not in FAULTS:
            raise ValueError(f"fault is one of {FAULTS}")

    @property
    def platform_jwks_url(self) -> str:
        return self.jwks_url or self.platform_issuer.rstrip("/") + "/jwks"
