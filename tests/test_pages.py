"""Home, record and agent pages of the live demo server: the fields a reader expects, in both
languages, the hierarchy, paging, the extension hooks, schema.org, and escaping."""

from __future__ import annotations

import gc
import json

import pytest
import requests
from lxml import html as lxml_html
from markupsafe import Markup
from support import FILE, FONDS, SERIES

from publisher import pages
from publisher.app import create_app
from repo.demo import canaries

RECORD = "record/admission-letter-1956"


def get(url: str, **params) -> requests.Response:
    r = requests.get(url, params=params, timeout=10)
    assert r.status_code == 200, (url, r.status_code)
    assert r.headers["Content-Type"].startswith("text/html")
    return r


def doc(r: requests.Response):
    return lxml_html.fromstring(r.content)


def texts(tree, xpath: str) -> list[str]:
    return [" ".join(e.text_content().split()) for e in tree.xpath(xpath)]


def schema_org(tree) -> dict:
    scripts = tree.xpath('//script[@type="application/ld+json"]')
    assert len(scripts) == 1
    return json.loads(scripts[0].text)


def test_record_page_shows_every_field_in_the_chosen_language(demo_server):
    iri = f"{demo_server}/id/{RECORD}"
    zh = doc(get(iri, lang="zh"))
    assert texts(zh, "//h1") == ["张明华的录取通知书"]
    assert texts(zh, '//p[@class="other-title"]') == ["Zhang Minghua's letter of admission"]
    assert texts(zh, '//dd[@class="refcode"]') == ["0421-XS·1956-Y-TC-0001"]
    assert "1956-08-05" in texts(zh, '//dd[@class="dates"]')[0]
    assert "1956年8月5日" in texts(zh, '//dd[@class="dates"]')[0]
    assert "1件1页" in texts(zh, "//dl")[0]
    assert "西安新校址报到" in texts(zh, '//section[@class="scope"]')[0]
    creators = zh.xpath('//dd[@class="rel-hasCreator"]//a')
    assert [(a.text, a.get("href")) for a in creators] == [
        ("教务处", f"{demo_server}/id/agent/academic-affairs")]
    subjects = {a.get("href") for a in zh.xpath('//dd[@class="rel-hasOrHadSubject"]//a')}
    assert subjects == {f"{demo_server}/id/agent/zhang-minghua",
                        f"{demo_server}/id/event/westward-relocation"}
    assert [a.text for a in zh.xpath('//dd[@class="rel-isAssociatedWithPlace"]//a')] == ["西安"]
    crumbs = zh.xpath('//nav[@class="breadcrumbs"]//a')
    assert [a.get("href") for a in crumbs] == [f"{demo_server}/id/recordset/xjtu",
                                               f"{demo_server}/id/recordset/student-memories"]
    media = zh.xpath('//section[@class="media"]//ul[@class="instantiations"]//a')
    assert [a.get("href") for a in media] == [
        f"{demo_server}/id/instantiation/admission-letter-1956-jpg"]
    assert iri in texts(zh, '//section[@class="cite"]')[0]
    # a citation: title, reference code, archive, IRI, each set apart (the archive's name
    # once ran straight into the reference code)
    assert texts(zh, '//section[@class="cite"]/p')[0].startswith(
        "张明华的录取通知书，0421-XS·1956-Y-TC-0001，兰台档案馆。")
    assert zh.xpath('//section[@class="cite"]/p/a/@href')[0] == iri
    assert zh.xpath('//html/@lang') == ["zh-Hans"]

    en = doc(get(iri, lang="en"))
    assert texts(en, "//h1") == ["Zhang Minghua's letter of admission"]
    assert texts(en, '//p[@class="other-title"]') == ["张明华的录取通知书"]
    assert "Reference code" in texts(en, "//dt")
    assert "1 item, 1 page" in texts(en, "//dl")[0]
    assert texts(en, '//section[@class="cite"]/p')[0].startswith(
        "Zhang Minghua's letter of admission, 0421-XS·1956-Y-TC-0001, Lantai Archive. ")
    assert [a.text for a in en.xpath('//dd[@class="rel-hasCreator"]//a')] == [
        "Office of Academic Affairs"]


def test_language_choice_is_remembered(demo_server):
    iri = f"{demo_server}/id/{RECORD}"
    with requests.Session() as s:
        assert "Zhang Minghua" in s.get(iri, params={"lang": "en"}, timeout=10).text
        again = lxml_html.fromstring(s.get(iri, timeout=10).content)
        assert texts(again, "//h1") == ["Zhang Minghua's letter of admission"]


