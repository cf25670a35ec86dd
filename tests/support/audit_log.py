"""The JSON audit log as tests read it: every line written while collecting."""

from __future__ import annotations

import json
import logging


class AuditLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self._lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self._lines.append(record.getMessage())

    def __enter__(self) -> AuditLines:
        logging.getLogger("senim.audit").addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("senim.audit").removeHandler(self)

    def events(self, name: str | None = None) -> list[dict]:
        records = [json.loads(line) for line in self._lines]
        return [r for r in records if name is None or r["event"] == name]

    def text(self) -> str:
        return "\n".join(self._lines)
