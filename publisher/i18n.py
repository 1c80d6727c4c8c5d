"""The two languages of the public pages: which one a visitor reads, and rendering in it.

Texts of the pages are gettext messages (English message ids; the Chinese is in the catalog
``publisher/translations/zh/LC_MESSAGES/messages.po``, compiled to ``messages.mo`` beside it
with ``make translations``), served by Flask-Babel. The language is ``?lang=zh|en`` if given
(remembered in a cookie for a year), else that cookie, else the best of the browser's
``Accept-Language``, else Chinese. Pages that depend on it say ``Vary: Accept-Language,
Cookie``, so that a shared cache does not serve one visitor's language to another.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, make_response, render_template, request
from flask_babel import Babel, get_locale

LANGS = ("zh", "en")
DEFAULT = "zh"
COOKIE_AGE = 365 * 24 * 3600


def select_locale() -> str:
    """The visitor's language: the ``lang`` parameter, the cookie, Accept-Language, Chinese."""
    for chosen in (request.args.get("lang"), request.cookies.get("lang")):
        if chosen in LANGS:
            return chosen
    return request.accept_languages.best_match(LANGS) or DEFAULT


def init_app(app: Flask) -> None:
    """Install Flask-Babel with our language choice; templates get ``_``/``gettext``."""
    from pathlib import Path

    here = Path(__file__).parent
    catalogs = [here / "translations", here.parent / "staff" / "translations"]
    Babel(app, locale_selector=select_locale, default_locale=DEFAULT,
          default_translation_directories=";".join(str(p) for p in catalogs))


def lang() -> str:
    """The language of this request's page (``zh`` or ``en``)."""
    return str(get_locale() or DEFAULT)


def render(template: str, status: int = 200, **context) -> Response:
    """Render a page in the visitor's language; remember an explicit choice in a cookie."""
    site, chosen = current_app.config["SETTINGS"], lang()
    site_name = site.site_name_zh if chosen == "zh" else site.site_name_en
    resp = make_response(render_template(template, lang=chosen, site=site, site_name=site_name,
                                         **context), status)
    resp.vary.update(("Accept-Language", "Cookie"))
    if request.args.get("lang") in LANGS:
        resp.set_cookie("lang", request.args["lang"], max_age=COOKIE_AGE, samesite="Lax")
    return resp
