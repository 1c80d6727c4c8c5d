"""The public search page over real HTTP: a Chinese and an English query with facets,
paging and highlighted snippets; bad input answered with a message, never a 500; nothing
closed findable; stored HTML shown as text, only the highlight marks as markup.
"""

from __future__ import annotations

import pytest
import requests
from lxml import html as lxml_html
from support import free_port, run_lantai, served

from repo.demo import canaries


def search(base: str, session=None, **params) -> tuple[requests.Response, object]:
    r = (session or requests).get(f"{base}/search", params=params, timeout=30)
    assert r.status_code != 500, r.text[:500]
    return r, lxml_html.document_fromstring(r.content)


def hit_links(doc) -> list[str]:
    return doc.xpath("//ol[@class='hits']/li//h3/a/@href")


def total(doc) -> int:
    text = doc.xpath("string(//p[@role='status'])")
    digits = "".join(ch if ch.isdigit() else " " for ch in text).split()
    return int(digits[0]) if digits and "没有" not in text and "No public" not in text else 0


def facet_links(doc, name: str) -> list:
    return doc.xpath(f"//ul[@aria-labelledby='facet-{name}']/li/a")


@pytest.mark.parametrize("q,lang,word", [("西迁", "zh", "西迁"),
                                         ("relocation", "en", "relocation")])
def test_a_query_finds_highlights_and_facets(demo_server, q, lang, word):
    browser = requests.Session()  # keeps the language cookie, as a browser does
    r, doc = search(demo_server, browser, q=q, lang=lang)
    assert r.status_code == 200
    assert doc.get("lang") == ("zh-Hans" if lang == "zh" else "en")
    n = total(doc)
    links = hit_links(doc)
    assert n > 0 and links, r.text[:500]
    marks = doc.xpath("//ol[@class='hits']//mark")
    assert marks and all(word.lower() in m.text_content().lower() for m in marks), [
        m.text_content() for m in marks]
    assert doc.xpath("//p[@class='snippet']/mark")
    # facets: each a link adding the filter; following one narrows the results
    cats = facet_links(doc, "category") or facet_links(doc, "type")
    assert cats
    first = cats[0]
    count = int(first.xpath("string(.//span[@class='count'])").strip("()"))
    r2 = browser.get(demo_server + first.get("href"), timeout=30)
    assert r2.status_code == 200
    doc2 = lxml_html.document_fromstring(r2.content)
    assert total(doc2) == count <= n
    chosen = doc2.xpath("//aside[@class='facets']//a[@aria-current]")
    assert len(chosen) == 1 and chosen[0].text_content().startswith(first.text_content()[:2])
    # following the chosen facet again removes the filter
    r3 = browser.get(demo_server + chosen[0].get("href"), timeout=30)
    assert total(lxml_html.document_fromstring(r3.content)) == n
    # the header's search box shows the query
    assert doc.xpath("//input[@id='site-q']/@value") == [q]


def test_hits_link_to_pages_that_exist(demo_server):
    _, doc = search(demo_server, q="西迁")
    links = hit_links(doc)
    assert "/exhibits/westward-relocation" in links  # an exhibit leads to its exhibit page
    for href in links[:8]:
        assert requests.get(demo_server + href, timeout=30).status_code == 200, href


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_paging(demo_server, lang):
    _, doc = search(demo_server, lang=lang)  # no words: browse everything
    n = total(doc)
    assert n > 20, "the demo has more public objects than one page"
    pages = doc.xpath("//nav[@class='pagination']")
    assert pages
    assert doc.xpath("//nav[@class='pagination']//span[@aria-current='page']/text()") == ["1"]
    first = hit_links(doc)
    assert len(first) == 20
    nxt = doc.xpath("//a[@rel='next']/@href")[0]
    r2 = requests.get(demo_server + nxt, timeout=30)
    doc2 = lxml_html.document_fromstring(r2.content)
    second = hit_links(doc2)
    assert second and not set(first) & set(second)
    assert doc2.xpath("//ol[@class='hits']/@start") == ["21"]
    assert doc2.xpath("//a[@rel='prev']/@href")
    # past the end: an empty page, not an error
    r, doc = search(demo_server, page="40", lang=lang)
    assert r.status_code == 200 and not hit_links(doc)


def test_facets_combine_and_sort_by_date(demo_server):
    _, doc = search(demo_server, q="西迁", decade="1950", sort="date")
    dates = [li.xpath("string(.//p[@class='meta'])") for li in doc.xpath("//ol[@class='hits']/li")]
    assert dates
    years = [int(w) for d in dates for w in d.replace("·", " ").split() if w.isdigit()
             and len(w) == 4 and w.startswith("19")]
    assert years and all(1950 <= y <= 1959 for y in years)
    assert doc.xpath("//select[@id='sort']/option[@selected]/@value") == ["date"]


@pytest.mark.parametrize("params", [
    {"page": "abc"}, {"page": "0"}, {"page": "100000"}, {"sort": "bogus"},
    {"decade": "nineteen-fifties"}, {"q": "西" * 501},
])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_bad_input_gets_400_with_a_message(demo_server, params, lang):
    """The message is in the reader's language (the detail was English-only on the 中文 page)."""
    r, doc = search(demo_server, lang=lang, **params)
    assert r.status_code == 400
    message = doc.xpath("//div[@role='alert']//p")[0].text_content().strip()
    assert message
    has_chinese = any("\u4e00" <= ch <= "\u9fff" for ch in message)
    assert has_chinese == (lang == "zh"), message


@pytest.mark.parametrize("q", ['"西迁', "title:", "(((", ")", "AND OR NOT", "-", "*", "西迁 -",
                               "refcode:0421-", "<script>alert(1)</script>", "\u0000", "a" * 500,
                               "category:ZZ", "%", "\\"])
