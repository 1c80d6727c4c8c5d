"""The services (查档: the request form, its mails, the status page, ``/verify``, the staff
request pages and statistics, the certified copy's cover) in two languages, from their own
catalog.

Every message of ``services/`` has its Chinese in
``services/translations/zh/LC_MESSAGES/messages.po`` (compiled into the ``.mo`` the server
reads), and so has every code the pages translate at run time (``services/requests/words.py``).
Flask-Babel merges the public site's, the staff's and this catalog, this one last: a message
id shared with either of the others must have the same Chinese, or the public or staff pages
would change (a context keeps them apart: the kind "Transcript" is 成绩单, the oral-history
"Transcript" of the public pages 文字稿). No Chinese is hand-written beside its English in
``services/``: the scan of ``tests/test_i18n.py`` looks for it.
"""

from __future__ import annotations

import re

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from staff_support import set_password, signed_in
from support import PROJECT
from test_i18n import CJK, extract, hand_written_python, hand_written_template
from test_requests_public import Requester, issue, submit

CATALOG = PROJECT / "services" / "translations" / "zh" / "LC_MESSAGES"
OTHERS = {"publisher": PROJECT / "publisher" / "translations" / "zh" / "LC_MESSAGES",
          "staff": PROJECT / "staff" / "translations" / "zh" / "LC_MESSAGES"}


def _po(folder=CATALOG):
    with open(folder / "messages.po", "rb") as f:
        return read_po(f, locale="zh")


def _key(value) -> str | tuple:
    return value if isinstance(value, str) else tuple(value)