def test_schema_org_json_ld_describes_the_record(demo_server):
    data = schema_org(doc(get(f"{demo_server}/id/{RECORD}")))
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "ArchiveComponent"
    assert data["@id"] == f"{demo_server}/id/{RECORD}"
    assert data["identifier"] == "0421-XS·1956-Y-TC-0001"
    names = {n["@language"]: n["@value"] for n in data["name"]}
    assert names == {"zh": "张明华的录取通知书", "en": "Zhang Minghua's letter of admission"}
    assert data["holdingArchive"]["@type"] == "ArchiveOrganization"
    assert data["creator"][0]["@id"] == f"{demo_server}/id/agent/academic-affairs"
    assert data["creator"][0]["@type"] == "Organization"
    assert data["isPartOf"]["@id"] == f"{demo_server}/id/recordset/student-memories"
    agent = schema_org(doc(get(f"{demo_server}/id/agent/chen-yuanshan")))
    assert agent["@type"] == "Person"


def test_agent_pages_list_what_they_created_and_appear_in(demo_server):
    chen = doc(get(f"{demo_server}/id/agent/chen-yuanshan", lang="en"))
    assert texts(chen, "//h1") == ["Chen Yuanshan"]
    interviews = chen.xpath('//section[@class="interviews"]//a/@href')
    assert f"{demo_server}/id/record/oh-01" in interviews
    took_part = chen.xpath('//section[contains(@class, "inv-hasOrHadParticipant")]//a/@href')
    assert f"{demo_server}/id/event/interview-oh-01" in took_part
    assert "Born in Wuxi" in texts(chen, '//section[@class="description"]')[0]

    office = doc(get(f"{demo_server}/id/agent/academic-affairs", lang="en"))
    created = office.xpath('//section[contains(@class, "inv-hasCreator")]//a/@href')
    assert f"{demo_server}/id/{RECORD}" in created
    # no closed record is named, not even by its IRI
    page = requests.get(f"{demo_server}/id/agent/academic-affairs", timeout=10).text
    assert "transcript-2019001" not in page
    for word in canaries():
        assert word not in page


def test_places_and_events_have_pages(demo_server):
    xian = doc(get(f"{demo_server}/id/place/xian", lang="en"))
    assert texts(xian, "//h1") == ["Xi'an"]
    linked = xian.xpath('//section[contains(@class, "inv-isAssociatedWithPlace")]//a/@href')
    assert f"{demo_server}/id/{RECORD}" in linked
    event = doc(get(f"{demo_server}/id/event/interview-oh-01", lang="en"))
    participants = event.xpath('//dd[@class="rel-hasOrHadParticipant"]//a/@href')
    assert participants == [f"{demo_server}/id/agent/chen-yuanshan"]


def test_children_are_paged(demo_server, monkeypatch):
    monkeypatch.setattr(pages, "PER_PAGE", 1)  # the demo has no container of 50 records
    url = f"{demo_server}/id/recordset/oral-history"
    seen = []
    for n in (1, 2, 3):
        tree = doc(get(url, page=str(n)))
        seen += tree.xpath('//section[@class="children"]//li/a/@href')
        assert tree.xpath('//section[@class="children"]//ol/@start') == [str(n)]
    assert seen == [f"{demo_server}/id/record/oh-0{i}" for i in (1, 2, 3)]
    first = doc(get(url, page="1"))
    assert first.xpath('//a[@rel="next"]/@href') == ["?page=2"]
    assert not first.xpath('//a[@rel="prev"]')
    # out of range or nonsense: the nearest page, never an error
    assert doc(get(url, page="99")).xpath('//section[@class="children"]//li/a/@href') == [
        f"{demo_server}/id/record/oh-03"]
    assert doc(get(url, page="-1x")).xpath('//section[@class="children"]//li/a/@href') == [
        f"{demo_server}/id/record/oh-01"]
    # a closed child (the consent forms) is never listed nor counted
    whole = requests.get(url, timeout=10).text
    assert "consent-01" not in whole


def test_home_page_lists_fonds_collections_exhibits_and_tools(demo_server):
    for lang, fonds in (("zh", "西安交通大学全宗"), ("en", "Fonds of Xi'an Jiaotong University")):
        tree = doc(get(f"{demo_server}/", lang=lang))
        assert fonds in texts(tree, '//section[@class="fonds"]//a')
        assert len(tree.xpath('//section[@class="collections"]//a')) == 3
        exhibits = tree.xpath('//section[@class="exhibits"]//a/@href')
        # exhibits link to the reader's exhibit page, not to the exhibit's bare IRI page
        assert "/exhibits/covid-memories" in exhibits
        assert not [h for h in exhibits if "/id/exhibit/" in h]
        assert "/sparql" in tree.xpath("//a/@href") and "/search" in tree.xpath("//a/@href")
        for href in tree.xpath('//div[@class="groups"]//a/@href'):
            href = href if href.startswith("http") else demo_server + href
            assert requests.head(href, timeout=10).status_code == 200


