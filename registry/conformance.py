"""The conformance suite as the registry knows it: what it is given, what it reports.

The suite itself calls a bank exactly as the resource proxy does (the proxy's
assertion, signer, pooled client and deadline), so it lives with the proxy
(``resource_proxy/conformance.py``); the registry asks no questions of the
proxy (DESIGN.md, Layout: dependencies point one way). The proxy registers
its suite when the app is built (``init_resource_proxy``) and the registry
looks it up here — one interface, chosen at composition, that a test or
another standard's suite could replace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flask import current_app

PASSED = "passed"
FAILED = "failed"
NOT_RUN = "not_run"
EXTENSION = "senim.conformance_suite"


@dataclass(frozen=True)
class SandboxTarget:
    """The sandbox to check: where it is, which bank (the assertion's ``aud``), for whom."""

    base_url: str
    provider_id: str
    customer_iin: str


@dataclass(frozen=True)
class CheckResult:
    """One check's result. ``detail`` names fields and places, never a value."""

    name: str
    status: str  # PASSED | FAILED | NOT_RUN
    detail: str
    duration_ms: int

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "passed": self.passed,
            "detail": self.detail,
            "duration_ms": self.duration_ms,
        }


@dataclass(frozen=True)
class SuiteReport:
    results: tuple[CheckResult, ...]
    duration_ms: int

    @property
    def passed(self) -> bool:
        """Only a sandbox that passes every check is published."""
        return bool(self.results) and all(r.passed for r in self.results)

    @property
    def failed_checks(self) -> list[str]:
        return [r.name for r in self.results if r.status == FAILED]

    def status_of(self, name: str) -> str:
        return next(r.status for r in self.results if r.name == name)


class ConformanceSuite(Protocol):
    def run(self, target: SandboxTarget) -> SuiteReport:
        """Run every check against the sandbox; never raises for what the sandbox does."""


def conformance_suite() -> ConformanceSuite:
    """The suite the application was built with."""
    suite = current_app.extensions.get(EXTENSION)
    if suite is None:
        raise RuntimeError("no conformance suite: the resource proxy registers it (init_resource_proxy)")
    return suite
