"""Senim: trust infrastructure of an Open Banking platform."""

from __future__ import annotations

__all__ = ["create_app"]


def create_app(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201
    from senim.app import create_app as _create_app

    return _create_app(*args, **kwargs)
