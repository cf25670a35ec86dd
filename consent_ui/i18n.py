"""Kazakh, Russian and English: chosen from the browser, switchable on every page.

The choice, in order: ``?lang=`` on the request (and then remembered in the
``senim_lang`` cookie), the cookie, the browser's Accept-Language, the
deployment's default (``SENIM_DEFAULT_LOCALE``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, Response, current_app, g, request
from flask_babel import Babel, format_date, format_datetime

from senim.settings import LOCALES, Settings

LANG_COOKIE = "senim_lang"
#: Dates and times are shown in Kazakhstan's time.
DISPLAY_TIMEZONE = "Asia/Almaty"
#: How each language names itself, for the switcher.
LANGUAGE_NAMES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}


def select_locale() -> str:
    chosen = request.args.get("lang")
    if chosen in LOCALES:
        g.locale_chosen = chosen
        return chosen
    remembered = request.cookies.get(LANG_COOKIE)
    if remembered in LOCALES:
        return remembered
    settings = current_app.extensions["senim.settings"]
    return request.accept_languages.best_match(LOCALES, default=settings.default_locale)


def remember_locale(response: Response) -> Response:
    chosen = g.get("locale_chosen")
    if chosen:
        response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


def init_i18n(app: Flask, settings: Settings) -> None:
    translations = Path(__file__).parent / "translations"
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(translations)
    app.config["BABEL_DEFAULT_LOCALE"] = "en"  # the language the templates are written in
    app.config["BABEL_DEFAULT_TIMEZONE"] = DISPLAY_TIMEZONE
    Babel(app, locale_selector=select_locale)
    app.after_request(remember_locale)
    app.jinja_env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
    app.jinja_env.filters["epoch_date"] = epoch_date
    app.jinja_env.filters["epoch_datetime"] = epoch_datetime


def epoch_date(epoch: int | None) -> str:
    """A date (seconds since the epoch) as the customer's language writes it, in Kazakhstan's time."""
    return "" if epoch is None else format_date(datetime.fromtimestamp(epoch, UTC), "long")


def epoch_datetime(epoch: int | None) -> str:
    return "" if epoch is None else format_datetime(datetime.fromtimestamp(epoch, UTC), "medium")
