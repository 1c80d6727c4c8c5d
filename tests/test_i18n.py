"""The public pages' texts come from message catalogs, in the visitor's language.

The language is ``?lang=`` (remembered in a cookie), else the cookie, else the browser's
``Accept-Language``, else Chinese; pages that depend on it say so in ``Vary``. Every message
of the templates and of the code (``publisher/`` and ``iiif/``) must have its Chinese in the
catalog, and the compiled catalog the server reads must be the one the ``.po`` file says. No
Chinese UI text is hand-written beside its English any more (``'检索' if zh else 'Search'``,
``{"zh": "日期", "en": "Date"}``): a scan of the sources looks for what would bring one back.
"""

from __future__ import annotations

import io
import json
import re
import tokenize
from pathlib import Path

import pytest
import requests
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from support import PROJECT, served

CATALOG = PROJECT / "publisher" / "translations" / "zh" / "LC_MESSAGES"
SOURCES = ("publisher", "iiif")  # what `make translations` extracts into this catalog


def makefile_keywords() -> dict:
    """The extraction keywords of `make translations` (its ``KEYWORDS :=`` line), so the test
    checks what the Makefile extracts and the two cannot drift apart."""
    line = next(x for x in (PROJECT / "Makefile").read_text().splitlines()
                if x.startswith("KEYWORDS :="))
    return {**DEFAULT_KEYWORDS, **parse_keywords(re.findall(r"-k (\S+)", line))}


def extract(folders: tuple[str, ...], skip: tuple[str, ...] = ("static",)) -> list[tuple]:
    """Every message of ``folders`` as ``make translations`` finds it: (where, id, context)."""
    with open(PROJECT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)

    def walk(dirpath: str) -> bool:  # as `make translations`: not static/ (node_modules)
        name = Path(dirpath).name
        return not name.startswith((".", "_")) and name not in skip

    return [(f"{folder}/{name}:{line}", msg, ctx) for folder in folders
            for name, line, msg, _c, ctx
            in extract_from_dir(str(PROJECT / folder), method_map, options_map,
                                keywords=makefile_keywords(), directory_filter=walk)]


def _template_messages() -> list[tuple[str, str | tuple, str | None]]:
    return extract(SOURCES)


def _key(value: str | list | tuple) -> str | tuple:
    return value if isinstance(value, str) else tuple(value)


def _po():
    with open(CATALOG / "messages.po", "rb") as f:
        return read_po(f, locale="zh")


def test_every_message_has_a_chinese_translation():
    """The templates' and the Python code's (``gettext``, ``lazy_gettext``, ``ui_text``)."""
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


# ---------------------------------------------------------------- no hand-written pairs
CJK = re.compile(r"[\u3400-\u9fff]")  # Han characters: a Chinese text has some
# the arguments of a message call in a template (an English id may cite Chinese: 约1950)
MESSAGE_CALL = re.compile(r"""\b(?:_|gettext|pgettext|ngettext)\("""
                          r"""(?:\s*(?:'[^']*'|"[^"]*")\s*,?)+""")
# a choice between two quoted texts on the page's language ('检索' if zh else 'Search')
CHOICE = re.compile(r"""(["'])([^"'\n]*)\1\s+if\s+[^\n]*?\b(?:zh|lang|want)\b[^\n]*?"""
                    r"""\belse\s+(["'])([^"'\n]*)\3""")
LANG_CODE = re.compile(r"^(?:[a-z]{2,3}(?:-[A-Za-z]{2,4})?)?$")  # 'zh-Hans' if zh else 'en'
# Chinese that is data, not UI text: an API example value, the example SPARQL queries (they
# search the archive's Chinese), a message id naming a Chinese term
ALLOWED = {("publisher/api/openapi.py", "新生名册"), ("publisher/sparql_examples.py", "SELECT"),
           ("publisher/sparql_examples.py", "Records by category (门类)")}
ALLOWED_TEMPLATE = "lang=\"zh-Hans\" hreflang=\"zh-Hans\""  # the switch to 中文 names it in Chinese


def hand_written_python(source: str, where: str = "") -> list[str]:
    """Quoted Chinese in code (not in a comment or docstring), and choices between texts on
    the language: what a catalog message should be."""
    found = []
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    previous = None
    for tok in tokens:
        if tok.type == tokenize.STRING and CJK.search(tok.string):
            docstring = previous is None or previous.type in (
                tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.NL)
            literal = tok.string.lstrip("rbfuRBFU").strip("\"'")
            if not docstring and not any(where == f and literal.startswith(start)
                                         for f, start in ALLOWED):
                found.append(f"{where}:{tok.start[0]}: {tok.string[:60]}")
        if tok.type not in (tokenize.COMMENT, tokenize.NL):
            previous = tok
    found += [f"{where}:{n}: {line.strip()}" for n, line in enumerate(source.splitlines(), 1)
              for m in CHOICE.finditer(line)
              if not (LANG_CODE.match(m[2]) and LANG_CODE.match(m[4]))]
    return found


