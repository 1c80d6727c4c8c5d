"""IIIF Presentation 3: manifests and collections of the demo archive, over real HTTP.

Every manifest and collection reachable from the fonds is validated against the official
JSON schema (../shared/reference/iiif/presentation-validator), checked for what the schema
misses (durations, motivations, ids that dereference), compared with the cookbook recipes'
shapes, and searched for the closed material's canary strings.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urldefrag

import pytest
import requests
from pyoxigraph import Store
from support import REFERENCE, require

from iiif.manifests import PublicGraph, Site, build_manifest, is_digitised, iso_seconds
from repo.demo import canaries
from repo.demo import manifest as demo_manifest
from repo.files import FileStore

IIIF_REF = REFERENCE / "iiif"
SCHEMA = IIIF_REF / "presentation-validator" / "iiif_3_0.json"
COOKBOOK = IIIF_REF / "cookbook"
MOTIVATIONS = {"painting", "supplementing", "commenting", "tagging", "linking", "describing",
               "highlighting", "identifying", "classifying", "bookmarking", "editing",
               "moderating", "questioning", "replying", "assessing"}
PROFILE = 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'
ORAL_HISTORIES = ("oh-01", "oh-02", "oh-03")
CLOSED = ("consent-01", "consent-02", "consent-03", "transcript-2019001", "transcript-2019002")


def unavailable(why: str) -> None:
    """A missing tool or reference file: a skip that says why, a failure under CI."""
    require(False, why)


def get(url: str, **kw) -> requests.Response:
    return requests.get(url, timeout=30, **kw)


@pytest.fixture(scope="module")
def documents(demo_server: str) -> dict[str, dict]:
    """Every collection and manifest reachable from the fonds, by URL."""
    found: dict[str, dict] = {}
    todo = [f"{demo_server}/iiif/collection/recordset/xjtu"]
    while todo:
        url = todo.pop()
        if url in found:
            continue
        r = get(url)
        assert r.status_code == 200, url
        doc = found[url] = r.json()
        for item in doc.get("items", []) if doc["type"] == "Collection" else []:
            todo.append(item["id"])
    return found


@pytest.fixture(scope="module")
def manifests(documents) -> dict[str, dict]:
    return {u: d for u, d in documents.items() if d["type"] == "Manifest"}


@pytest.fixture(scope="module")
def schema():
    if not SCHEMA.exists():
        unavailable(f"IIIF Presentation 3 schema not found at {SCHEMA} "
                    "(CI has ../shared/reference; a bare clone does not)")
    import jsonschema

    return jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))


def cookbook(name: str) -> dict:
    path = COOKBOOK / name
    if not path.exists():
        unavailable(f"IIIF cookbook recipe not found at {path}")
    return json.loads(path.read_text())


def walk(node):
    """Every dict inside a JSON document."""
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def schema_errors(validator, doc: dict) -> list[str]:
    out = []
    for err in validator.iter_errors(doc):
        leaves = [e for e in err.context or []] or [err]
        out += [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in leaves]
    return out


# ---------------------------------------------------------------------- coverage
def test_every_digitised_public_record_has_a_manifest_in_a_collection(demo_server,
                                                                     demo_server_home,
                                                                     manifests):
    store = Store.read_only(str(demo_server_home / "publication"))
    graph = PublicGraph(store, demo_server)
    digitised = {g.value for g in store.named_graphs()
                 if "/id/record/" in g.value or "/id/recordset/" in g.value}
    digitised = {iri for iri in digitised if is_digitised(graph, iri)}
    assert len(digitised) >= 9  # scans, a photograph, three oral histories
    expected = {iri.replace("/id/", "/iiif/manifest/") for iri in digitised}
    assert set(manifests) == expected
    for key in (*ORAL_HISTORIES, "lecture-notes-1957", "admission-letter-1956"):
        assert f"{demo_server}/iiif/manifest/record/{key}" in manifests


def test_manifests_and_collections_validate_against_the_presentation_3_schema(documents,
                                                                              schema):
    assert len(documents) >= 14  # 5 collections, 9 manifests
    for url, doc in documents.items():
        assert schema_errors(schema, doc) == [], url


def test_the_validator_catches_a_broken_manifest(manifests, schema):
    """The schema check can fail: a canvas without its type or a label that is a string."""
    doc = json.loads(json.dumps(next(iter(manifests.values()))))
    doc["label"] = "not a language map"
    del doc["items"][0]["type"]
    assert schema_errors(schema, doc)


# ---------------------------------------------------------------------- what a manifest says
def test_a_paged_notebook(demo_server, manifests):
    m = manifests[f"{demo_server}/iiif/manifest/record/lecture-notes-1957"]
    assert m["@context"][-1] == "http://iiif.io/api/presentation/3/context.json"
    assert m["label"]["zh"] == ["林秀兰《电机学》课堂笔记"]
    assert m["label"]["en"] == ["Lin Xiulan's class notes on Electrical Machines"]
    assert set(m["summary"]) == {"zh", "en"}
    labels = {row["label"]["en"][0]: row["value"] for row in m["metadata"]}
    assert labels["Reference code"] == {"none": ["0421-XS·1957-Y-TC-0001"]}
    assert labels["Creator"] == {"zh": ["林秀兰"], "en": ["Lin Xiulan"]}
    assert all(set(row["label"]) == {"zh", "en"} for row in m["metadata"])
    assert m["behavior"] == ["paged"] and m["viewingDirection"] == "left-to-right"
    assert m["navDate"] == "1957-10-14T00:00:00Z"
    assert re.match(r"^https?://(creativecommons\.org|rightsstatements\.org)/", m["rights"])
    assert m["requiredStatement"]["label"] and m["requiredStatement"]["value"]
    assert m["provider"][0]["type"] == "Agent" and m["provider"][0]["homepage"]
    assert m["homepage"] == [{"id": f"{demo_server}/id/record/lecture-notes-1957",
                              "type": "Text", "label": m["label"], "format": "text/html"}]
    assert [s["id"].rsplit(".", 1)[-1] for s in m["seeAlso"]] == ["ttl", "jsonld"]
    assert m["partOf"] == [{"id": f"{demo_server}/iiif/collection/recordset/student-memories",
                            "type": "Collection", "label": m["partOf"][0]["label"]}]
    # pages in order, each an image with its size and an ImageService3
    canvases = m["items"]
    assert [c["label"]["en"] for c in canvases] == [["Page 1"], ["Page 2"]]
    for c in canvases:
        key = c["id"].rsplit("/", 1)[-1]
        info = demo_manifest()[key.removesuffix("-jpg") + ".jpg"]
        assert (c["width"], c["height"]) == (info["width"], info["height"])
        (anno,) = c["items"][0]["items"]
        assert anno["motivation"] == "painting" and anno["target"] == c["id"]
        body = anno["body"]
        assert body["type"] == "Image" and body["format"] == "image/jpeg"
        assert body["service"] == [{"id": f"{demo_server}/iiif/3/{key}",
                                    "type": "ImageService3", "profile": "level2"}]
    thumb = m["thumbnail"][0]
    assert thumb["id"].endswith("/full/!300,300/0/default.jpg")
    assert thumb["service"][0]["type"] == "ImageService3"
    assert thumb["width"] <= 300 and thumb["height"] <= 300


def test_oral_histories_are_sound_canvases_with_transcripts_toc_and_poster(demo_server,
                                                                          manifests):
    for key in ORAL_HISTORIES:
        m = manifests[f"{demo_server}/iiif/manifest/record/{key}"]
        (canvas,) = m["items"]
        languages = next(r["value"] for r in m["metadata"] if r["label"]["en"] == ["Language"])
        assert languages == {"zh": ["中文"], "en": ["Chinese"]}
        info = demo_manifest()[f"{key}.ogg"]
        assert canvas["duration"] == pytest.approx(info["duration"])
        assert "width" not in canvas  # audio: no spatial extent
        body = canvas["items"][0]["items"][0]["body"]
        assert body == {"id": f"{demo_server}/iiif/media/{key}-ogg", "type": "Sound",
                        "format": "audio/ogg", "duration": canvas["duration"]}
        # the WebVTT transcripts, as supplementing annotations (cookbook 0219) ...
        annos = canvas["annotations"][0]["items"]
        assert {a["motivation"] for a in annos} == {"supplementing"}
        assert {a["body"]["language"] for a in annos} == {"zh", "en"}
        assert all(a["body"]["format"] == "text/vtt" and a["target"] == canvas["id"]
                   for a in annos)
        # ... their cues as text annotations at canvas#t=start,end, in annotation pages of
        # their own: not listed on the canvas (Clover, the site's viewer, makes a caption
        # <track> of every text annotation listed there: ten broken vault:// tracks)
        assert len(canvas["annotations"]) == 1
        for lang in ("zh", "en"):
            page_id = f"{demo_server}/iiif/annotations/{key}-{lang}-vtt/transcript"
            cues = get(page_id).json()
            assert cues["type"] == "AnnotationPage" and set(cues["label"]) == {"zh", "en"}
            assert cues["id"] == page_id and cues["items"]
            assert all(a["motivation"] == "supplementing" and a["body"]["value"]
                       and a["target"].startswith(canvas["id"] + "#t=") for a in cues["items"])
        # ... and as text renderings (cookbook 0017)
        assert {r["format"] for r in canvas["rendering"]} == {"text/plain"}
        assert len(canvas["rendering"]) == 2
        # the table of contents: one range per segment of oh-0N.json, time-coded
        segments = json.loads((Path(__file__).parents[1] / "repo" / "demo" / "media" /
                               f"{key}.json").read_text())["segments"]
        (toc,) = m["structures"]
        assert toc["label"] == m["label"]
        assert [r["label"]["zh"][0] for r in toc["items"]] == [s["title_zh"] for s in segments]
        for rng, seg in zip(toc["items"], segments, strict=True):
            (ref,) = rng["items"]
            target, frag = urldefrag(ref["id"])
            assert target == canvas["id"] and ref["type"] == "Canvas"
            start, end = (float(x) for x in frag.removeprefix("t=").split(","))
            assert (start, end) == pytest.approx((seg["start"], seg["end"]))
        # the poster as placeholder canvas
        ph = canvas["placeholderCanvas"]
        poster = ph["items"][0]["items"][0]["body"]
        assert poster["id"] == f"{demo_server}/iiif/media/{key}-ogg/poster.jpg"
        assert (poster["width"], poster["height"]) == (ph["width"], ph["height"])
        assert m["thumbnail"][0]["id"] == poster["id"]


def test_media_transcripts_and_posters_are_served(demo_server):
    r = get(f"{demo_server}/iiif/media/oh-01-ogg", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and len(r.content) == 100 and r.content[:4] == b"OggS"
    assert r.headers["Content-Type"] == "audio/ogg"
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "no-cache" in r.headers["Cache-Control"]  # withdrawn means gone, not cached
    vtt = get(f"{demo_server}/iiif/media/oh-01-zh-vtt")
    assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT")
    assert vtt.headers["Content-Type"].startswith("text/vtt")
    text = get(f"{demo_server}/iiif/media/oh-01-zh-vtt/text").text
    assert "一九五六年夏天，我们坐专列离开上海。" in text.splitlines() and "-->" not in text
    poster = get(f"{demo_server}/iiif/media/oh-02-ogg/poster.jpg")
    assert poster.status_code == 200 and poster.content[:3] == b"\xff\xd8\xff"
    import io

    from PIL import Image
    assert Image.open(io.BytesIO(poster.content)).size == (640, 360)


def test_collections_follow_the_fonds_tree(demo_server, documents):
    top = documents[f"{demo_server}/iiif/collection/recordset/xjtu"]
    assert top["type"] == "Collection" and set(top["label"]) == {"zh", "en"}
    subs = [i["id"].rsplit("/", 1)[-1] for i in top["items"] if i["type"] == "Collection"]
    assert {"oral-history", "student-memories", "covid-19", "xz"} <= set(subs)
    assert "dq" not in subs  # nothing digitised in the Party series: no empty shelf
    assert get(f"{demo_server}/iiif/collection/recordset/dq").status_code == 404
    oh = documents[f"{demo_server}/iiif/collection/recordset/oral-history"]
    assert [i["id"].rsplit("/", 1)[-1] for i in oh["items"]] == list(ORAL_HISTORIES)
    assert oh["partOf"][0]["id"] == top["id"]
    for item in oh["items"]:
        assert item["type"] == "Manifest" and item["thumbnail"]


# ---------------------------------------------------------------------- closed stays closed
def test_closed_records_have_no_manifest_and_are_in_no_collection(demo_server, documents):
    text = json.dumps(documents, ensure_ascii=False)
    for key in CLOSED:
        assert get(f"{demo_server}/iiif/manifest/record/{key}").status_code == 404
        assert f"/{key}" not in text
    for canary in canaries():
        assert canary not in text
    for url in ("/iiif/manifest/record/never-existed", "/iiif/manifest/record/..%2Fetc",
                "/iiif/manifest/agent/chen-yuanshan", "/iiif/manifest/record/xjtu",
                "/iiif/collection/record/oh-01", "/iiif/collection/recordset/nothing",
                "/iiif/media/consent-01-jpg", "/iiif/media/notes-p1-jpg",
                "/iiif/media/nope/poster.jpg", "/iiif/manifest/record/oh-01/canvas/nope",
                "/iiif/manifest/record/consent-01/canvas/consent-01-jpg"):
        assert get(demo_server + url).status_code == 404, url


def test_a_withdrawn_record_loses_its_manifest_at_once(site):
    """Cached per publication generation: withdrawing is seen by the very next request."""
    from publisher.app import create_app

    repo, admin = site.repo, site.admin
    scan = Path(__file__).parents[1] / "repo" / "demo" / "media" / "notes-p1.jpg"
    digest = FileStore.for_site(site.home).put(scan)
    item = "/xjtu/students/register-1957/page-1"
    repo.create(admin, item, "instantiation",
                {"mime": "image/jpeg", "digest": digest, "width": "800", "height": "1130",
                 "title": {"zh": "第1页", "en": "Page 1"}}, slug="p1", key="reg-p1")
    repo.transition(admin, "/xjtu", "publish", recursive=True)
    app = create_app(site.home)
    client = app.test_client()
    url = "/iiif/manifest/record/page-1"
    first = client.get(url, headers={"Accept": "application/ld+json"})
    assert first.status_code == 200 and first.headers["Content-Type"] == PROFILE
    assert client.get(url).headers["Content-Type"] == "application/json"
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert "no-cache" in first.headers["Cache-Control"]
    with app.test_request_context():
        (hook,) = [h for h in app.extensions["lantai.record_links"]
                   if h.__module__ == "iiif.presentation_api"]
        iri = site.iris[item]
        assert hook(iri) == [("alternate", PROFILE, f"{site.repo.base}{url}")]
        (rdf,) = app.extensions["lantai.record_statements"]
        see_also = next((s.value, p.value, o.value) for s, p, o in rdf(iri))
        assert see_also == (iri, "http://www.w3.org/2000/01/rdf-schema#seeAlso",
                            f"{site.repo.base}{url}")
    repo.transition(admin, item, "withdraw")
    assert client.get(url).status_code == 410  # it was public: Gone, as its IRI
    with app.test_request_context():
        assert hook(iri) == [] and rdf(iri) == []


# ---------------------------------------------------------------------- our own checks
def test_av_canvases_have_durations_and_motivations_are_valid(documents):
    for url, doc in documents.items():
        for node in walk(doc):
            if node.get("type") == "Canvas" and "items" in node:
                bodies = [a["body"] for p in node["items"] for a in p["items"]]
                if any(b["type"] in ("Sound", "Video") for b in bodies):
                    assert node.get("duration", 0) > 0, url
                    assert all(b.get("duration") == node["duration"] for b in bodies)
                if any(b["type"] in ("Image", "Video") for b in bodies):
                    assert node["width"] > 0 and node["height"] > 0, url
            if node.get("type") == "Annotation":
                assert node["motivation"] in MOTIVATIONS, url
            if "duration" in node:
                assert isinstance(node["duration"], float | int) and node["duration"] > 0


def _ids(doc) -> set[str]:
    return {urldefrag(n["id"])[0] for n in walk(doc) if isinstance(n.get("id"), str)}


def test_every_id_we_serve_dereferences(demo_server, documents):
    """Ids of the Presentation API, the media and the record pages: each answers 200."""
    ids = set().union(*(_ids(d) for d in documents.values()))
    ours = sorted(i for i in ids if i.startswith(f"{demo_server}/iiif/manifest/")
                  or i.startswith(f"{demo_server}/iiif/collection/")
                  or i.startswith(f"{demo_server}/iiif/media/")
                  or re.match(rf"^{re.escape(demo_server)}/id/[a-z]+/[a-z0-9_-]+$", i))
    assert len(ours) > 100
    bad = [i for i in ours if get(i).status_code != 200]
    assert bad == []
    # a canvas dereferences to the canvas itself, not to a reference to it
    canvas = next(i for i in ours if "/canvas/" in i and i.count("/") == 8)
    doc = get(canvas).json()
    assert doc["type"] == "Canvas" and doc["items"]


def test_ids_served_by_the_other_iiif_parts_dereference(demo_server, documents):
    """Image API, OCR/search and RDF ids: 200 once their part answers (skipped before)."""
    ids = set().union(*(_ids(d) for d in documents.values()))
    others = sorted(i for i in ids if i.startswith(demo_server) and i not in {
        x for x in ids if "/iiif/manifest/" in x or "/iiif/collection/" in x
        or "/iiif/media/" in x})
    groups = {"Image API": "/iiif/3/", "OCR and search": "/iiif/annotations/",
              "search": "/iiif/search/", "autocomplete": "/iiif/autocomplete/",
              "RDF": "/id/"}
    missing = []
    for name, prefix in groups.items():
        members = [i for i in others if prefix in i]
        if not members:
            continue
        probe = get(members[0])
        if probe.status_code == 404 and probe.headers.get("Content-Type", "").startswith(
                "text/html") and prefix != "/id/":
            missing.append(name)
            continue
        bad = [i for i in members[:60] if get(i).status_code != 200]
        assert bad == [], name
    if missing:
        pytest.skip(f"not served yet: {', '.join(missing)}")


def test_fast_and_validated_builds_agree(demo_server, demo_server_home, manifests):
    """The per-page fast path (model_construct) gives what full prezi3 validation gives."""
    store = Store.read_only(str(demo_server_home / "publication"))
    site = Site(base=demo_server, name={"zh": ["兰台"], "en": ["Lantai"]},
                rights="http://rightsstatements.org/vocab/CNE/1.0/")
    for url in manifests:
        kind, key = url.rsplit("/", 2)[-2:]
        fast = build_manifest(store, site, kind, key, home=demo_server_home)
        slow = build_manifest(store, site, kind, key, home=demo_server_home,
                              validate=True)
        assert fast == slow, url


def test_iso_durations():
    assert iso_seconds("PT23.614S") == 23.614
    assert iso_seconds("PT1H2M3.5S") == 3723.5
    assert iso_seconds("P1DT1S") == 86401
    assert iso_seconds("PT") is None and iso_seconds("23 s") is None


# ---------------------------------------------------------------------- cookbook shapes
def skeleton(node, keep=("type", "motivation")):
    """A document's structure: keys, the values of ``type``/``motivation``, value kinds."""
    if isinstance(node, dict):
        return {k: (v if k in keep else skeleton(v, keep)) for k, v in node.items()
                if k != "@context"}
    if isinstance(node, list):
        return [skeleton(node[0], keep)] if node else []
    return type(node).__name__ if not isinstance(node, int | float) else "number"


