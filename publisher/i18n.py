"""The two languages of the public pages: which one a visitor reads, and rendering in it.

Chinese is the default; ``?lang=zh|en`` chooses and a cookie remembers the choice for a year.
"""

from __future__ import annotations

from flask import Response, current_app, make_response, render_template, request

LANGS = ("zh", "en")


def lang() -> str:
    """The visitor's language: the ``lang`` parameter, else the cookie, else Chinese."""
    chosen = request.args.get("lang") or request.cookies.get("lang") or "zh"
    return chosen if chosen in LANGS else "zh"


def render(template: str, status: int = 200, **context) -> Response:
    """Render a page in the visitor's language; remember an explicit choice in a cookie."""
    site = current_app.config["SETTINGS"]
    resp = make_response(render_template(template, lang=lang(), site=site, **context), status)
    if request.args.get("lang") in LANGS:
        resp.set_cookie("lang", request.args["lang"], max_age=365 * 24 * 3600, samesite="Lax")
    return resp