def hand_written_template(source: str, where: str = "") -> list[str]:
    """Chinese written in a template (outside ``{# comments #}``), or chosen on the language."""
    text = re.sub(r"\{#.*?#\}", lambda m: "\n" * m[0].count("\n"), source, flags=re.S)
    text = MESSAGE_CALL.sub("_(", text)
    return [f"{where}:{n}: {line.strip()[:80]}" for n, line in enumerate(text.splitlines(), 1)
            if (CJK.search(line) and ALLOWED_TEMPLATE not in line)
            or any(not (LANG_CODE.match(m[2]) and LANG_CODE.match(m[4]))
                   for m in CHOICE.finditer(line))]


def sources(*suffixes: str) -> list[Path]:
    return [p for folder in SOURCES for p in sorted((PROJECT / folder).rglob("*"))
            if p.suffix in suffixes and not {"translations", "static", "node_modules"}
            & set(p.relative_to(PROJECT).parts)]


def test_no_ui_text_is_hand_written_per_language():
    """Every Chinese text of the public surfaces comes from the catalog."""
    found = []
    for path in sources(".py"):
        found += hand_written_python(path.read_text(encoding="utf-8"),
                                     str(path.relative_to(PROJECT)))
    for path in sources(".html"):
        found += hand_written_template(path.read_text(encoding="utf-8"),
                                       str(path.relative_to(PROJECT)))
    assert len(sources(".py")) > 40 and len(sources(".html")) > 10
    assert not found, "hand-written texts (use the catalog):\n" + "\n".join(found)


@pytest.mark.parametrize("snippet", [
    "title = 'IIIF 清单' if lang == 'zh' else 'IIIF manifest'",
    'label = {"zh": ["日期"], "en": ["Date"]}',
    'NAMES = {"eng": ("英文", "English")}',
    'raise BadRequest("decade: a year", f"年代（decade）须为年份，如 {x}")',
    'return y + "年" + (f"{m}月" if m else "")',
    'word = "Search" if want == "zh" else "Find"',
])
def test_the_scan_finds_hand_written_pairs(snippet):
    """The scan above can fail: the forms the old code had are found."""
    assert hand_written_python(snippet + "\n", "x.py")


@pytest.mark.parametrize("snippet", [
    "<a>{{ '检索' if zh else 'Search' }}</a>",
    "<h1>{{ 'Search' if lang == 'zh' else 'Find' }}</h1>",
    "<p>档案</p>",
    "{% set label = '中文' if lang == 'zh' else 'English' %}",
])
def test_the_scan_finds_hand_written_template_texts(snippet):
    assert hand_written_template(snippet, "x.html")
    assert not hand_written_template("<html lang=\"{{ 'zh-Hans' if zh else 'en' }}\">"
                                     "{# 注释 #}<p>{{ _('Dates: 约1950, %(x)s', x=1) }}</p>",
                                     "x.html")


# ---------------------------------------------------------------- the texts moved
def test_texts_in_a_chosen_language_outside_a_request():
    """IIIF language maps and RDF literals need both languages at once, without a request."""
    from publisher.i18n import date_range, human_date, ui_ptext, ui_text

    assert ui_text("IIIF manifest").both() == {"zh": "IIIF 清单", "en": "IIIF manifest"}
    assert ui_ptext("media", "Page %(page)s").both(page=3) == {"zh": "第3页", "en": "Page 3"}
    # one English word, two Chinese ones: contexts keep them apart
    assert ui_ptext("type", "Record").in_lang("zh") == "文件"
    assert ui_ptext("iiif", "Creator").in_lang("zh") == "责任者"
    assert ui_ptext("relation", "Creators").in_lang("zh") == "形成者"
    assert [human_date(d, "zh") for d in ("1957", "1957-10", "1957-10-04")] == [
        "1957年", "1957年10月", "1957年10月4日"]
    assert [human_date(d, "en") for d in ("1957", "1957-10", "1957-10-04")] == [
        "1957", "October 1957", "4 October 1957"]
    assert human_date("1957-13", "en") is None and human_date("undated", "zh") is None
    assert date_range("1956", "1958-03", "zh") == "1956年—1958年3月"
    assert date_range("1956", "1958-03", "en") == "1956 – March 1958"
    assert date_range("1956-09", "1956-09", "en") == "September 1956"


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# (page, Chinese, English): texts read the same as when they were hand-written per language
SAME_TEXTS = [
    ("/id/recordset/xjtu", ["层级 全宗", "形成者 西安交通大学"], ["Level Fonds", "Creators"]),
    ("/id/record/admission-letter-1956", ["类型 文件", "形成者", "主题"],
     ["Type Record", "Creators", "Subjects"]),
    ("/exhibits/westward-relocation", ["2016年4月8日"], ["8 April 2016"]),
    ("/sparql", ["全宗内各年代的档案数量", "内容提要中提到“专列”的档案"],
     ["Records of a fonds by decade", "Records whose scope mentions the special trains"]),
    ("/search?sort=x", ["排序（sort）须为以下之一：relevance、date或-date"],
     ["sort: one of relevance, date, or -date"]),
    ("/search?q=" + "x" * 501, ["检索词（q）最多 500 个字符"], ["q: at most 500 characters"]),
    ("/search?decade=abc", ["年代（decade）须为年份，如 1950"], ["decade: a year such as 1950"]),
]


