"""IIIF Content Search 2.0 and the OCR / transcript annotation pages.

Over real HTTP on the demo archive (its scans' OCR comes precomputed with the demo), and on a
site of our own for what the demo lacks: many hits (paging), a closed page inside an open
record, and the catalog indexing OCR made at ingest.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from iiif import ocr, search_api
from repo.catalog import Catalog
from repo.demo import MEDIA_DIR, canaries, manifest
from repo.files import FileStore

sys.path.insert(0, str(Path(__file__).parent))
from support import ITEM
from test_ocr import render

SEARCH_CONTEXT = "http://iiif.io/api/search/2/context.json"
XYWH = re.compile(r"#xywh=(\d+),(\d+),(\d+),(\d+)$")
T = re.compile(r"#t=(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)$")


def get(base: str, path: str, **params) -> requests.Response:
    return requests.get(base + path, params=params, timeout=60)


def check_page(page: dict) -> None:
    """The structure of a Content Search 2 response (what viewers rely on)."""
    assert page["@context"] == SEARCH_CONTEXT
    assert page["type"] == "AnnotationPage"
    assert page["id"].startswith("http")
    ids = set()
    for anno in page["items"]:
        assert anno["type"] == "Annotation" and anno["id"].startswith("http")
        assert anno["motivation"] == "supplementing"
        assert anno["body"]["type"] == "TextualBody" and anno["body"]["value"]
        assert anno["body"]["format"] == "text/plain"
        assert XYWH.search(anno["target"]) or T.search(anno["target"])
        ids.add(anno["id"])
    if page["items"]:
        (extra,) = page["annotations"]
        assert extra["type"] == "AnnotationPage"
        covered = set()
        for hl in extra["items"]:
            assert hl["type"] == "Annotation" and hl["motivation"] == "highlighting"
            assert hl["id"].startswith("http")
            target = hl["target"]
            assert target["type"] == "SpecificResource" and target["source"] in ids
            (sel,) = target["selector"]
            assert sel["type"] == "TextQuoteSelector"
            assert set(sel) == {"type", "prefix", "exact", "suffix"} and sel["exact"]
            body = next(a["body"]["value"] for a in page["items"] if a["id"] == target["source"])
            assert sel["prefix"] + sel["exact"] + sel["suffix"] in body
            covered.add(target["source"])
        assert covered == ids  # every hit says where the match is
    else:
        assert "annotations" not in page


def search(base: str, kind: str, key: str, q: str, **params) -> dict:
    resp = get(base, f"/iiif/search/{kind}/{key}", q=q, **params)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    page = resp.json()
    check_page(page)
    return page


def exacts(page: dict) -> list[str]:
    return [hl["target"]["selector"][0]["exact"] for hl in page.get("annotations", [{}])[0]
            .get("items", [])]


# ---------------------------------------------------------------------- the demo, over HTTP
def test_chinese_word_on_a_page_simplified_and_traditional(demo_server: str):
    canvas = f"{demo_server}/iiif/manifest/record/lecture-notes-1957/canvas/notes-p1-jpg"
    for q in ("计算尺", "計算尺"):
        page = search(demo_server, "record", "lecture-notes-1957", q)
        assert len(page["items"]) == 1, q
        hit = page["items"][0]
        assert hit["target"].startswith(canvas + "#xywh=")
        x, y, w, h = map(int, XYWH.search(hit["target"]).groups())
        # "(带计算尺，实验报告周六交)" is handwritten on the 20th ruled line of the 800×1130 page
        assert 100 <= x < x + w <= 800 and 780 < y < y + h < 880
        assert exacts(page) == ["计算尺"]
        assert hit["id"].startswith(f"{demo_server}/iiif/annotations/notes-p1-jpg/ocr#")
    # a word on both pages of the notebook: hits on both canvases, in page order
    page = search(demo_server, "record", "lecture-notes-1957", "电流")
    canvases = [a["target"].split("#")[0].rsplit("/", 1)[-1] for a in page["items"]]
    assert canvases[0] == "notes-p1-jpg" and canvases[-1] == "notes-p2-jpg"
    assert canvases == sorted(canvases)


def test_english_words_in_transcripts_target_times(demo_server: str):
    duration = manifest()["oh-01.ogg"]["duration"]
    canvas = f"{demo_server}/iiif/manifest/record/oh-01/canvas/oh-01-ogg"
    page = search(demo_server, "record", "oh-01", "Trains")  # case and plural do not matter
    assert len(page["items"]) == 2
    for anno in page["items"]:
        assert anno["target"].startswith(canvas + "#t=")
        start, end = map(float, T.search(anno["target"]).groups())
        assert 0 <= start < end <= duration
        assert anno["body"]["language"] == "en"
    assert exacts(page) == ["train", "train"]
    first = T.search(page["items"][0]["target"]).groups()
    assert float(first[0]) == pytest.approx(0.4, abs=0.01)  # the first cue of oh-01.en.vtt


def test_chinese_in_transcripts(demo_server: str):
    page = search(demo_server, "record", "oh-03", "梧桐")
    assert len(page["items"]) == 2
    assert all("#t=" in a["target"] and a["body"]["language"] == "zh" for a in page["items"])
    assert set(exacts(page)) == {"梧桐"}
    # the OCR of a page scan and an English word OCR ran together ("LetterofAdmission")
    page = search(demo_server, "record", "admission-letter-1956", "admission")
    assert any("Admission" in e for e in exacts(page))


def test_phrase_cut_by_a_line_break(demo_server: str):
    """On the admission letter "…请于一九五六年" ends a line and "九月十日前…" starts the next."""
    for q, parts in (("一九五六年九月十日", ["一九五六年", "九月十日"]),
                     ("五六年九月", ["五六年", "九月"])):
        page = search(demo_server, "record", "admission-letter-1956", q)
        first, second = page["items"]
        assert first["body"]["value"].endswith("一九五六年")
        assert second["body"]["value"].startswith("九月十日")
        assert exacts(page) == parts
    # one line alone does not match a longer phrase that is not there
    assert search(demo_server, "record", "admission-letter-1956", "一九五六年九月二十日"
                  )["items"] == []


def test_autocomplete(demo_server: str):
    resp = get(demo_server, "/iiif/autocomplete/record/oh-03", q="梧")
    assert resp.status_code == 200
    terms = resp.json()
    assert terms["@context"] == SEARCH_CONTEXT and terms["type"] == "TermPage"
    values = [t["value"] for t in terms["items"]]
    assert values[0] == "梧桐"
    assert all(v.startswith("梧") for v in values)
    item = terms["items"][0]
    assert item["total"] >= 2
    (service,) = item["service"]
    assert service["type"] == "SearchService2"
    assert parse_qs(urlsplit(service["id"]).query)["q"] == ["梧桐"]
    terms = get(demo_server, "/iiif/autocomplete/record/oh-01", q="Tra", x="1").json()
    assert [t["value"] for t in terms["items"]] == ["train"]
    assert terms["ignored"] == ["x"]
    assert get(demo_server, "/iiif/autocomplete/record/oh-01", q="").json()["items"] == []


def test_ocr_annotation_page(demo_server: str):
    resp = get(demo_server, "/iiif/annotations/admission-letter-1956-jpg/ocr")
    assert resp.status_code == 200
    page = resp.json()
    assert page["type"] == "AnnotationPage"
    assert page["id"] == f"{demo_server}/iiif/annotations/admission-letter-1956-jpg/ocr"
    canvas = f"{demo_server}/iiif/manifest/record/admission-letter-1956/canvas/" \
        "admission-letter-1956-jpg"
    texts = [a["body"]["value"] for a in page["items"]]
    assert "录取通知书" in texts
    for anno in page["items"]:
        assert anno["motivation"] == "supplementing"
        assert anno["target"].startswith(canvas + "#xywh=")
        x, y, w, h = map(int, XYWH.search(anno["target"]).groups())
        assert 0 <= x < x + w <= 800 and 0 <= y < y + h <= 1130
    # and the cues of a transcript, on the recording's canvas
    page = get(demo_server, "/iiif/annotations/oh-02-en-vtt/transcript").json()
    assert len(page["items"]) == 5
    assert all(a["target"].startswith(
        f"{demo_server}/iiif/manifest/record/oh-02/canvas/oh-02-ogg#t=") for a in page["items"])


def test_services_for_the_manifests(demo_server: str):
    service, _v1 = search_api.search_services("record", "oh-01", base=demo_server)
    assert service == {
        "id": f"{demo_server}/iiif/search/record/oh-01", "type": "SearchService2",
        "service": [{"id": f"{demo_server}/iiif/autocomplete/record/oh-01",
                     "type": "AutoCompleteService2"}]}


def test_hits_point_at_the_manifests_canvases(demo_server: str):
    """What the manifests say (canvas ids, the search service) and what search answers agree."""
    for key, q in (("lecture-notes-1957", "变压器"), ("oh-02", "图书馆"), ("oh-02", "library")):
        manifest_doc = get(demo_server, f"/iiif/manifest/record/{key}").json()
        canvases = {c["id"] for c in manifest_doc["items"]}
        assert manifest_doc["service"] == search_api.search_services("record", key,
                                                                     base=demo_server)
        page = search(demo_server, "record", key, q)
        assert page["items"], (key, q)
        assert {a["target"].split("#")[0] for a in page["items"]} <= canvases
        for canvas in manifest_doc["items"]:
            for ref in canvas.get("annotations", []):
                if ref["id"].endswith("/ocr"):  # the OCR page a canvas links dereferences
                    ocr_page = get(demo_server, ref["id"].removeprefix(demo_server)).json()
                    assert ocr_page["items"]
                    assert all(a["target"].startswith(canvas["id"] + "#xywh=")
                               for a in ocr_page["items"])


def test_closed_records_and_pages_give_nothing(demo_server: str):
    never = get(demo_server, "/iiif/search/record/nx-never", q="a")
    assert never.status_code == 404
    for kind, key in (("record", "consent-01"), ("record", "transcript-2019001")):
        for route in (f"/iiif/search/{kind}/{key}", f"/iiif/autocomplete/{kind}/{key}"):
            resp = get(demo_server, route, q="授权")
            assert resp.status_code == 404 and resp.content == never.content
    for key in ("consent-01-jpg", "transcript-2019001-jpg", "nx-never", "oh-01-ogg",
                "..%2f..%2fetc", "notes-p1.jpg"):
        assert get(demo_server, f"/iiif/annotations/{key}/ocr").status_code == 404
        assert get(demo_server, f"/iiif/annotations/{key}/transcript").status_code == 404
    # the public records' search never shows a word that is only on closed pages
    for kind, key in (("record", "lecture-notes-1957"), ("record", "oh-01"),
                      ("record", "admission-letter-1956"), ("record", "relocation-telegram")):
        for q in ("CANARY", "授权书", "身份证号"):
            assert search(demo_server, kind, key, q)["items"] == [], (key, q)
        for q in ("CAN", "授"):
            terms = get(demo_server, f"/iiif/autocomplete/{kind}/{key}", q=q).json()
            assert not [t for t in terms["items"] if "canary" in t["value"] or "授权" in
                        t["value"]]
    for canary in canaries():
        page = search(demo_server, "record", "oh-01", canary)
        assert page["items"] == [] and "annotations" not in page  # (the id echoes the query)


def test_public_catalog_has_ocr_and_transcripts_but_not_closed_pages(demo_server_home: Path):
    catalog = Catalog.open(demo_server_home, public=True)
    hits = [h.iri.rsplit("/", 1)[-1] for h in catalog.search("計算尺").hits]
    assert "lecture-notes-1957" in hits  # only on the scan, not in the description
    hits = [h.iri.rsplit("/", 1)[-1] for h in catalog.search("coal stove").hits]
    assert "oh-01" in hits
    assert catalog.search("身份证号 受访人").total == 0  # the consent forms' OCR
    hits = [h.iri.rsplit("/", 1)[-1] for h in catalog.search('"一九五六年九月十日"').hits]
    assert "admission-letter-1956" in hits  # a phrase an OCR line break cuts in two


def test_bad_queries(demo_server: str):
    empty = search(demo_server, "record", "oh-01", "")
    assert empty["items"] == []
    assert search(demo_server, "record", "oh-01", "   ")["items"] == []
    huge = get(demo_server, "/iiif/search/record/oh-01", q="西" * 5000)
    assert huge.status_code == 400 and "too long" in huge.json()["error"]
    assert get(demo_server, "/iiif/autocomplete/record/oh-01", q="x" * 5000).status_code == 400
    for q in ('"', "-", "*", "OR", "title:", '"unclosed', "a\x00b", "\ud7ff", "((", "%", "-西迁"):
        resp = get(demo_server, "/iiif/search/record/oh-01", q=q)
        assert resp.status_code == 200, q
        check_page(resp.json())
    for page in ("x", "-1", "99", "1" * 50):
        assert get(demo_server, "/iiif/search/record/oh-01", q="train",
                   page=page).status_code == 400
    page = search(demo_server, "record", "oh-01", "train", user="me", date="2020")
    assert page["ignored"] == ["date", "user"] and len(page["items"]) == 2
    # motivation: our annotations are supplementing
    assert search(demo_server, "record", "oh-01", "train", motivation="painting")["items"] == []
    assert len(search(demo_server, "record", "oh-01", "train",
                      motivation="supplementing")["items"]) == 2
    for kind, key in (("record", "x" * 300), ("exhibit", "oh-01"), ("record", "OH-01")):
        assert get(demo_server, f"/iiif/search/{kind}/{key}", q="a").status_code == 404


# ---------------------------------------------------------------------- a site of our own
@pytest.fixture(scope="session")
def scans(tmp_path_factory) -> tuple[Path, dict]:
    """Two small scans we draw, recognised once per session (OCR costs seconds)."""
    folder = tmp_path_factory.mktemp("scans")
    boxes = render(folder / "open.png", (900, 300), [("兰台数字档案馆", (80, 90), 80)])
    render(folder / "closed.png", (900, 300), [("秘密名单甲乙", (80, 90), 80)])
    home = folder / "home"
    for name in ("open.png", "closed.png"):
        ocr.ensure_ocr(home, FileStore(home).put(folder / name))  # a scratch folder
    return folder, boxes


@pytest.fixture
def text_site(site, tmp_path: Path, scans):
    """The fixture item with an open scan, a closed scan, a recording and a transcript of
    250 cues, OCR made the way media ingest makes it (before the instantiation is written;
    the session's OCR of the two scans is copied in first, as a derivative cache)."""
    repo, admin = site.repo, site.repo.user("admin")
    files = FileStore.for_site(site.home)
    item = "/xjtu/students/register-1957/page-1"
    folder, boxes = scans
    for name in ("open.png", "closed.png"):
        shutil.copy(folder / name, tmp_path / name)
        digest = files.put(tmp_path / name)
        target = ocr.derivative_dir(site.home, digest)
        target.mkdir(parents=True)
        shutil.copy(ocr.derivative_dir(folder / "home", digest) / "ocr.json", target)
    vtt = "WEBVTT\n\n" + "".join(
        f"{n}\n00:{n // 60:02d}:{n % 60:02d}.000 --> 00:{n // 60:02d}:{n % 60:02d}.900\n"
        f"Cue {n} in the library\n\n" for n in range(250))
    (tmp_path / "t.vtt").write_text(vtt, encoding="utf-8")
    specs = [
        ("scan-1", tmp_path / "open.png", {"mime": "image/png", "width": "900",
                                           "height": "300"}, None),
        ("scan-2", tmp_path / "closed.png", {"mime": "image/png", "width": "900",
                                             "height": "300"}, "personal"),
        ("rec", MEDIA_DIR / "oh-01.ogg", {"mime": "audio/ogg", "extent": "PT23.6S"}, None),
        ("rec-en", tmp_path / "t.vtt", {"mime": "text/vtt", "language": ["en"],
                                        "derivedFrom": [f"{item}/rec"]}, None),
    ]
    for key, path, fields, access in specs:
        digest = files.put(path)
        ocr.ocr_for_ingest(site.home, digest, fields["mime"])
        repo.create(admin, item, "instantiation", {**fields, "digest": digest}, slug=key,
                    key=key, access=access)
    repo.transition(admin, "/xjtu", "publish", recursive=True)
    from publisher.app import create_app

    return site, create_app(site.home).test_client(), boxes["兰台数字档案馆"]


def test_own_site_page_hit_box_and_closed_page(text_site):
    site, client, box = text_site
    base = "https://archive.example.edu"
    resp = client.get("/iiif/search/record/page-1", query_string={"q": "數字檔案"})
    assert resp.status_code == 200
    page = resp.get_json()
    check_page(page)
    (hit,) = page["items"]
    assert hit["target"].startswith(f"{base}/iiif/manifest/record/page-1/canvas/scan-1#xywh=")
    x, y, w, _h = map(int, XYWH.search(hit["target"]).groups())
    assert abs(x - box[0]) < 30 and abs(y - box[1]) < 30 and abs(w - box[2]) < 60
    assert exacts(page) == ["数字档案"]
    # the closed page: its text is not searchable, its annotations are not there
    assert client.get("/iiif/search/record/page-1", query_string={"q": "秘密"}
                      ).get_json()["items"] == []
    assert client.get("/iiif/annotations/scan-2/ocr").status_code == 404
    assert client.get("/iiif/annotations/scan-1/ocr").status_code == 200
    # the catalogs: staff finds both pages' text, the public only the open one
    staff = Catalog.for_repository(site.repo)
    public = Catalog.for_repository(site.repo, public=True)
    admin = site.repo.user("admin")
    assert site.repo.iri_for("record", "page-1") in [
        h.iri for h in public.search("兰台数字档案").hits]
    assert public.search("秘密名单").total == 0
    found = [h.iri for h in staff.search("秘密名单", user=admin).hits]
    assert site.repo.iri_for("instantiation", "scan-2") in found


def test_own_site_paging(text_site):
    _site, client, _box = text_site
    resp = client.get("/iiif/search/record/page-1", query_string={"q": "library"})
    first = resp.get_json()
    check_page(first)
    assert len(first["items"]) == search_api.PAGE_SIZE
    collection = first["partOf"]
    assert collection["type"] == "AnnotationCollection" and collection["total"] == 250
    assert first["startIndex"] == 0 and "prev" not in first
    seen = [a["id"] for a in first["items"]]
    page = first
    while "next" in page:
        nxt = page["next"]
        assert nxt["type"] == "AnnotationPage"
        page = client.get(nxt["id"].removeprefix("https://archive.example.edu")).get_json()
        check_page(page)
        assert page["partOf"]["id"] == collection["id"]
        assert page["prev"]["type"] == "AnnotationPage"
        seen += [a["id"] for a in page["items"]]
    assert page["id"] == collection["last"]["id"]
    assert len(seen) == len(set(seen)) == 250
    assert all("#t=" in a["target"] for a in page["items"])
    assert client.get("/iiif/search/record/page-1",
                      query_string={"q": "library", "page": "3"}).status_code == 400


def test_record_is_reindexed_when_its_media_change(text_site, tmp_path: Path):
    """Adding or deleting a transcript (a changeset that does not touch the record) changes
    what finds the record, in the staff catalog at once."""
    site, _client, _box = text_site
    repo, admin = site.repo, site.repo.user("admin")
    staff = Catalog.for_repository(repo)
    record = repo.iri_for("record", "page-1")

    def finds(q: str) -> list[str]:
        return [h.iri for h in staff.search(q, user=admin).hits]

    assert record not in finds("zanzibar")
    vtt = tmp_path / "extra.vtt"
    vtt.write_text("WEBVTT\n\n00:00.000 --> 00:02.000\nA postcard from Zanzibar\n",
                   encoding="utf-8")
    digest = FileStore.for_site(site.home).put(vtt)
    item = "/xjtu/students/register-1957/page-1"
    repo.create(admin, item, "instantiation",
                {"mime": "text/vtt", "digest": digest, "language": ["en"],
                 "derivedFrom": [f"{item}/rec"]}, slug="extra", key="extra")
    assert record in finds("zanzibar")
    assert repo.iri_for("instantiation", "extra") in finds("zanzibar")
    repo.delete(admin, f"{item}/extra")
    assert finds("zanzibar") == []


def test_pages_are_read_in_canvas_order_not_key_order(site):
    """Search and OCR read a record's pages in the manifest's canvas order: the tree order
    (schema:position), not the order of the keys (p10 was attached before p2 here)."""
    from iiif.texts import public_media

    repo, admin = site.repo, site.repo.user("admin")
    digest = "sha256:" + "ab" * 32
    for key in ("p10", "p2", "p1"):
        repo.create(admin, ITEM, "instantiation",
                    {"digest": digest, "mime": "image/jpeg", "width": "10", "height": "10"},
                    key=key, slug=key)
    item = repo.get(admin, ITEM)
    assert [m.key for m in public_media(repo.working, item.iri)] == ["p10", "p2", "p1"]


# ---------------------------------------------------------------------- Content Search 1.0
SEARCH1_CONTEXT = "http://iiif.io/api/search/1/context.json"
PRESENTATION2_CONTEXT = "http://iiif.io/api/presentation/2/context.json"


def check_list_v1(doc: dict) -> None:
    """The structure of a Content Search 1.0 answer (spec sections 3.3 and 3.4): what
    Mirador 4 and the Universal Viewer read."""
    assert doc["@context"] == [PRESENTATION2_CONTEXT, SEARCH1_CONTEXT]
    assert doc["@type"] == "sc:AnnotationList" and doc["@id"].startswith("http")
    chars = {}
    for anno in doc["resources"]:
        assert anno["@type"] == "oa:Annotation" and anno["@id"].startswith("http")
        assert anno["motivation"] == "sc:painting"
        assert anno["resource"]["@type"] == "cnt:ContentAsText" and anno["resource"]["chars"]
        assert XYWH.search(anno["on"]) or T.search(anno["on"])
        chars[anno["@id"]] = anno["resource"]["chars"]
    covered = set()
    for hit in doc["hits"]:
        assert hit["@type"] == "search:Hit"
        (ref,) = hit["annotations"]
        assert ref in chars and hit["match"]
        assert hit["before"] + hit["match"] + hit["after"] in chars[ref]
        covered.add(ref)
    assert covered == set(chars)  # every annotation is a hit, every hit names one
    if "within" in doc:
        assert doc["within"]["@type"] == "sc:Layer"
        assert isinstance(doc["within"]["total"], int)


def search_v1(base: str, kind: str, key: str, q: str, **params) -> dict:
    resp = get(base, f"/iiif/search/1/{kind}/{key}", q=q, **params)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    doc = resp.json()
    check_list_v1(doc)
    return doc


def test_search_1_0_answers_what_2_0_answers(demo_server: str):
    for key, q in (("lecture-notes-1957", "计算尺"), ("lecture-notes-1957", "電流"),
                   ("oh-01", "Trains"), ("oh-03", "梧桐"),
                   ("admission-letter-1956", "一九五六年九月十日")):
        two = search(demo_server, "record", key, q)
        one = search_v1(demo_server, "record", key, q)
        assert [a["@id"] for a in one["resources"]] == [a["id"] for a in two["items"]]
        assert [a["on"] for a in one["resources"]] == [a["target"] for a in two["items"]]
        assert [h["match"] for h in one["hits"]] == exacts(two)
        assert "within" not in one and "next" not in one  # one page, nothing ignored
    one = search_v1(demo_server, "record", "lecture-notes-1957", "计算尺")
    (hit,) = one["hits"]
    assert hit["match"] == "计算尺" and hit["before"].endswith("带")
    # motivation: our text is painting in 1.0; parameters not implemented are reported
    assert search_v1(demo_server, "record", "oh-01", "train", motivation="painting")["hits"]
    assert search_v1(demo_server, "record", "oh-01", "train", motivation="commenting"
                     )["resources"] == []
    ignored = search_v1(demo_server, "record", "oh-01", "train", user="http://x/u", date="1")
    assert ignored["within"] == {"@type": "sc:Layer", "total": 2, "ignored": ["date", "user"]}
    assert search_v1(demo_server, "record", "oh-01", "")["resources"] == []
    assert get(demo_server, "/iiif/search/1/record/oh-01", q="x" * 201).status_code == 400


def test_autocomplete_1_0(demo_server: str):
    resp = get(demo_server, "/iiif/autocomplete/1/record/oh-03", q="梧")
    assert resp.status_code == 200
    terms = resp.json()
    assert terms["@context"] == SEARCH1_CONTEXT and terms["@type"] == "search:TermList"
    assert terms["@id"].startswith(f"{demo_server}/iiif/autocomplete/1/record/oh-03?")
    first = terms["terms"][0]
    assert first["match"] == "梧桐" and first["count"] >= 2
    assert first["url"].startswith(f"{demo_server}/iiif/search/1/record/oh-03?")
    assert parse_qs(urlsplit(first["url"]).query)["q"] == ["梧桐"]
    assert search_v1(demo_server, "record", "oh-03", "梧桐")["hits"]  # the url is a search
    # the same terms as 2.0
    two = get(demo_server, "/iiif/autocomplete/record/oh-03", q="梧").json()
    assert [(t["match"], t["count"]) for t in terms["terms"]] == [
        (t["value"], t["total"]) for t in two["items"]]
    # min: at least that many occurrences; other parameters are reported
    few = get(demo_server, "/iiif/autocomplete/1/record/oh-03", q="梧", min="1000",
              motivation="painting").json()
    assert few["terms"] == [] and few["ignored"] == ["motivation"]
    assert get(demo_server, "/iiif/autocomplete/1/record/oh-03", q="梧", min="x"
               ).status_code == 400


def test_search_1_0_in_the_manifest_and_only_public(demo_server: str):
    manifest_doc = get(demo_server, "/iiif/manifest/record/oh-02").json()
    two, one = manifest_doc["service"]
    assert two["type"] == "SearchService2"
    assert one == {
        "@context": SEARCH1_CONTEXT, "@id": f"{demo_server}/iiif/search/1/record/oh-02",
        "@type": "SearchService1", "profile": "http://iiif.io/api/search/1/search",
        "service": [{"@id": f"{demo_server}/iiif/autocomplete/1/record/oh-02",
                     "@type": "AutoCompleteService1",
                     "profile": "http://iiif.io/api/search/1/autocomplete"}]}
    canvases = {c["id"] for c in manifest_doc["items"]}
    doc = search_v1(demo_server, "record", "oh-02", "library")
    assert doc["resources"] and {a["on"].split("#")[0] for a in doc["resources"]} <= canvases
    # closed or never existing: the same 404; closed pages' words are not there
    never = get(demo_server, "/iiif/search/1/record/nx-never", q="a")
    assert never.status_code == 404
    for key in ("consent-01", "transcript-2019001"):
        for route in (f"/iiif/search/1/record/{key}", f"/iiif/autocomplete/1/record/{key}"):
            resp = get(demo_server, route, q="授权")
            assert resp.status_code == 404 and resp.content == never.content
    for key in ("lecture-notes-1957", "oh-01", "admission-letter-1956"):
        for q in ("CANARY", "授权书", "身份证号", *canaries()):
            assert search_v1(demo_server, "record", key, q)["resources"] == [], (key, q)
        terms = get(demo_server, f"/iiif/autocomplete/1/record/{key}", q="授").json()
        assert not [t for t in terms["terms"] if "授权" in t["match"]]


def test_search_1_0_paging(text_site):
    _site, client, _box = text_site
    first = client.get("/iiif/search/1/record/page-1", query_string={"q": "library"}
                       ).get_json()
    check_list_v1(first)
    layer = first["within"]
    assert layer["total"] == 250 and first["startIndex"] == 0 and "prev" not in first
    assert len(first["resources"]) == search_api.PAGE_SIZE
    seen, doc = [a["@id"] for a in first["resources"]], first
    while "next" in doc:
        doc = client.get(doc["next"].removeprefix("https://archive.example.edu")).get_json()
        check_list_v1(doc)
        assert doc["within"]["first"] == layer["first"] and doc["prev"]
        seen += [a["@id"] for a in doc["resources"]]
    assert doc["@id"] == layer["last"] and doc["startIndex"] == 2 * search_api.PAGE_SIZE
    assert len(seen) == len(set(seen)) == 250
    assert client.get("/iiif/search/1/record/page-1",
                      query_string={"q": "library", "page": "3"}).status_code == 400
