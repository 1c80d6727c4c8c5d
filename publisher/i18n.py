"""The two languages of the public pages: which one a visitor reads, and rendering in it.

Texts of the pages are gettext messages (English message ids; the Chinese is in the catalog
``publisher/translations/zh/LC_MESSAGES/messages.po``, compiled to ``messages.mo`` beside it
with ``make translations``), served by Flask-Babel. The language is ``?lang=zh|en`` if given
(remembered in a cookie for a year), else that cookie, else the best of the browser's
``Accept-Language``, else Chinese. Pages that depend on it say ``Vary: Accept-Language,
Cookie``, so that a shared cache does not serve one visitor's language to another.

Some texts are needed in a language other than the request's, or in both at once: IIIF
language maps (``{"zh": [...], "en": [...]}``), RDF literals, titles written at ingest, or
texts chosen by a ``want`` argument. They are marked where they are defined with
:func:`ui_text` / :func:`ui_ptext` (a message id, with a context where one English word has
two Chinese ones) and read from the same catalogs with :meth:`UIText.in_lang` or
:meth:`UIText.both`, so every Chinese text of the site is in a ``.po`` file and nowhere else.
"""

from __future__ import annotations

import datetime
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from babel.dates import format_skeleton
from babel.support import Translations
from flask import Flask, Response, current_app, make_response, render_template, request
from flask_babel import Babel, get_locale

LANGS = ("zh", "en")
DEFAULT = "zh"
COOKIE_AGE = 365 * 24 * 3600
CATALOGS = (Path(__file__).parent / "translations",
            Path(__file__).parent.parent / "staff" / "translations",
            Path(__file__).parent.parent / "services" / "translations")
# The locale dates are written in: 1957年10月14日 / 14 October 1957 (day before month).
DATE_LOCALES = {"zh": "zh_Hans_CN", "en": "en_GB"}
_ISO_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


def select_locale() -> str:
    """The visitor's language: the ``lang`` parameter, the cookie, Accept-Language, Chinese."""
    for chosen in (request.args.get("lang"), request.cookies.get("lang")):
        if chosen in LANGS:
            return chosen
    return request.accept_languages.best_match(LANGS) or DEFAULT


def init_app(app: Flask) -> None:
    """Install Flask-Babel with our language choice; templates get ``_``/``gettext``."""
    Babel(app, locale_selector=select_locale, default_locale=DEFAULT,
          default_translation_directories=";".join(str(p) for p in CATALOGS))


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


@functools.cache
def translations(want: str) -> Translations:
    """The catalogs of ``want``, merged as Flask-Babel merges them (read once per process)."""
    merged = Translations()
    for folder in CATALOGS:
        found = Translations.load(str(folder), [want])
        if isinstance(found, Translations):  # English has no catalog: the ids are the text
            merged.merge(found)
    return merged


@dataclass(frozen=True)
class UIText:
    """A message id (English) of the catalogs, to be read in a chosen language."""

    message: str
    context: str | None = None

    def in_lang(self, want: str, **values: object) -> str:
        """The text in ``want`` (``zh`` or ``en``), placeholders ``%(name)s`` filled in."""
        t = translations(want if want in LANGS else DEFAULT)
        text = str(t.pgettext(self.context, self.message) if self.context
                   else t.gettext(self.message))
        return text % values if values else text

    def both(self, **values: object) -> dict[str, str]:
        """``{"zh": …, "en": …}``: the text in each language of the site."""
        return {code: self.in_lang(code, **values) for code in LANGS}

    def __str__(self) -> str:  # in a template or f-string: the request's language
        return self.in_lang(lang())


def ui_text(message: str) -> UIText:
    """Mark ``message`` for the catalogs (``make translations`` extracts it)."""
    return UIText(message)


def ui_ptext(context: str, message: str) -> UIText:
    """Mark ``message`` with a context: one English word, two Chinese ones (Record: 文件/档案)."""
    return UIText(message, context)


def human_date(iso: str, want: str) -> str | None:
    """``1957-10-14`` → ``1957年10月14日`` / ``14 October 1957`` (``1957-10`` and ``1957``
    too), written by CLDR through Babel; None when ``iso`` does not start with a year."""
    m = _ISO_DATE.match(iso or "")
    if m is None:
        return None
    month, day = (int(m[2]) if m[2] else None), (int(m[3]) if m[3] else None)
    skeleton = "yMMMMd" if month and day else "yMMMM" if month else "y"
    try:
        when = datetime.date(int(m[1]), month or 1, day or 1)
    except ValueError:  # month 13, 30 February, year 0
        return None
    return format_skeleton(skeleton, when, locale=DATE_LOCALES.get(want, DATE_LOCALES[DEFAULT]))


DATE_RANGE = ui_text("%(begin)s – %(end)s")


def date_range(begin: str | None, end: str | None, want: str) -> str | None:
    """Two ISO dates in words (one when they are the same or ``end`` is missing)."""
    first = human_date(begin or "", want)
    if first is None:
        return None
    last = human_date(end or "", want) if end and end != begin else None
    return first if last is None else DATE_RANGE.in_lang(want, begin=first, end=last)
