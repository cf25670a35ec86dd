"""Senim: trust infrastructure of an Open Banking platform."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from senim.clock import Clock
    from senim.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Flask:
    """Build the platform's Flask application (see ``senim.app``)."""
    from senim.app import create_app as _create_app

    return _create_app(settings, clock)
