"""The staff workspace in two languages, from its own message catalog.

Every message of the staff templates and code has its Chinese in
``staff/translations/zh/LC_MESSAGES/messages.po`` (compiled into the ``.mo`` the server reads);
the repository's values the pages translate at run time (roles, states, access levels,
account statuses) and the menu's and tabs' labels do too. Flask-Babel merges the public
site's catalog and this one into one, the staff's last: a message id in both with different
Chinese would change the public pages, so there must be none. The language is chosen as on
the public site (``?lang=``, remembered in a cookie; else ``Accept-Language``; else Chinese).
"""

from __future__ import annotations

import re

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from staff_support import set_password, signed_in
from support import PROJECT
from test_i18n import extract, hand_written_python, hand_written_template

CATALOG = PROJECT / "staff" / "translations" / "zh" / "LC_MESSAGES"
PUBLIC_CATALOG = PROJECT / "publisher" / "translations" / "zh" / "LC_MESSAGES"


def _po(folder=CATALOG):
    with open(folder / "messages.po", "rb") as f:
        return read_po(f, locale="zh")


def _key(value) -> str | tuple:
    return value if isinstance(value, str) else tuple(value)


def test_every_staff_message_has_a_chinese_translation():
    messages = extract(("staff",), skip=("static", "assets"))
    assert len(messages) > 100, "the staff messages were not found"
    catalog = _po()
    missing = []
    for where, msg, ctx in messages:
        entry = catalog.get(msg if isinstance(msg, str) else msg[0], context=ctx)
        strings = entry.string if entry is not None else None
        if isinstance(strings, tuple):
            strings = strings[0]
        if not strings or entry.fuzzy:
            missing.append((where, msg, ctx))
    assert not missing, f"no Chinese for (make translations, then write it): {missing}"


def test_the_compiled_staff_catalog_is_the_po_file():
    def entries(catalog) -> dict:
        return {(_key(m.id), m.context): _key(m.string) for m in catalog if m.id}

    with open(CATALOG / "messages.mo", "rb") as f:
        mo = entries(read_mo(f))
    assert mo == entries(_po()), "run `make translations` (messages.mo is out of date)"


def test_placeholders_survive_translation():
    """``%(name)s`` in the English must be in the Chinese, or the page shows a KeyError."""
    for folder in (CATALOG, PUBLIC_CATALOG):
        for m in _po(folder):
            if m.id and m.string:
                ids, strings = (m.id, m.string) if isinstance(m.id, str) else (m.id[0],
                                                                               m.string[0])
                assert (sorted(re.findall(r"%\(\w+\)\w", ids))
                        == sorted(re.findall(r"%\(\w+\)\w", strings))), (folder.parts[-4], ids)


def test_the_two_catalogs_do_not_disagree():
    """The staff catalog is merged over the public one: a shared message id with other
    Chinese would change the public pages (give one of them a context instead)."""
    public = {(m.context, _key(m.id)): _key(m.string) for m in _po(PUBLIC_CATALOG) if m.id}
    clashes = [(ctx, mid, public[(ctx, mid)], _key(m.string))
               for m in _po() if m.id
               for ctx, mid in [(m.context, _key(m.id))]
               if (ctx, mid) in public and public[(ctx, mid)] != _key(m.string)]
    assert not clashes, clashes


def test_words_shown_at_run_time_have_their_chinese():
    """Roles, workflow states, access levels, account statuses, menu and tab labels are
    translated with ``_(value)``: ``staff/words.py`` must list every one of them."""
    from publisher.i18n import translations
    from repo.objects import ACCESS_LEVELS, ROLES, STATES
    from repo.workflow import TRANSITIONS
    from staff import web, words

    zh = translations("zh")
    values = [*ROLES, *STATES, *ACCESS_LEVELS, "active", "disabled", "removed",
              *TRANSITIONS, *words.ACTIONS,
              *(label for _endpoint, label in web.MENU + web.TABS)]
    untranslated = [v for v in values if zh.gettext(v) == v]
    assert not untranslated, f"add them to staff/words.py: {untranslated}"
    assert set(ROLES) == set(words.ROLES) and set(STATES) == set(words.STATES)
    assert set(ACCESS_LEVELS) == set(words.ACCESS_LEVELS)