def test_hooks_add_links_and_panels(demo_server_home):
    app = create_app(demo_server_home)
    app.extensions["lantai.record_links"].append(
        lambda iri: [("manifest", "application/ld+json", iri.replace("/id/", "/iiif/") + "/m")])
    app.extensions["lantai.record_panels"].append(
        lambda iri, lang: Markup(f'<div id="viewer" data-lang="{lang}">{iri}</div>'))
    app.extensions["lantai.record_panels"].append(lambda iri, lang: None)

    def broken(iri, lang):
        raise RuntimeError("a broken extension")

    app.extensions["lantai.record_panels"].append(broken)
    client = app.test_client()
    r = client.get(f"/id/{RECORD}?lang=en")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    base = app.config["BASE"]
    href = f"{base}/iiif/{RECORD}/m"
    assert f'<link rel="manifest" type="application/ld+json" href="{href}">' in body
    assert f'<{href}>; rel="manifest"; type="application/ld+json"' in r.headers["Link"]
    tree = lxml_html.fromstring(r.data)
    panel = tree.xpath('//section[@class="media"]//div[@id="viewer"]')
    assert panel and panel[0].get("data-lang") == "en"
    rdf = client.get(f"/id/{RECORD}", headers={"Accept": "text/turtle"})
    assert 'rel="manifest"' in rdf.headers["Link"]
    del client, app
    gc.collect()


def test_html_in_titles_is_escaped_everywhere(site):
    repo, admin = site.repo, site.admin
    evil = '</script><script>alert("x")</script><b>bold</b>'
    repo.edit(admin, FILE, set={"title@en": evil, "title@zh": "名册<img src=x onerror=alert(1)>"})
    for ref in (FONDS, SERIES, FILE):
        repo.transition(admin, ref, "publish")
    client = create_app(site.home).test_client()
    iri = site.iris[FILE]
    body = client.get("/id/" + iri.split("/id/", 1)[1],
                      query_string={"lang": "en"}).get_data(as_text=True)
    assert "<script>alert" not in body and "<img src=x" not in body and "<b>bold" not in body
    tree = lxml_html.fromstring(body)
    assert texts(tree, "//h1") == [evil]
    data = schema_org(tree)
    assert {n["@value"] for n in data["name"]} >= {evil}
    assert len(tree.xpath("//script")) == 1
    # the parent's page lists it, escaped
    series = client.get("/id/" + site.iris[SERIES].split("/id/", 1)[1]).get_data(as_text=True)
    assert "<img src=x" not in series
    children = lxml_html.fromstring(series).xpath('//section[@class="children"]//a')
    assert [a.text_content() for a in children] == [evil]  # English, as the cookie says
    zh = client.get("/id/" + site.iris[SERIES].split("/id/", 1)[1] + "?lang=zh").data
    children = lxml_html.fromstring(zh).xpath('//section[@class="children"]//a')
    assert [a.text_content() for a in children] == ["名册<img src=x onerror=alert(1)>"]
    del client
    gc.collect()


@pytest.mark.parametrize("path", ["/id/record/zz9-never", "/id/folder/agents", "/nowhere"])
def test_not_found_pages_say_nothing_more(demo_server, path):
    r = requests.get(demo_server + path, timeout=10)
    assert r.status_code == 404
    assert path.rsplit("/", 1)[-1] not in r.text


# ---------------------------------------------------------------------- digital-object pages
def _object_page(demo_server: str, key: str, lang: str):
    tree = doc(get(f"{demo_server}/id/instantiation/{key}", lang=lang))
    (panel,) = tree.xpath('//div[@class="digital-object"]')
    return panel


def _answers(url: str, media_type: str) -> requests.Response:
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, url
    assert r.headers["Content-Type"].startswith(media_type), url
    return r


