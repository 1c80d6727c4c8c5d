"""The exhibit pages, over real HTTP: the demo's three exhibits in both languages, sections
and featured records in the archivist's order, the narrator index, no canary, accessible
structure; and, on a site of our own, reordering features with `lantai edit` while the
server runs.
"""

from __future__ import annotations

import itertools
import json
import re

import pytest
import requests
from lxml import html as lxml_html
from support import free_port, run_lantai, served

from repo.demo import canaries

LANGS = ("zh", "en")
EXHIBITS = {  # key: (title zh, title en, section keys in the archivist's order)
    "westward-relocation": ("西迁口述历史", "Oral histories of the Westward Relocation",
                            ["westward-departure", "westward-new-campus", "westward-builders",
                             "westward-narrators"]),
    "student-memories": ("学生记忆", "Student memories",
                         ["students-admission", "students-notes", "students-course-design",
                          # a pilot graduate's records shown with her consent (issue 13)
                          "students-growth"]),
    "covid-memories": ("抗疫记忆", "COVID-19 memories", ["covid-notice", "covid-volunteers"]),
}
NARRATORS = {"chen-yuanshan": ("陈远山", "Chen Yuanshan", "2016-04-08"),
             "lin-xiulan": ("林秀兰", "Lin Xiulan", "2016-04-15"),
             "wang-dehou": ("王德厚", "Wang Dehou", "2016-05-06")}
THUMB = re.compile(r"^/iiif/3/[A-Za-z0-9_.-]+/full/!300,300/0/default\.jpg$")


def fetch(url: str, lang: str | None = None, session=None) -> tuple[requests.Response, object]:
    r = (session or requests).get(url, params={"lang": lang} if lang else None, timeout=30)
    return r, lxml_html.document_fromstring(r.content) if r.content else None