def _text(resp) -> str:
    """A page's text without its tags, runs of white space as one."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", resp.get_data(as_text=True)))


# ---------------------------------------------------------------- the catalog
def test_every_services_message_has_a_chinese_translation():
    """Fails as soon as a part adds a text without its Chinese (make translations, write it)."""
    messages = extract(("services",), skip=("static", "assets"))
    assert len(messages) > 300, "the services' messages were not found"
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


def test_the_compiled_services_catalog_is_the_po_file():
    def entries(catalog) -> dict:
        return {(_key(m.id), m.context): _key(m.string) for m in catalog if m.id}

    with open(CATALOG / "messages.mo", "rb") as f:
        mo = entries(read_mo(f))
    assert mo == entries(_po()), "run `make translations` (messages.mo is out of date)"


def test_services_placeholders_survive_translation():
    """``%(name)s`` in the English must be in the Chinese, or the page or mail fails."""
    for m in _po():
        if m.id and m.string:
            ids, strings = (m.id, m.string) if isinstance(m.id, str) else (m.id[0], m.string[0])
            assert (sorted(re.findall(r"%\(\w+\)\w", ids))
                    == sorted(re.findall(r"%\(\w+\)\w", strings))), ids


def test_chinese_texts_use_chinese_punctuation():
    """A Chinese sentence ends with 。 and pauses with ，：（）, not their ASCII forms."""
    wrong = []
    for m in _po():
        text = m.string if isinstance(m.string, str) else (m.string or ("",))[0]
        if not text or not CJK.search(text):
            continue
        prose = re.sub(r"%\(\w+\)\w|\S+/verify|[\w.+-]+@[\w.-]+|YYYY-MM-DD|V-[A-Z-]+", "", text)
        if re.search(r"[\u3400-\u9fff][.,:;!?()]|[(][\u3400-\u9fff]", prose):
            wrong.append(text)
    assert not wrong, wrong


@pytest.mark.parametrize("other", sorted(OTHERS))
def test_the_services_catalog_agrees_with_the_others(other):
    """This catalog is merged last: a shared id with other Chinese would change the public
    or staff pages (give the services' one a context instead)."""
    theirs = {(m.context, _key(m.id)): _key(m.string) for m in _po(OTHERS[other]) if m.id}
    clashes = [(ctx, mid, theirs[(ctx, mid)], _key(m.string))
               for m in _po() if m.id
               for ctx, mid in [(m.context, _key(m.id))]
               if (ctx, mid) in theirs and theirs[(ctx, mid)] != _key(m.string)]
    assert not clashes, clashes


def test_the_merged_catalogs_keep_each_sites_words():
    """As the server reads them (all three merged): the words the catalogs share read right."""
    from publisher.i18n import translations

    zh = translations("zh")
    assert zh.gettext("Transcript") == "文字稿"  # the public pages' oral-history transcript
    assert zh.pgettext("kind", "Transcript") == "成绩单"  # what a graduate asks for
    assert zh.gettext("Pages") == "分页" and zh.pgettext("count", "Pages") == "页数"
    assert zh.gettext("Your record request %(number)s") == "您的查档申请 %(number)s"


def test_words_shown_at_run_time_have_their_chinese(app):
    """States, kinds, languages, deliveries, channels, identity documents, history events
    and the entry form's fields are stored as codes and shown through
    ``services/requests/staff_words.py``: it has a word for each, and the word is Chinese on
    a Chinese page (it would be the code itself, or English, if it were missing or its id
    were not extracted)."""
    from services.requests import model, staff_entry, staff_words

    source = "\n".join((PROJECT / "services" / "requests" / name).read_text(encoding="utf-8")
                       for name in ("store.py", "delivery.py", "staff_actions.py",
                                    "staff_entry.py", "public.py", "api.py"))
    # the store's history events: self._event(db, id, actor, "name" …) and store.note(…)
    events = set()
    for call in re.findall(r"_event\(db, [^,]+, [^,]+, ([^,]+),", source):
        events |= set(re.findall(r'"([^"]+)"', call))
    for call in re.findall(r"\.note\([^,]+, [^,]+, ([^,]+)", source):
        events |= set(re.findall(r'"([^"]+)"', call))
    assert {"created", "transferred", "issued", "revoked", "mailed"} <= events
    codes = {*model.STATES, *model.KINDS, *model.LANGUAGES, *model.DELIVERIES,
             *model.CHANNELS, *events} - {"other"}
    assert not codes - set(staff_words.WORDS), codes - set(staff_words.WORDS)
    assert set(model.ID_TYPES) <= set(staff_words.ID_WORDS)
    assert set(staff_entry.LIMITS) <= set(staff_words.FIELD_WORDS)
    with app.test_request_context("/staff/", headers={"Accept-Language": "zh-CN"}):
        shown = {**{c: staff_words.word(c) for c in codes | {"other"}},
                 **{f"id {c}": staff_words.id_word(c) for c in model.ID_TYPES},
                 **{f"field {c}": staff_words.field_word(c) for c in staff_entry.LIMITS}}
    untranslated = sorted(c for c, text in shown.items() if not CJK.search(text))
    assert not untranslated, untranslated
    assert shown["transcript"] == "成绩单" and shown["in_progress"] == "办理中"


# ---------------------------------------------------------------- no hand-written pairs
# Chinese that is data, not UI text: the API's example requester, the years parser (1990至
# 1994), the inscription of the seal drawn on a cover (a seal is Chinese in every language);
# the demo's requests (what fictional requesters typed, and staff's notes on them); the
# filing demo's units, plan and items and the pilot graduates (what departments and the
# archive wrote: data in both languages, as archive.yaml is); the Chinese column names a
# department's spreadsheet may use (题名, 日期, 责任者 …: what intake reads, not what it shows)
DATA_FILES = {"services/requests/demo.py", "services/filing/demo.py",
              "services/growth/demo.py", "services/filing/spreadsheet.py"}
# The per-row messages of filing intake are English (the CLI's) and name the column they
# concern by its Chinese header too, which is what an officer's spreadsheet says; the growth
# exhibit section the consent service creates is a description written in both languages.
ALLOWED = {("services/requests/api.py", '"王小明"'),
           ("services/filing/checks.py", '"a title (题名)"'),
           ("services/filing/checks.py", '"a date (日期)"'),
           ("services/filing/checks.py", '"a responsible person (责任者'),
           ("services/filing/checks.py", '"at least one file (文件)"'),
           ("services/filing/intake.py", '"category: one record category (门类)'),
           ("services/growth/consent.py", '"成长档案选展"'),
           ("services/growth/consent.py", '"经学生本人同意展出的成长档案材料'),
           ("services/requests/staff_request.py", r'r"^\s*(\d{4})\s*(?:[-–—~至]'),
           ("services/requests/certify.py", '"档案证明专用章"')}
# a language offered by its own name on the form: 中文 on the English page too
ENDONYM = re.compile(r'value="zh"[^>]*>\s*中文\s*</label>')


def services_hand_written() -> list[str]:
    found = []
    for path in sorted((PROJECT / "services").rglob("*")):
        where = str(path.relative_to(PROJECT))
        if ({"static", "assets", "translations"} & set(path.relative_to(PROJECT).parts)
                or where in DATA_FILES):
            continue
        if path.suffix == ".py":
            found += [f for f in hand_written_python(path.read_text(encoding="utf-8"), where)
                      if not any(f.startswith(w + ":") and f.split(": ", 1)[1].startswith(s)
                                 for w, s in ALLOWED)]
        elif path.suffix == ".html":
            source = ENDONYM.sub('value="zh">', path.read_text(encoding="utf-8"))
            found += hand_written_template(source, where)
    return found


def test_no_services_text_is_hand_written_per_language():
    """Every Chinese text of the request pages, mails and the cover comes from the catalog."""
    found = services_hand_written()
    assert not found, "hand-written texts (use the catalog):\n" + "\n".join(found)


@pytest.mark.parametrize("snippet", [
    'KINDS = {"transcript": ("成绩单", "Academic transcript")}',
    "return f\"{when.year}年{when.month}月{when.day}日\"",
    "label = '中文' if c.language == 'zh' else 'English'",
])
def test_the_scan_finds_the_forms_services_had(snippet):
    """The scan can fail: the forms the cover and the status page had are found."""
    assert hand_written_python(snippet + "\n", "x.py")
    assert hand_written_template("{{ '中文' if c.language == 'zh' else 'English' }}", "x.html")


def test_the_certified_copy_speaks_the_language_it_is_made_in():
    """The cover's words come from the catalog in the copy's language, not the browser's."""
    import datetime as dt

    from services.requests import certify

    zh, en = certify._words("zh"), certify._words("en")
    assert zh["title"] == "档案证明" and en["title"] == "Certified Copy of Archival Records"
    assert zh["footer_page"] % {"n": 2, "total": 5} == "第 2 页，共 5 页"
    assert zh["refcode"] == "档号" and en["refcode"] == "Reference code"
    assert all(CJK.search(text) for text in zh.values())
    assert not any(CJK.search(text) for text in en.values())
    assert certify.KINDS["transcript"].in_lang("zh") == "成绩单"
    when = dt.datetime(2026, 12, 7, 20, 0, tzinfo=dt.UTC)  # 8 December in Xi'an
    assert certify._local_date(when, "zh") == "2026年12月8日"
    assert certify._local_date(when, "en") == "8 December 2026"


# ---------------------------------------------------------------- public pages
@pytest.fixture
def app(site, smtp):
    from publisher.app import create_app

    smtp.configure(site.home)
    set_password(site.repo, "editor")
    site.close()
    return create_app(site.home)


def _html_lang(resp) -> str:
    m = re.search(r'<html lang="([^"]+)"', resp.get_data(as_text=True))
    return m.group(1) if m else ""


# (path, Chinese, English): distinctive words of each page
PUBLIC = [
    ("/requests/", ["在线查档", "申请人信息", "成绩单", "学位证书", "居民身份证", "提交申请"],
     ["Request your records", "Who you are", "Transcript", "Degree certificate",
      "Resident identity card", "Send the request"]),
    ("/requests/status", ["查询申请状态", "申请编号", "电子邮箱", "发送验证码"],
     ["Status of a request", "Request number", "E-mail address", "Send me a code"]),
    ("/verify", ["核验认证副本", "通过核验码", "通过上传 PDF", "核验文件"],
     ["Verify a certified copy", "By verification code", "By uploading the PDF",
      "Check the file"]),
    ("/verify?code=V-ABCD-EFGH-JKLM", ["没有核验码为“V-ABCD-EFGH-JKLM”的认证副本"],
     ["No certified copy has the code “V-ABCD-EFGH-JKLM”"]),
]


@pytest.mark.parametrize(("path", "zh", "en"), PUBLIC)
def test_public_pages_follow_accept_language_and_lang(app, path, zh, en):
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    chinese = client.get(path, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert chinese.status_code in (200, 404) and _html_lang(chinese) == "zh-Hans"
    text = _text(chinese)
    assert all(w in text for w in zh), [w for w in zh if w not in text]
    assert not [w for w in en if w in text]
    sep = "&" if "?" in path else "?"
    english = client.get(f"{path}{sep}lang=en", headers={"Accept-Language": "zh-CN"})
    assert english.status_code == chinese.status_code and _html_lang(english) == "en"
    text = _text(english)
    assert all(w in text for w in en), [w for w in en if w not in text]
    assert not [w for w in zh if w in text]
    vary = {v.strip().lower() for v in english.headers.get("Vary", "").split(",")}
    assert {"accept-language", "cookie"} <= vary


def test_verify_verdicts_speak_the_language(app):
    """A refusal of an uploaded file is said in the visitor's language."""
    import io

    for lang, said in (("zh", "此文件不是 PDF。"), ("en", "This file is not a PDF.")):
        client = app.test_client()
        client.environ_base["wsgi.url_scheme"] = "https"
        resp = client.post("/verify", headers={"Accept-Language": lang},
                           data={"file": (io.BytesIO(b"not a pdf at all"), "x.pdf")},
                           content_type="multipart/form-data")
        assert resp.status_code == 422 and said in _text(resp), _text(resp)[:500]


def test_form_errors_and_mails_speak_the_requesters_language(app, smtp, site):
    """The form's field errors, the code mail, the request-number mail and the delivery mail:
    Chinese for a Chinese browser (subjects in both languages, readable before opening)."""
    from repo.config import read_settings
    from services.requests import delivery, store

    for lang, email, words in (
            ("zh", "zhao.zh@example.org",
             ("请填写电子邮箱地址，如 name@example.com。", "您的验证码：", "分钟内有效",
              "您的查档申请已提交。申请编号为：", "您好", "您申请的认证副本", "核验码")),
            ("en", "zhao.en@example.org",
             ("An e-mail address such as name@example.com.", "Your verification code:",
              "valid for", "Your request has been submitted.", "Dear", "The certified copy "
              "you asked for", "verification code"))):
        requester = Requester(app, lang=lang)
        wrong = submit(requester, email="not an address")
        assert wrong.status_code in (200, 400, 422) and words[0] in _text(wrong)
        before = len(smtp.messages)
        assert submit(requester, email=email, languages=[lang]).status_code == 200
        code_mail = smtp.wait_for(to=email, after=before)
        assert code_mail["Subject"] == "您的验证码 / Your verification code"
        body = smtp.text(code_mail)
        assert words[1] in body and words[2] in body
        assert not CJK.search(body) if lang == "en" else "Your" not in body
        before = len(smtp.messages)
        done = requester.post("/requests/verify-email", {"code": smtp.code_in(code_mail)})
        number = re.search(r"CD\d{4}(?:-[0-9A-Z]{4}){4}", done.get_data(as_text=True))
        assert done.status_code == 200 and number
        number_mail = smtp.wait_for(to=email, after=before)
        subject = f"您的查档申请 {number[0]} / Your record request {number[0]}"
        assert number_mail["Subject"] == subject
        assert words[3] in smtp.text(number_mail)
        # the copy's mail is in the language the request asked for first
        copy = issue(store(app), number[0])
        before = len(smtp.messages)
        delivery.deliver(store(app), read_settings(site.home), number[0], copy,
                         "https://archive.example.edu")
        body = smtp.text(smtp.wait_for(to=email, after=before))
        assert all(w in body for w in words[4:]), body


# ---------------------------------------------------------------- staff pages
def _a_request(app):
    from services.requests import store
    from services.requests.model import Personal

    personal = Personal(name="赵思远", student_number="2005012345", department="能源与动力工程学院",
                        email="zhao@example.org", purpose="visa", address="深圳市南山区科技园 1 号")
    return store(app).create(kind="transcript", languages=("zh", "en"), copies=1,
                             delivery="both", channel="email", personal=personal,
                             year_from=2005, year_to=2009, actor="editor", verified=True)


def test_a_staff_request_page_in_chinese_for_a_chinese_browser(app):
    req = _a_request(app)
    staff = signed_in(app, "editor")
    page = staff.get(f"/staff/requests/{req.id}", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200 and _html_lang(page) == "zh-Hans"
    text = _text(page)
    for word in ("查档申请", "申请内容", "档案类型 成绩单", "语种 中文, 英文",
                 "送达方式 电子送达和邮寄", "渠道 电子邮件", "申请人", "办理",
                 "接办（分派给我）", "转办至", "拒绝原因", "历史", "已创建", "已查看"):
        assert word in text, word
    for word in ("Take it (assign to me)", "Transfer to", "Reason for refusing", "History"):
        assert word not in text, word
    english = staff.get(f"/staff/requests/{req.id}?lang=en")
    text = _text(english)
    assert "Take it (assign to me)" in text and "Reason for refusing" in text
    assert "接办" not in text and "拒绝原因" not in text


def test_the_staff_queue_and_statistics_in_both_languages(app):
    _a_request(app)
    staff = signed_in(app, "editor")
    queue = _text(staff.get("/staff/requests/", headers={"Accept-Language": "zh-CN"}))
    for word in ("查档申请", "工作室", "紧急程度", "按到期时间排列的申请", "档案类型", "已提交",
                 "剩余"):
        assert word in queue, word
    assert "Requests by due time" not in queue
    stats = staff.get("/staff/requests/statistics", headers={"Accept-Language": "zh-CN"})
    assert stats.status_code == 200
    text = _text(stats)
    assert "查档统计" in text and "每月申请数" in text and "办理时长中位数" in text
    assert "Requests per month" not in text
    english = _text(staff.get("/staff/requests/statistics?lang=en"))
    assert "Request statistics" in english and "查档统计" not in english