def covers(ours, theirs, path="") -> list[str]:
    """What the recipe has that ours lacks (keys, types, motivations, nesting)."""
    problems = []
    if isinstance(theirs, dict):
        if not isinstance(ours, dict):
            return [f"{path}: expected an object"]
        for k, v in theirs.items():
            if k in ("label", "summary", "language"):  # language maps and codes: any value
                if k not in ours:
                    problems.append(f"{path}/{k}: missing")
                continue
            if k not in ours:
                problems.append(f"{path}/{k}: missing")
            else:
                problems += covers(ours[k], v, f"{path}/{k}")
    elif isinstance(theirs, list):
        if not isinstance(ours, list) or not ours:
            return [f"{path}: expected a non-empty list"]
        problems += covers(ours[0], theirs[0], f"{path}[0]")
    elif theirs != ours and not (theirs in ("str", "number") and ours in ("str", "number")):
        problems.append(f"{path}: {ours!r} where the recipe has {theirs!r}")
    return problems


def _canvas_with(manifest: dict, body_type: str) -> dict:
    return next(c for c in manifest["items"]
                if c["items"][0]["items"][0]["body"]["type"] == body_type)


def test_shapes_agree_with_the_cookbook(demo_server, manifests, documents):
    notes = manifests[f"{demo_server}/iiif/manifest/record/lecture-notes-1957"]
    oral = manifests[f"{demo_server}/iiif/manifest/record/oh-01"]
    # 0005 image service: canvas → page → painting annotation → Image body with service
    recipe = cookbook("0005-image-service.json")
    assert covers(skeleton(_canvas_with(notes, "Image")), skeleton(recipe["items"][0])) == []
    # 0002 audio: a Sound body with duration on a canvas with duration
    recipe = cookbook("0002-mvm-audio.json")
    assert covers(skeleton(_canvas_with(oral, "Sound")), skeleton(recipe["items"][0])) == []
    # 0219 captions: a supplementing annotation page with a text/vtt Text body
    recipe = cookbook("0219-using-caption-file.json")
    theirs = skeleton(recipe["items"][0]["annotations"])
    ours = skeleton(_canvas_with(oral, "Sound")["annotations"])
    assert covers(ours, theirs) == []
    assert oral["items"][0]["annotations"][0]["items"][0]["body"]["format"] == "text/vtt"
    # 0017 transcript: a Text rendering on the canvas
    recipe = cookbook("0017-transcription-av.json")
    assert covers(skeleton(oral["items"][0]["rendering"]),
                  skeleton(recipe["items"][0]["rendering"])) == []
    # 0026 table of contents: Range → Range → Canvas with #t=
    recipe = cookbook("0026-toc-opera.json")
    theirs = skeleton(recipe["structures"][0]["items"][0]["items"][0])
    assert covers(skeleton(oral["structures"][0]["items"][0]), theirs) == []
    assert "#t=" in oral["structures"][0]["items"][0]["items"][0]["id"]
    # 0014 accompanying canvas: the same shape as our placeholder canvas with the poster
    recipe = cookbook("0014-accompanyingcanvas.json")
    theirs = skeleton(recipe["items"][0]["accompanyingCanvas"])
    ours = skeleton(oral["items"][0]["placeholderCanvas"])
    theirs["items"][0]["items"][0]["body"].pop("service")  # the poster is a plain image
    assert covers(ours, theirs) == []
    # 0032 collection: items with id, type, label
    recipe = cookbook("0032-collection.json")
    collection = documents[f"{demo_server}/iiif/collection/recordset/oral-history"]
    assert covers(skeleton(collection), skeleton(recipe)) == []