def ok(url: str, lang: str | None = None):
    r, doc = fetch(url, lang)
    assert r.status_code == 200, (url, r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("text/html")
    return r, doc


def card_links(container) -> list[str]:
    return [a.get("href") for a in container.xpath(".//li[contains(@class,'card')]//h3/a")]


def section_of(doc, key: str):
    found = doc.xpath(f"//section[@id='{key}']")
    assert found, f"section {key} missing"
    return found[0]


def all_pages(base: str) -> list[str]:
    urls = [f"{base}/exhibits/"]
    for key, (_, _, sections) in EXHIBITS.items():
        urls.append(f"{base}/exhibits/{key}")
        urls += [f"{base}/exhibits/{key}/{s}" for s in sections]
    return urls


# ---------------------------------------------------------------- the list and the exhibits
@pytest.mark.parametrize("lang", LANGS)
def test_the_list_shows_the_three_exhibits_in_order(demo_server, lang):
    _, doc = ok(f"{demo_server}/exhibits/", lang)
    assert doc.get("lang") == ("zh-Hans" if lang == "zh" else "en")
    links = doc.xpath("//ul[@class='exhibit-list']//h2/a")
    assert [a.get("href") for a in links] == [f"/exhibits/{k}" for k in EXHIBITS]
    assert [a.text_content() for a in links] == [
        t[0 if lang == "zh" else 1] for t in EXHIBITS.values()]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("key", list(EXHIBITS))
def test_each_exhibit_renders_its_sections_in_order(demo_server, key, lang):
    title_zh, title_en, sections = EXHIBITS[key]
    _, doc = ok(f"{demo_server}/exhibits/{key}", lang)
    assert doc.xpath("string(//h1)").strip() == (title_zh if lang == "zh" else title_en)
    assert doc.xpath("//section[contains(@class,'section')]/@id") == sections
    assert doc.xpath("//nav[@class='toc']//a/@href")[:len(sections)] == [f"#{s}" for s in sections]
    for s in sections:
        sec = section_of(doc, s)
        assert sec.xpath(".//div[@class='narrative']/p"), f"{s} has no narrative text"
        assert card_links(sec), f"{s} features nothing"
        assert sec.xpath("string(.//h2)").strip()
    # the section still being written (private) is not there
    assert "students-alumni-letters" not in doc.xpath("//@id")
    assert "校友来信" not in doc.text_content() and "Letters from alumni" not in doc.text_content()
    # a timeline, in date order
    dates = doc.xpath("//ol[@class='timeline']//time/@datetime")
    assert dates and dates == sorted(dates)


@pytest.mark.parametrize("lang", LANGS)
def test_features_come_in_the_stored_order(demo_server, lang):
    _, doc = ok(f"{demo_server}/exhibits/westward-relocation", lang)
    assert card_links(section_of(doc, "westward-departure")) == [
        "/id/record/relocation-telegram", "/id/event/first-train-1956", "/id/record/oh-01"]
    assert card_links(section_of(doc, "westward-narrators")) == [
        "/id/agent/chen-yuanshan", "/id/agent/lin-xiulan", "/id/agent/wang-dehou",
        "/id/event/interview-oh-01", "/id/event/interview-oh-02", "/id/event/interview-oh-03"]
    highlights = doc.xpath("//section[@aria-labelledby='highlights']")[0]
    assert card_links(highlights) == ["/id/record/oh-01", "/id/record/oh-02", "/id/record/oh-03"]
    _, doc = ok(f"{demo_server}/exhibits/student-memories", lang)
    assert card_links(section_of(doc, "students-notes")) == [
        "/id/record/lecture-notes-1957", "/id/record/oh-02"]


@pytest.mark.parametrize("lang", LANGS)
def test_cards_have_title_date_refcode_and_iiif_thumbnails(demo_server, lang):
    _, doc = ok(f"{demo_server}/exhibits/westward-relocation/westward-departure", lang)
    cards = doc.xpath("//li[contains(@class,'card')]")
    telegram = cards[0]
    assert telegram.xpath("string(.//dd[@class='refcode'])") == "0421-XZ·1955-Y-0001"
    assert telegram.xpath(".//time/@datetime") == ["1955-04-09"]
    img = telegram.xpath(".//img")[0]
    assert THUMB.match(img.get("src")), img.get("src")
    assert img.get("alt").strip()
    date = telegram.xpath("string(.//time)")
    assert date == ("1955年4月9日" if lang == "zh" else "9 April 1955")
    # an event has no reference code and no image
    assert not cards[1].xpath(".//img") and not cards[1].xpath(".//dd[@class='refcode']")


@pytest.mark.parametrize("lang", LANGS)
def test_the_oral_history_exhibit_has_an_index_of_its_narrators(demo_server, lang):
    _, doc = ok(f"{demo_server}/exhibits/westward-relocation", lang)
    index = doc.xpath("//section[@id='narrators']")[0]
    people = index.xpath(".//li[@class='narrator']")
    assert [p.xpath("string(.//h3/a/@href)") for p in people] == [
        f"/id/agent/{k}" for k in NARRATORS]
    for person, (key, (zh, en, day)) in zip(people, NARRATORS.items(), strict=True):
        assert person.xpath("string(.//h3)").strip() == (zh if lang == "zh" else en)
        assert person.xpath(".//time/@datetime") == [day]
        n = key and list(NARRATORS).index(key) + 1
        hrefs = person.xpath(".//ul//a/@href")
        assert f"/id/event/interview-oh-0{n}" in hrefs and f"/id/record/oh-0{n}" in hrefs
        # the narrator's page exists (a public agent)
        assert requests.get(demo_server + f"/id/agent/{key}", timeout=30).status_code == 200
    # the first train had Chen Yuanshan on board, but it was no interview
    assert "/id/event/first-train-1956" not in index.xpath(".//a/@href")
    for other in ("student-memories", "covid-memories"):
        _, doc = ok(f"{demo_server}/exhibits/{other}", lang)
        assert not doc.xpath("//section[@id='narrators']")


def test_section_pages_link_to_their_neighbours(demo_server):
    key, (_, _, sections) = "westward-relocation", EXHIBITS["westward-relocation"]
    _, doc = ok(f"{demo_server}/exhibits/{key}/{sections[1]}", "en")
    assert doc.xpath("//a[@rel='prev']/@href") == [f"/exhibits/{key}/{sections[0]}"]
    assert doc.xpath("//a[@rel='next']/@href") == [f"/exhibits/{key}/{sections[2]}"]
    assert doc.xpath("string(//h1)") == "Studying on the new campus"
    assert card_links(doc) == ["/id/record/oh-02", "/id/record/lecture-notes-1957"]


@pytest.mark.parametrize("path", [
    "/exhibits/no-such-exhibit", "/exhibits/westward-relocation/students-notes",  # not its own
    "/exhibits/student-memories/students-alumni-letters",  # private section
    "/exhibits/westward-departure",  # a section is not an exhibit
    "/exhibits/%2e%2e%2fetc", "/exhibits/WESTWARD-RELOCATION", "/exhibits/oh-01",
])
def test_unknown_or_closed_exhibits_are_404(demo_server, path):
    r = requests.get(demo_server + path, timeout=30)
    assert r.status_code == 404
    assert "校友来信" not in r.text and "Letters from alumni" not in r.text


# ---------------------------------------------------------------- leaks
def test_no_canary_on_any_exhibit_page(demo_server):
    values = canaries()
    assert values, "the demo has canaries"
    for url in all_pages(demo_server):
        for lang in LANGS:
            r, _ = ok(url, lang)
            for c in values:
                assert c not in r.text, f"{c} on {url}?lang={lang}"


# ---------------------------------------------------------------- accessibility and language
def headings_in_order(doc) -> list[int]:
    return [int(h.tag[1]) for h in doc.iter("h1", "h2", "h3", "h4", "h5", "h6")]


def test_pages_are_accessible_in_structure(demo_server):
    for url in all_pages(demo_server):
        for lang in LANGS:
            _, doc = ok(url, lang)
            levels = headings_in_order(doc)
            assert levels.count(1) == 1 and levels[0] == 1, (url, levels)
            for a, b in itertools.pairwise(levels):
                assert b <= a + 1, f"{url}: heading h{a} followed by h{b}"
            for img in doc.iter("img"):
                assert (img.get("alt") or "").strip(), f"{url}: image without alt"
            skip = doc.xpath("//body//a")[0]
            assert skip.get("href") == "#main" and doc.xpath("//main[@id='main']")
            assert doc.xpath("//form[@role='search']//label[@for='site-q']")
            switch = doc.xpath("//nav[contains(@class,'lang-switch')]//a")
            assert [a.get("lang") for a in switch] == ["zh-Hans", "en"]
            assert doc.xpath("//a[@href='/static/site.css'] | //link[@href='/static/site.css']")
            # no resources from elsewhere (no CDN)
            for src in doc.xpath("//script/@src | //link[@rel='stylesheet']/@href | //img/@src"):
                assert not src.startswith(("http:", "https:", "//")), src


def test_text_in_the_other_language_is_marked(demo_server):
    # an English page: the language switch's 中文 and any Chinese-only text carry lang="zh…"
    _, doc = ok(f"{demo_server}/exhibits/westward-relocation", "en")
    for el in doc.iter():
        if el.tag in ("script", "style") or not isinstance(el.tag, str):
            continue
        own = (el.text or "")
        if re.search(r"[\u4e00-\u9fff]", own):
            lang_of = next((a.get("lang") for a in el.iterancestors() if a.get("lang")),
                           None) if not el.get("lang") else el.get("lang")
            assert lang_of and lang_of.startswith("zh"), (el.tag, own)


def test_the_language_choice_is_remembered(demo_server):
    s = requests.Session()
    r, doc = fetch(f"{demo_server}/exhibits/covid-memories", "en", session=s)
    assert r.status_code == 200 and doc.get("lang") == "en"
    assert "lang" in r.cookies
    r, doc = fetch(f"{demo_server}/exhibits/covid-memories", session=s)
    assert doc.get("lang") == "en" and doc.xpath("string(//h1)") == "COVID-19 memories"
    # the switch keeps the page and its query
    assert doc.xpath("//nav[contains(@class,'lang-switch')]//a/@href")[0] == (
        "/exhibits/covid-memories?lang=zh")
    r, doc = fetch(f"{demo_server}/exhibits/covid-memories", "zh", session=s)
    r, doc = fetch(f"{demo_server}/exhibits/covid-memories", session=s)
    assert doc.get("lang") == "zh-Hans" and doc.xpath("string(//h1)") == "抗疫记忆"


def test_the_style_sheet_is_served_and_mobile_first(demo_server):
    r = requests.get(f"{demo_server}/static/site.css", timeout=30)
    assert r.status_code == 200 and "text/css" in r.headers["Content-Type"]
    css = r.text
    assert ":focus-visible" in css and "@media (min-width" in css
    assert not [m for m in re.findall(r"@media[^{]*", css) if "max-width" in m]  # mobile first
    assert "http" not in re.sub(r"/\*.*?\*/", "", css, flags=re.S)


# ---------------------------------------------------------------- reordering on our own site
@pytest.fixture(scope="module")
def own_site(tmp_path_factory):
    """A demo site of our own (writable), served by waitress."""
    home = tmp_path_factory.mktemp("exhibit-order") / "home"
    port = free_port()
    for args in (("init", "--base", f"http://127.0.0.1:{port}"), ("demo",)):
        run_lantai(home, *args)
    with served(home, port) as url:
        yield url, home


def test_archivists_reorder_features_from_the_command_line(own_site):
    url, home = own_site
    page = f"{url}/exhibits/westward-relocation"
    sec = "/exhibits/westward-relocation/departure"
    _, doc = ok(page, "zh")
    assert card_links(section_of(doc, "westward-departure")) == [
        "/id/record/relocation-telegram", "/id/event/first-train-1956", "/id/record/oh-01"]
    run_lantai(home, "edit", sec, "--set", "feature=/xjtu/oral-history/oh-01",
               "--set", "feature=/events/first-train-1956",
               "--set", "feature=/xjtu/xz/relocation-telegram", "-m", "oral history first")
    _, doc = ok(page, "zh")  # the running server sees it at once
    assert card_links(section_of(doc, "westward-departure")) == [
        "/id/record/oh-01", "/id/event/first-train-1956", "/id/record/relocation-telegram"]
    # adding appends; removing closes the gap
    run_lantai(home, "edit", sec, "--add", "feature=/xjtu/jj/campus-plan-1955")
    _, doc = ok(f"{url}/exhibits/westward-relocation/westward-departure", "en")
    assert card_links(doc)[-1] == "/id/record/campus-plan-1955"
    shown = run_lantai(home, "show", sec, "--json")
    assert '"feature"' in shown.stdout
    features = json.loads(shown.stdout)["fields"]["feature"]
    assert [f.rsplit("/", 1)[-1] for f in features] == [
        "oh-01", "first-train-1956", "relocation-telegram", "campus-plan-1955"]
    # sections move too: the builders first
    run_lantai(home, "move", "/exhibits/westward-relocation/builders",
               "/exhibits/westward-relocation", "--position=-1")
    _, doc = ok(page, "en")
    assert doc.xpath("//section[contains(@class,'section')]/@id")[0] == "westward-builders"


def test_a_closed_feature_leaves_no_trace(own_site):
    url, home = own_site
    sec = "/exhibits/covid-memories/volunteers"
    run_lantai(home, "edit", sec, "--set", "feature=/xjtu/oral-history/consent-01",
               "--set", "feature=/xjtu/covid-19/gate-volunteers-2020")
    r, doc = ok(f"{url}/exhibits/covid-memories/covid-volunteers", "en")
    assert card_links(doc) == ["/id/record/gate-volunteers-2020"]
    assert "consent" not in r.text.lower()
    for c in canaries():
        assert c not in r.text
    ttl = requests.get(f"{url}/sparql", params={
        "query": "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o "
                 "FILTER(CONTAINS(STR(?s), '/id/exhibit/covid-volunteers')) } }"},
        headers={"Accept": "application/n-triples"}, timeout=30)
    if ttl.status_code == 200:  # the SPARQL endpoint (another part) is there
        assert "consent" not in ttl.text


def test_exhibit_pages_embed_schema_org_json_ld(demo_server):
    _, doc = ok(f"{demo_server}/exhibits/westward-relocation", "en")
    data = json.loads(doc.xpath("string(//script[@type='application/ld+json'])"))
    assert data["@type"] == "ExhibitionEvent"
    assert data["@id"] == f"{demo_server}/id/exhibit/westward-relocation"
    assert data["name"] == EXHIBITS["westward-relocation"][1]
    featured = [w["@id"] for w in data["workFeatured"]]
    assert f"{demo_server}/id/record/oh-01" in featured
    assert not any("consent" in f for f in featured)