@pytest.mark.parametrize(("path", "zh", "en"), SAME_TEXTS)
def test_pages_read_the_same_in_both_languages(demo_server, path, zh, en):
    for accept, want, other in (("zh-CN", zh, en), ("en", en, zh)):
        r = requests.get(demo_server + path, timeout=30,
                         headers={"Accept-Language": accept, "Accept": "text/html"})
        assert r.status_code in (200, 400), r.status_code
        text = _text(r.text)
        for t in want:
            assert t in text, (accept, t)
        for t in other:
            if CJK.search(t) or t not in " ".join(want):
                assert t not in text, (accept, t)


def test_manifest_labels_come_from_the_catalog(demo_server):
    """A manifest carries both languages at once, from the same catalog as the pages."""
    r = requests.get(demo_server + "/iiif/manifest/record/oh-01", timeout=30)
    assert r.status_code == 200
    manifest = r.json()
    labels = [row["label"] for row in manifest["metadata"]]
    assert {"zh": ["档号"], "en": ["Reference code"]} in labels
    assert {"zh": ["责任者"], "en": ["Creator"]} in labels
    assert manifest["requiredStatement"]["label"] == {"zh": ["提供者"], "en": ["Attribution"]}
    assert "RiC-O 描述（Turtle）" in json.dumps(manifest, ensure_ascii=False)


def test_rdf_texts_carry_both_languages_from_the_catalog(demo_server):
    """The SPARQL service description and the VoID description: one literal per language."""
    sd = requests.get(demo_server + "/sparql", headers={"Accept": "text/turtle"}, timeout=30)
    assert "SPARQL 查询服务\"@zh" in sd.text and "SPARQL endpoint\"@en" in sd.text
    void = requests.get(demo_server + "/.well-known/void", timeout=30)
    assert '"档案描述（RiC-O 1.1）的公开数据集"@zh' in void.text
    assert '"The public archival descriptions (RiC-O 1.1)"@en' in void.text


def test_the_viewer_words_come_from_the_catalog(demo_server):
    """Clover's buttons and tabs: the page hands the viewer its words in the page's language."""
    from html.parser import HTMLParser

    from publisher.i18n import LANGS
    words = {}

    class Viewer(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if ("class", "iiif-viewer") in attrs:
                words[lang] = json.loads(dict(attrs)["data-words"])

    for lang in LANGS:
        r = requests.get(f"{demo_server}/id/record/admission-letter-1956?lang={lang}",
                         timeout=30)
        Viewer().feed(r.text)
    if not words:
        pytest.skip("the viewer is not built (make viewer): the page links the manifest")
    assert words["zh"]["imageZoomIn"] == "放大" and words["en"]["imageZoomIn"] == "Zoom in"
    assert words["zh"]["contentSearchPlaceholder"] == "检索全文"
    assert words["zh"]["informationPanelTabsSearch"] == "检索"
    assert len(words["zh"]) == len(words["en"]) >= 30


@pytest.mark.browser
def test_the_viewer_speaks_the_page_language(demo_server):
    """In Chromium: Clover's tab and buttons read in Chinese on a Chinese page."""
    import shutil

    from support import require
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    require(Path(chromium).exists(), "Debian's chromium is not installed (apt-get install it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            for lang, about, zoom in (("zh", "说明", "放大"), ("en", "About", "Zoom in")):
                page = browser.new_page()
                page.goto(f"{demo_server}/id/record/admission-letter-1956?lang={lang}")
                page.wait_for_selector(".iiif-viewer button", timeout=30_000)
                page.wait_for_timeout(500)
                html = page.inner_html(".iiif-viewer")
                assert about in html and zoom in html, (lang, html[:500])
                page.close()
        finally:
            browser.close()
