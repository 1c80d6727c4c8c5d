"""The public pages' texts come from message catalogs, in the visitor's language.

The language is ``?lang=`` (remembered in a cookie), else the cookie, else the browser's
``Accept-Language``, else Chinese; pages that depend on it say so in ``Vary``. Every message
of the templates must have its Chinese in the catalog, and the compiled catalog the server
reads must be the one the ``.po`` file says.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from support import PROJECT, served

CATALOG = PROJECT / "publisher" / "translations" / "zh" / "LC_MESSAGES"


def _template_messages() -> list[tuple[str, str | tuple, str | None]]:
    with open(PROJECT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    def walk(dirpath: str) -> bool:  # as `make translations`: not static/ (node_modules)
        name = Path(dirpath).name
        return not name.startswith((".", "_")) and name != "static"

    return [(f"{name}:{line}", msg, ctx) for name, line, msg, _c, ctx
            in extract_from_dir(str(PROJECT / "publisher"), method_map, options_map,
                                keywords={**DEFAULT_KEYWORDS, "lazy_gettext": None},
                                directory_filter=walk)]


def _key(value: str | list | tuple) -> str | tuple:
    return value if isinstance(value, str) else tuple(value)


def _po():
    with open(CATALOG / "messages.po", "rb") as f:
        return read_po(f, locale="zh")


def test_every_message_has_a_chinese_translation():
    """The templates' and the Python code's (``gettext``, ``lazy_gettext``)."""
    messages = _template_messages()
    assert len(messages) > 50, "the templates' messages were not found"
    catalog = _po()
    missing = []
    for where, msg, ctx in messages:
        entry = catalog.get(msg if isinstance(msg, str) else msg[0], context=ctx)
        strings = entry.string if entry is not None else None
        if isinstance(strings, tuple):
            strings = strings[0]
        if not strings or entry.fuzzy:
            missing.append((where, msg, ctx))
    assert not missing, f"no Chinese for: {missing}"


def test_the_compiled_catalog_is_the_po_file():
    """``messages.mo`` is what the server reads; it must not lag behind the ``.po``."""
    def entries(catalog) -> dict:
        return {(_key(m.id), m.context): _key(m.string) for m in catalog if m.id}

    with open(CATALOG / "messages.mo", "rb") as f:
        mo = entries(read_mo(f))
    po = entries(_po())
    assert mo == po, "run `make translations` (messages.mo is out of date)"


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    from support import new_site

    site = new_site(Path(tmp_path_factory.mktemp("i18n")) / "site")
    site.repo.close()
    with served(site.home) as url:
        yield url


PAGES = ["/", "/search?q=x", "/exhibits/", "/sparql", "/no-such-page"]


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize(("accept", "lang", "expect", "not_expect"), [
    ("en-GB,en;q=0.9", "en", "Search the archive", "检索馆藏"),
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans", "检索馆藏", "Search the archive"),
    ("fr-FR, de;q=0.5", "zh-Hans", "检索馆藏", "Search the archive"),  # none of ours: Chinese
    (None, "zh-Hans", "检索馆藏", "Search the archive"),
])
def test_accept_language_chooses_the_language(url, path, accept, lang, expect, not_expect):
    headers = {"Accept": "text/html", **({"Accept-Language": accept} if accept else {})}
    r = requests.get(url + path, headers=headers, timeout=30)
    assert r.status_code in (200, 404)
    assert f'<html lang="{lang}">' in r.text
    assert expect in r.text and not_expect not in r.text
    vary = {v.strip().lower() for v in r.headers.get("Vary", "").split(",")}
    assert {"accept-language", "cookie"} <= vary


def test_lang_parameter_and_cookie_override_accept_language(url):
    session = requests.Session()
    chosen = session.get(url + "/exhibits/?lang=en", headers={"Accept-Language": "zh-CN"},
                         timeout=30)
    assert "The special collections of the archive" in chosen.text
    assert chosen.cookies.get("lang") == "en"
    remembered = session.get(url + "/exhibits/", headers={"Accept-Language": "zh-CN"},
                             timeout=30)
    assert "The special collections of the archive" in remembered.text
    back = session.get(url + "/exhibits/?lang=zh", headers={"Accept-Language": "en"},
                       timeout=30)
    assert "馆藏特色专题" in back.text and "The special collections" not in back.text


def test_placeholders_are_filled_in_both_languages(url):
    for accept, words in (("en", ["No public records found for “nothing-here”"]),
                          ("zh", ["没有找到与“nothing-here”相关的公开档案"])):
        r = requests.get(url + "/search?q=nothing-here", headers={"Accept-Language": accept},
                         timeout=30)
        assert r.status_code == 200
        for w in words:
            assert w in r.text
        assert "%(" not in r.text