def test_the_shape_check_can_fail(manifests, demo_server):
    recipe = cookbook("0002-mvm-audio.json")
    oral = json.loads(json.dumps(manifests[f"{demo_server}/iiif/manifest/record/oh-01"]))
    canvas = oral["items"][0]
    del canvas["duration"]
    canvas["items"][0]["items"][0]["body"]["type"] = "Video"
    assert len(covers(skeleton(canvas), skeleton(recipe["items"][0]))) == 2


# ---------------------------------------------------------------------- pages
def test_record_pages_link_the_manifest_and_show_the_viewer(demo_server):
    r = get(f"{demo_server}/id/record/oh-01", headers={"Accept": "text/html"})
    assert r.status_code == 200
    links = re.findall(r"<link[^>]+>", r.text)
    manifest = f"{demo_server}/iiif/manifest/record/oh-01"
    assert any('rel="alternate"' in link and f'href="{manifest}"' in link
               and "presentation/3/context.json" in link for link in links)
    assert f'data-iiif-manifest="{manifest}"' in r.text
    assert manifest in r.headers.get("Link", "")
    # a record without scans has no manifest link and no viewer
    r = get(f"{demo_server}/id/record/decision", headers={"Accept": "text/html"})
    assert "/iiif/manifest/" not in r.text and "data-iiif-manifest" not in r.text