def test_odd_queries_never_fail(demo_server, q):
    r, _doc = search(demo_server, q=q)
    assert r.status_code in (200, 400)
    assert "<script>alert(1)</script>" not in r.text


def test_unknown_facet_values_find_nothing(demo_server):
    r, doc = search(demo_server, category="ZZ")
    assert r.status_code == 200 and total(doc) == 0 and not hit_links(doc)


def test_no_canary_is_findable(demo_server):
    """Search for the canaries themselves: nothing found, nothing shown but the query."""
    for c in canaries():
        for lang in ("zh", "en"):
            r, doc = search(demo_server, q=c, lang=lang)
            assert r.status_code == 200
            assert total(doc) == 0 and not hit_links(doc)
            for echo in doc.xpath("//input[@name='q'] | //p[@role='status'] | //title"
                                  " | //nav[contains(@class, 'lang-switch')]"):
                echo.getparent().remove(echo)
            rest = lxml_html.tostring(doc, encoding="unicode")
            assert c not in rest
    for q in ("授权书", "consent form", "CANARY", "联系电话"):
        r, _doc = search(demo_server, q=q)
        for c in canaries():
            assert c not in r.text, (q, c)


# ---------------------------------------------------------------- escaping, on our own site
@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    home = tmp_path_factory.mktemp("search-escape") / "home"
    port = free_port()
    steps = [
        ("init", "--base", f"http://127.0.0.1:{port}"),
        ("demo",),
        ("add", "/xjtu/student-memories", "item", "--name", "hostile",
         "--set", "title@zh=<script>alert('西迁')</script>西迁<b>粗</b>",
         "--set", "title@en=<img src=x onerror=alert(1)> relocation",
         "--set", "scope@zh=西迁 & <mark>假的</mark> <i>斜</i>", "--set", "begin=1956"),
        ("access", "/xjtu/student-memories/hostile", "open"),
        ("publish", "/xjtu/student-memories/hostile"),
    ]
    for args in steps:
        run_lantai(home, *args)
    with served(home, port) as url:
        yield url, home


def test_the_running_server_finds_what_was_just_published(hostile_site):
    url, home = hostile_site
    _, doc = search(url, q="梧桐树苗")
    assert total(doc) == 0
    for args in (("add", "/xjtu/student-memories", "item", "--name", "seedlings",
                  "--set", "title@zh=梧桐树苗采购单", "--set", "title@en=Order for seedlings",
                  "--set", "begin=1956", "--access", "open"),
                 ("publish", "/xjtu/student-memories/seedlings")):
        run_lantai(home, *args)
    _, doc = search(url, q="梧桐树苗")
    assert total(doc) == 1
    assert doc.xpath("string(//ol[@class='hits']//h3//mark)") == "梧桐树苗"
    run_lantai(home, "transition", "/xjtu/student-memories/seedlings", "withdraw")
    _, doc = search(url, q="梧桐树苗")
    assert total(doc) == 0 and not hit_links(doc)


def test_stored_html_is_text_and_only_highlights_are_markup(hostile_site):
    hostile_site, _home = hostile_site
    for q, lang in (("西迁", "zh"), ("relocation", "en"), ("斜", "zh")):
        r, doc = search(hostile_site, q=q, lang=lang)
        assert r.status_code == 200
        hits = doc.xpath("//ol[@class='hits']")[0]
        assert not hits.xpath(".//script | .//img | .//b | .//i")
        for m in hits.xpath(".//mark"):  # only the catalog's marks, around the query
            assert q.lower() in m.text_content().lower(), m.text_content()
    r, doc = search(hostile_site, q="西迁")
    assert "<script>alert" not in r.text and "&lt;script&gt;" in r.text
    assert "&lt;mark&gt;假的&lt;/mark&gt;" in r.text or "假的" not in r.text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_search_page_is_accessible_in_structure(demo_server, lang):
    import itertools

    _, doc = search(demo_server, q="西迁" if lang == "zh" else "Xi'an", lang=lang)
    levels = [int(h.tag[1]) for h in doc.iter("h1", "h2", "h3", "h4")]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), levels
    for field in doc.xpath("//form//input[@type!='hidden'] | //form//select"):
        assert doc.xpath(f"//label[@for='{field.get('id')}']"), field.get("name")
    assert doc.xpath("//a[@class='skip-link']/@href") == ["#main"]
    assert doc.xpath("//nav[@class='pagination']") or total(doc) <= 20


def test_a_hit_shows_only_while_its_record_is_published(site):
    """The public catalog commits after the publication moved (up to about a second later):
    a record closed in that moment must not show by its title. Here the catalog still has
    the record (committed while it was public) and the publication no longer does."""
    from pyoxigraph import NamedNode, Store
    from support import FILE, FONDS

    from publisher.app import create_app

    site.repo.transition(site.admin, FONDS, "publish", recursive=True)
    iri = site.repo.resolve(FILE)
    site.close()
    port = free_port()
    with served(create_app(site.home), port) as url:
        _, doc = search(url, q="freshmen", lang="en")
        assert any("register-1957" in h for h in hit_links(doc)), "published: found"
    store = Store(str(site.home / "publication"))  # the close, before the catalog's commit
    store.remove_graph(NamedNode(iri))
    store.flush()
    del store
    with served(create_app(site.home), free_port()) as url:
        r, doc = search(url, q="freshmen", lang="en")
        assert r.status_code == 200
        assert not any("register-1957" in h for h in hit_links(doc))
        assert "register of freshmen 1957" not in r.text.lower()
        assert "1957年新生名册" not in r.text