def test_no_staff_text_is_hand_written_per_language():
    found = []
    for path in sorted((PROJECT / "staff").rglob("*")):
        if {"static", "assets", "translations"} & set(path.relative_to(PROJECT).parts):
            continue
        if path.suffix == ".py":
            found += hand_written_python(path.read_text(encoding="utf-8"), str(path))
        elif path.suffix == ".html":
            found += hand_written_template(path.read_text(encoding="utf-8"), str(path))
    assert not found, "hand-written texts (use the catalog):\n" + "\n".join(found)


# ---------------------------------------------------------------- pages in each language
@pytest.fixture
def app(site):
    from publisher.app import create_app

    set_password(site.repo, "editor")
    site.close()
    return create_app(site.home)


def _html_lang(text: str) -> str:
    m = re.search(r'<html lang="([^"]+)"', text)
    return m.group(1) if m else ""


def test_the_sign_in_page_follows_accept_language_and_lang(app):
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    zh = client.get("/staff/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    text = zh.get_data(as_text=True)
    assert zh.status_code == 200 and _html_lang(text) == "zh-Hans"
    assert "登录工作台" in text and "密码" in text and "Sign in to the staff" not in text
    en = client.get("/staff/login?lang=en", headers={"Accept-Language": "zh-CN"})
    text = en.get_data(as_text=True)
    assert _html_lang(text) == "en" and "Sign in to the staff workspace" in text
    assert "登录工作台" not in text
    # remembered: the next page without ?lang= is English despite Accept-Language
    again = client.get("/staff/login", headers={"Accept-Language": "zh-CN"})
    assert "Sign in to the staff workspace" in again.get_data(as_text=True)
    back = client.get("/staff/login?lang=zh", headers={"Accept-Language": "en"})
    assert "登录工作台" in back.get_data(as_text=True)


def test_unknown_languages_get_chinese(app):
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    text = client.get("/staff/login", headers={"Accept-Language": "fr-FR, de;q=0.5"}
                      ).get_data(as_text=True)
    assert _html_lang(text) == "zh-Hans" and "登录工作台" in text


def test_the_dashboard_in_both_languages_and_the_choice_remembered(app):
    staff = signed_in(app, "editor")
    zh = staff.get("/staff/", headers={"Accept-Language": "zh-CN"})
    text = zh.get_data(as_text=True)
    assert zh.status_code == 200 and _html_lang(text) == "zh-Hans"
    assert "首页" in text and "退出登录" in text and "已登录：" in text
    assert "(编辑者)" in text and "最近的修改" in text  # the role (a run-time word) too
    assert "Sign out" not in text and "Dashboard" not in text
    en = staff.get("/staff/?lang=en", headers={"Accept-Language": "zh-CN"})
    text = en.get_data(as_text=True)
    assert _html_lang(text) == "en" and "Sign out" in text and "Signed in as" in text
    assert "(Editor)" in text and "Recent changes" in text
    assert "退出登录" not in text
    remembered = staff.get("/staff/", headers={"Accept-Language": "zh-CN"})
    assert "Sign out" in remembered.get_data(as_text=True)
    assert "private" in remembered.headers.get("Cache-Control", "")


def test_error_pages_speak_the_language_too(app):
    staff = signed_in(app, "editor")
    zh = staff.get("/staff/no-such-page", headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 404 and "工作台中没有此地址的页面" in zh.get_data(as_text=True)
    en = staff.get("/staff/no-such-page?lang=en")
    assert "There is no page of the workspace at this address" in en.get_data(as_text=True)