def test_exhibits_have_a_collection_of_their_featured_records_and_a_viewer(demo_server,
                                                                           schema):
    r = get(f"{demo_server}/iiif/collection/exhibit/westward-new-campus")
    assert r.status_code == 200
    doc = r.json()
    assert schema_errors(schema, doc) == []
    # the section features oh-02 and the lecture notes, in that order
    assert [i["id"] for i in doc["items"]] == [
        f"{demo_server}/iiif/manifest/record/oh-02",
        f"{demo_server}/iiif/manifest/record/lecture-notes-1957"]
    top = get(f"{demo_server}/iiif/collection/exhibit/westward-relocation").json()
    ids = [i["id"].rsplit("/", 1)[-1] for i in top["items"]]
    assert ids[:3] == list(ORAL_HISTORIES) and len(ids) == len(set(ids))
    # a section featuring only people and events has nothing to show
    assert get(f"{demo_server}/iiif/collection/exhibit/westward-narrators").status_code == 404
    page = get(f"{demo_server}/exhibits/westward-relocation/westward-new-campus")
    assert (f'data-iiif-manifest="{demo_server}/iiif/collection/exhibit/westward-new-campus"'
            in page.text)


# ---------------------------------------------------------------------- the record's RDF and Link
def parse_link_header(value: str) -> list[tuple[str, dict[str, str]]]:
    """RFC 8288 ``Link`` parsed strictly: params are tokens or RFC 9110 quoted-strings (with
    ``\\"`` quoted-pairs). Anything else (an unescaped ``"`` inside a quoted value) raises."""
    token = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
    quoted = r'"(?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[\t\x20-\x7e\x80-\xff])*"'
    param = rf"\s*;\s*({token})\s*=\s*({token}|{quoted})"
    link = re.compile(rf"\s*<([^>]*)>((?:{param})*)\s*(,|$)")
    out, pos = [], 0
    while pos < len(value):
        m = link.match(value, pos)
        assert m, f"invalid Link header at {pos}: {value[pos:pos + 80]!r}"
        params = {}
        for name, raw in re.findall(param, m.group(2)):
            if raw.startswith('"'):
                raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            params[name.lower()] = raw
        out.append((m.group(1), params))
        pos = m.end()
    return out