def test_scan_page_shows_the_image_its_text_and_a_download(demo_server):
    for lang, download in (("zh", "下载图像"), ("en", "Download the image")):
        panel = _object_page(demo_server, "notes-p1-jpg", lang)
        (img,) = panel.xpath(".//img")
        assert img.get("src").startswith(f"{demo_server}/iiif/3/notes-p1-jpg/full/!")
        assert img.get("alt")
        assert _answers(img.get("src"), "image/jpeg").content[:2] == b"\xff\xd8"
        assert "计算尺" in panel.text_content()  # the page's OCR lines
        links = {a.text_content(): a.get("href") for a in panel.xpath(".//a[@download]")}
        (name,) = [n for n in links if n.startswith(download)]
        _answers(links[name], "image/jpeg")


def test_recording_page_plays_with_transcripts_as_tracks(demo_server):
    for lang, other in (("zh", "en"), ("en", "zh")):
        panel = _object_page(demo_server, "oh-01-ogg", lang)
        (audio,) = panel.xpath(".//audio[@controls]")
        assert audio.get("src") == f"{demo_server}/iiif/media/oh-01-ogg"
        assert _answers(audio.get("src"), "audio/ogg").content[:4] == b"OggS"
        tracks = {t.get("srclang"): t for t in audio.xpath(".//track")}  # lxml nests them
        assert set(tracks) == {"zh", "en"}
        assert tracks[lang].get("default") is not None and tracks[other].get("default") is None
        for track in tracks.values():
            assert track.get("kind") == "subtitles" and track.get("label")
            assert _answers(track.get("src"), "text/vtt").text.startswith("WEBVTT")
        # the transcript in the reader's language is shown as text too
        (text,) = panel.xpath('.//section[@class="object-text"]')
        assert ("一九五六年夏天" if lang == "zh" else "In the summer of 1956") in \
            text.text_content()
        (download,) = panel.xpath(".//a[@download]")
        assert download.get("href") == audio.get("src")


def test_transcript_page_shows_its_text_recording_and_downloads(demo_server):
    panel = _object_page(demo_server, "oh-01-en-vtt", "en")
    (text,) = panel.xpath('.//section[@class="object-text"]')
    assert text.get("lang") == "en" and "[0:00] In the summer of 1956" in text.text_content()
    assert panel.xpath('.//p[@class="object-recording"]/a/@href') == [
        f"{demo_server}/id/instantiation/oh-01-ogg"]
    hrefs = panel.xpath(".//a[@download]/@href")
    assert hrefs == [f"{demo_server}/iiif/media/oh-01-en-vtt",
                     f"{demo_server}/iiif/media/oh-01-en-vtt/text"]
    _answers(hrefs[0], "text/vtt")
    assert "In the summer of 1956" in _answers(hrefs[1], "text/plain").text
    zh = _object_page(demo_server, "oh-01-en-vtt", "zh")
    assert "下载纯文本" in zh.text_content()


def test_object_pages_show_only_public_material(site, tmp_path):
    """A closed transcript of a public recording is neither a track, a link nor text on the
    recording's page; a closed scan has no page at all."""
    from support import ITEM

    from repo.demo import MEDIA_DIR
    from repo.files import FileStore

    repo, admin = site.repo, site.repo.user("admin")
    files = FileStore.for_site(site.home)
    secret = tmp_path / "secret.vtt"
    secret.write_text("WEBVTT\n\n00:00.000 --> 00:05.000\nSECRET-NAME-LIST\n",
                      encoding="utf-8")
    for key, path, fields, access in (
            ("rec", MEDIA_DIR / "oh-01.ogg", {"mime": "audio/ogg"}, None),
            ("rec-en", MEDIA_DIR / "oh-01.en.vtt", {"mime": "text/vtt", "language": ["en"],
                                                    "derivedFrom": [f"{ITEM}/rec"]}, None),
            ("rec-x", secret, {"mime": "text/vtt", "language": ["zh"],
                               "derivedFrom": [f"{ITEM}/rec"]}, "personal"),
            ("scan", MEDIA_DIR / "consent-01.jpg", {"mime": "image/jpeg"}, "restricted")):
        repo.create(admin, ITEM, "instantiation", {**fields, "digest": files.put(path)},
                    slug=key, key=key, access=access)
    repo.transition(admin, "/xjtu", "publish", recursive=True)
    client = create_app(site.home).test_client()
    body = client.get("/id/instantiation/rec?lang=zh").get_data(as_text=True)
    tree = lxml_html.fromstring(body)
    assert [t.get("srclang") for t in tree.xpath("//audio//track")] == ["en"]
    assert "rec-x" not in body and "SECRET" not in body
    assert "In the summer of 1956" in body  # the public transcript, as no Chinese one is
    assert client.get("/id/instantiation/rec-x").status_code == 404
    assert client.get("/id/instantiation/scan").status_code == 404
