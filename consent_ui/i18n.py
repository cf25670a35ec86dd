"""Kazakh, Russian and English: chosen from the browser, switchable on every page.

The choice, in order: ``?lang=`` on the request (and then remembered in the
``senim_lang`` cookie), the cookie, the browser's Accept-Language, the
deployment's default (``SENIM_DEFAULT_LOCALE``).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, current_app, g, request
from flask_babel import Babel

from senim.settings import LOCALES, Settings

LANG_COOKIE = "senim_lang"
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
    Babel(app, locale_selector=select_locale)
    app.after_request(remember_locale)
    app.jinja_env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