def test_the_link_header_quotes_the_iiif_profile_correctly(demo_server):
    from publisher.linkeddata import link_header, quoted_string

    assert quoted_string('a"b\\c\r\n') == '"a\\"b\\\\c"'
    with pytest.raises(AssertionError):  # the strict parser refuses the old, unescaped form
        parse_link_header(f'<http://x/m>; rel="alternate"; type="{PROFILE}"')
    assert parse_link_header(link_header([("alternate", PROFILE, "http://x/m")])) == [
        ("http://x/m", {"rel": "alternate", "type": PROFILE})]
    iri = f"{demo_server}/id/record/oh-01"
    manifest = f"{demo_server}/iiif/manifest/record/oh-01"
    for accept in ("text/html", "text/turtle", "application/ld+json"):
        r = get(iri, headers={"Accept": accept})
        links = parse_link_header(r.headers["Link"])
        assert (manifest, {"rel": "alternate", "type": PROFILE}) in links, accept
        assert (f"{iri}.ttl", {"rel": "alternate", "type": "text/turtle"}) in links


def test_the_records_rdf_points_to_its_manifest(demo_server):
    import rdflib

    see_also = rdflib.RDFS.seeAlso
    for key in ("oh-01", "lecture-notes-1957"):
        iri = rdflib.URIRef(f"{demo_server}/id/record/{key}")
        manifest = rdflib.URIRef(f"{demo_server}/iiif/manifest/record/{key}")
        for ext, fmt in (("ttl", "turtle"), ("jsonld", "json-ld"), ("nt", "nt"),
                         ("rdf", "xml")):
            r = get(f"{iri}.{ext}")
            assert r.status_code == 200
            g = rdflib.Graph().parse(data=r.content, format=fmt, publicID=str(iri))
            assert (iri, see_also, manifest) in g, (key, ext)
            assert set(g.subjects()) == {iri}  # a document about the record only
            assert get(str(manifest)).status_code == 200  # and it dereferences
    # the JSON-LD is still one compacted object (no @graph)
    doc = get(f"{demo_server}/id/record/oh-01.jsonld").json()
    assert "@graph" not in doc and doc["id"].endswith("/id/record/oh-01")
    assert doc["rdfs:seeAlso"] == {"id": f"{demo_server}/iiif/manifest/record/oh-01"}
    # by content negotiation too, and a record without scans points to no manifest
    r = get(f"{demo_server}/id/record/oh-01", headers={"Accept": "text/turtle"})
    assert f"{demo_server}/iiif/manifest/record/oh-01" in r.text
    r = get(f"{demo_server}/id/record/decision.ttl")
    assert r.status_code == 200 and "/iiif/" not in r.text and "seeAlso" not in r.text
    # a closed record still has no RDF at all
    for key in CLOSED:
        assert get(f"{demo_server}/id/record/{key}.ttl").status_code == 404


def test_language_maps_put_the_readers_language_first(demo_server, schema):
    """Viewers (Clover, Mirador) show a map's first language: Accept-Language picks which
    comes first; the maps' contents, the ids and everything else stay the same."""
    url = f"{demo_server}/iiif/manifest/record/oh-01"
    zh = get(url)
    en = get(url, headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"})
    assert list(zh.json()["label"]) == ["zh", "en"]  # the archive's language by default
    assert list(en.json()["label"]) == ["en", "zh"]
    assert "Accept-Language" in en.headers["Vary"] and en.headers["ETag"] != zh.headers["ETag"]
    assert json.loads(json.dumps(en.json(), sort_keys=True)) == json.loads(
        json.dumps(zh.json(), sort_keys=True))  # same content, other order
    assert schema_errors(schema, en.json()) == []

    def first_keys(node, out):
        if isinstance(node, dict):
            if {"zh", "en"} <= set(node) and all(isinstance(v, list) for v in node.values()):
                out.append(next(iter(node)))
            for v in node.values():
                first_keys(v, out)
        elif isinstance(node, list):
            for v in node:
                first_keys(v, out)
        return out
    assert set(first_keys(en.json(), [])) == {"en"}  # metadata, ranges, provider, seeAlso …
    assert set(first_keys(zh.json(), [])) == {"zh"}
    assert next(iter(get(url, headers={"Accept-Language": "fr"}).json()["label"])) == "zh"
    coll = get(f"{demo_server}/iiif/collection/recordset/xjtu",
               headers={"Accept-Language": "en"}).json()
    assert set(first_keys(coll, [])) == {"en"}
    # a cached answer for one language is never served for the other
    again = get(url, headers={"If-None-Match": zh.headers["ETag"], "Accept-Language": "en"})
    assert again.status_code == 200 and next(iter(again.json()["label"])) == "en"
    assert get(url, headers={"If-None-Match": en.headers["ETag"],
                             "Accept-Language": "en"}).status_code == 304


def test_prefer_language_touches_only_language_maps():
    from iiif.presentation_api import prefer_language

    doc = {"label": {"zh": ["甲"], "en": ["A"]}, "id": "x", "items": [],
           "metadata": [{"label": {"zh": ["档号"], "en-GB": ["Ref."]},
                         "value": {"none": ["0421"]}}],
           "service": [{"profile": "level2", "type": "ImageService3"}]}
    out = prefer_language(json.loads(json.dumps(doc)), "en")
    assert list(out["label"]) == ["en", "zh"] and out["items"] == [] and out["id"] == "x"
    assert list(out["metadata"][0]["label"]) == ["en-GB", "zh"]
    assert list(out["metadata"][0]["value"]) == ["none"]
    assert out["service"] == doc["service"] and out == doc  # same content
    assert json.dumps(out) != json.dumps(doc)  # other order
    assert prefer_language(json.loads(json.dumps(doc)), "zh") == doc
    assert json.dumps(prefer_language(json.loads(json.dumps(doc)), "zh")) == json.dumps(doc)


def test_served_json_is_the_standard_librarys_json(demo_server, manifests):
    """orjson (when installed) writes the same bytes as json.dumps would."""
    for url in list(manifests)[:6]:
        for lang in ("zh", "en"):
            r = get(url, headers={"Accept-Language": lang})
            assert r.content == json.dumps(r.json(), ensure_ascii=False,
                                           separators=(",", ":")).encode(), url


def test_dates_written_in_chinese_have_an_english_value(demo_server):
    """rico:date is written without a language tag ("2016年4月15日"); an English viewer must
    not show it as the only value: the English one comes from the ISO beginning/end dates."""
    def date_row(key):
        doc = get(f"{demo_server}/iiif/manifest/record/{key}").json()
        return next(r["value"] for r in doc["metadata"] if r["label"]["en"] == ["Date"])
    assert date_row("oh-02") == {"zh": ["2016年4月15日"], "en": ["15 April 2016"]}
    assert date_row("lecture-notes-1957") == {
        "zh": ["1957年10月14日—11月4日"], "en": ["14 October 1957 – 4 November 1957"]}
