"""The REST API (publisher/api) against a real site: real Oxigraph stores, the Flask test
client for most requests and a live waitress server where another process takes part.

The server never keeps the working store open, so these tests close the fixture's
repository first (as a site served by ``lantai serve`` is not held by anyone)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request

import pytest
import rdflib
from support import FILE, FONDS, ITEM, PERSON, PROJECT, SERIES, lantai_executable, served

from publisher.app import create_app
from repo.errors import LantaiError
from repo.repository import Repository


class Api:
    """A site closed for the API, a test client, and a token per standard user."""

    def __init__(self, site, **config) -> None:
        repo = site.repo
        admin = repo.user("admin")
        self.tokens = {"admin": site.token}
        for name in ("reader", "contributor", "editor", "reviewer", "manager", "nobody"):
            self.tokens[name] = repo.new_token(admin, name)
        self.iris = dict(site.iris)
        self.base = repo.base
        site.close()
        self.home = site.home
        self.app = create_app(site.home, TESTING=True, **config)
        self.client = self.app.test_client()

    def headers(self, user: str | None, **extra) -> dict:
        h = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        h.update(extra)
        return h

    def get(self, path: str, user: str | None = "editor", **headers):
        return self.client.get("/api" + path, headers=self.headers(user, **headers))

    def post(self, path: str, body: dict | None = None, user: str | None = "editor", **headers):
        return self.client.post("/api" + path, json=body, headers=self.headers(user, **headers))

    def patch(self, path: str, body: dict, user: str | None = "editor", **headers):
        return self.client.patch("/api" + path, json=body, headers=self.headers(user, **headers))

    def delete(self, path: str, user: str | None = "editor", **headers):
        return self.client.delete("/api" + path, headers=self.headers(user, **headers))


@pytest.fixture
def api(site) -> Api:
    return Api(site)


def fields_of(home, path: str) -> dict:
    repo = Repository.open(home, wait=5)
    try:
        return repo.load(repo.resolve(path)).fields()
    finally:
        repo.close()
        del repo


# ---------------------------------------------------------------------- who may ask
def test_without_a_token_every_content_request_is_401(api):
    for method, path in (("get", "/"), ("get", FILE), ("get", "/@search?q=x"),
                         ("patch", FILE), ("delete", FILE), ("post", SERIES)):
        resp = getattr(api.client, method)("/api" + path, json={})
        assert resp.status_code == 401, (method, path)
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert resp.json["error"] == "unauthorized" and resp.json["message"]
    resp = api.client.get("/api" + FILE, headers={"Authorization": "Bearer lt_not-a-real-token"})
    assert resp.status_code == 401 and 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    resp = api.client.get("/api" + FILE, headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert resp.status_code == 401
    # the description of the API is public
    assert api.client.get("/api/openapi.json").status_code == 200


def test_a_user_without_a_role_sees_nothing_and_a_reader_cannot_edit(api):
    assert api.get(FILE, user="nobody").status_code == 404  # not even that it exists
    assert api.get("/", user="nobody").json["items"] == []
    resp = api.get(FILE, user="reader")
    assert resp.status_code == 200
    before = resp.json["title"]
    resp = api.patch(FILE, {"fields": {"title": {"en": "Reader's title"}}}, user="reader")
    assert resp.status_code == 403 and resp.json["error"] == "forbidden"
    assert api.get(FILE).json["title"] == before
    resp = api.post(SERIES, {"type": "file", "fields": {"title": {"en": "New"}}},
                    user="reader")
    assert resp.status_code == 403


# ---------------------------------------------------------------------- reading
def test_get_by_path_is_json_ld_with_repository_facts(api):
    resp = api.get(FILE)
    assert resp.status_code == 200
    body = resp.json
    iri = api.iris[FILE]
    assert body["@id"] == iri and body["@type"] == "RecordSet"
    assert body["title"] == {"zh": "1957年新生名册", "en": "Register of freshmen 1957"}
    assert body["begin"] == "1957"
    assert body["place"] == [api.iris["/agents/xian"]]  # a link is an IRI
    assert body["refcode"] == "0421-XS·1957-Y-0001"
    assert body["path"] == FILE and body["contentType"] == "file"
    assert body["state"] == "private" and body["revision"] == 1 and body["owner"] == "admin"
    assert body["parent"] == api.iris[SERIES] and body["public"] is False
    assert [i["path"] for i in body["items"]] == [ITEM] and body["items_total"] == 1
    assert resp.headers["ETag"].startswith('"rev-1')
    # the same object by its IRI
    by_iri = api.client.get("/api/@iri", query_string={"iri": iri}, headers=api.headers("editor"))
    assert by_iri.status_code == 200 and by_iri.json["@id"] == iri
    # the body is JSON-LD: with its context it reads as the description's triples
    assert body["@context"] == f"{api.base}/api/@context/file"
    assert body["api"] == f"{api.base}/api{FILE}"  # the site's base, not the request's host
    ctx = api.client.get(body["@context"].removeprefix(api.base)).json
    doc = dict(body, **{"@context": ctx["@context"]})
    g = rdflib.Graph().parse(data=json.dumps(doc), format="json-ld")
    node = rdflib.URIRef(iri)
    rico = rdflib.Namespace("https://www.ica.org/standards/RiC/ontology#")
    assert (node, rico.title, rdflib.Literal("1957年新生名册", lang="zh")) in g
    assert (node, rico.isAssociatedWithPlace, rdflib.URIRef(api.iris["/agents/xian"])) in g
    assert (node, rdflib.RDF.type, rico.RecordSet) in g


def test_vocabulary_values_are_iris_and_come_back_as_they_went(api):
    body = api.get(SERIES).json
    assert body["category"] == f"{api.base}/vocab/category/XS"
    # sending back what GET gave is accepted (an IRI for a code)
    resp = api.patch(SERIES, {"fields": {"category": body["category"],
                                         "title": {"en": "Students (renamed)"}}})
    assert resp.status_code == 200, resp.json
    assert resp.json["category"] == body["category"]


def test_if_none_match_gives_304_until_the_object_changes(api):
    first = api.get(FILE)
    etag = first.headers["ETag"]
    again = api.get(FILE, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag and again.data == b""
    api.patch(FILE, {"fields": {"note": {"en": "A note."}}})
    changed = api.get(FILE, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    # a new child changes the container's body (and its tag), though not its revision
    etag = changed.headers["ETag"]
    api.post(FILE, {"type": "item", "fields": {"title": {"en": "Page two"}}, "slug": "page-2"})
    assert api.get(FILE, **{"If-None-Match": etag}).status_code == 200


def test_children_are_paged(api):
    for n in range(5):
        resp = api.post(FILE, {"type": "item", "slug": f"p{n}",
                               "fields": {"title": {"en": f"Page {n}"}}})
        assert resp.status_code == 201, resp.json
    page = api.get(FILE + "/@children?page=2&size=2").json
    assert page["items_total"] == 6
    assert [i["path"].rsplit("/", 1)[1] for i in page["items"]] == ["p1", "p2"]
    assert page["batching"]["next"] == f"{api.base}/api{FILE}/@children?page=3&size=2"
    assert page["batching"]["prev"] == f"{api.base}/api{FILE}/@children?page=1&size=2"
    assert api.get(FILE + "?size=1").json["items_total"] == 6
    assert api.get(FILE + "/@children?size=0").status_code == 400


# ---------------------------------------------------------------------- writing
def test_create_edit_move_delete(api):
    resp = api.post(SERIES, {"type": "file", "slug": "register-1958",
                             "fields": {"title": {"zh": "1958年新生名册",
                                                  "en": "Register of freshmen 1958"},
                                        "begin": "1958"},
                             "message": "new register"})
    assert resp.status_code == 201, resp.json
    location = resp.headers["Location"]
    assert location == f"{api.base}/api/xjtu/students/register-1958"
    created = resp.json
    assert created["owner"] == "editor" and created["refcode"] == "0421-XS·1958-Y-0001"
    path = "/xjtu/students/register-1958"
    assert api.get(path).json["@id"] == created["@id"]
    hist = api.get(path + "/@history").json["items"]
    assert [(h["action"], h["author"], h["message"]) for h in hist] == [
        ("create", "editor", "new register")]
    # PATCH: set one language, add a value, remove with null
    resp = api.patch(path, {"fields": {"title": {"en": "Freshmen, 1958"},
                                       "scope": {"en": "Names and home towns."}}},
                     **{"If-Match": resp.headers["ETag"]})
    assert resp.status_code == 200, resp.json
    assert resp.json["title"] == {"zh": "1958年新生名册", "en": "Freshmen, 1958"}
    resp = api.patch(path, {"fields": {"scope": None}, "add": {"subject": [PERSON]}})
    assert resp.status_code == 200, resp.json
    assert "scope" not in resp.json and resp.json["subject"] == [api.iris[PERSON]]
    assert resp.json["revision"] == 3
    # move: the IRI stays, the path changes
    resp = api.post(path + "/@move", {"target": "/xjtu/admin", "slug": "freshmen-1958"})
    assert resp.status_code == 422 and "category" in resp.json["message"]  # its code is XS
    resp = api.post(path + "/@move", {"target": api.iris[SERIES], "slug": "freshmen-1958"})
    assert resp.status_code == 200, resp.json
    assert resp.json["path"] == "/xjtu/students/freshmen-1958"
    assert resp.json["@id"] == created["@id"]
    assert api.get(path).status_code == 404
    # delete: a container with something inside needs ?recursive
    moved = "/xjtu/students/freshmen-1958"
    assert api.post(moved, {"type": "item", "slug": "p1",
                            "fields": {"title": {"en": "Page 1"}}}).status_code == 201
    resp = api.delete(moved)
    assert resp.status_code == 422 and "recursive" in resp.json["message"]
    resp = api.delete(moved + "?recursive=true")
    assert resp.status_code == 200 and resp.json["count"] == 2
    assert api.get(moved).status_code == 404
    # the history of the deleted object is still there, by IRI
    resp = api.client.get("/api/@iri/@history", query_string={"iri": created["@id"]},
                          headers=api.headers("editor"))
    assert resp.status_code == 200 and resp.json["items"][-1]["action"] == "delete"


def test_bad_requests_are_clear_4xx_and_change_nothing(api):
    before = api.get(FILE).json
    cases = [
        (api.client.patch("/api" + FILE, data="{not json", headers=api.headers(
            "editor", **{"Content-Type": "application/json"})), 400),
        (api.patch(FILE, {"fields": {"nosuchfield": "x"}}), 422),
        (api.patch(FILE, {"fields": {"title": "no language"}}), 422),
        (api.patch(FILE, {"fields": {"begin": "1957-13-45"}}), 422),
        (api.patch(FILE, {"fields": {"title": {"en": {"deep": "x"}}}}), 422),
        (api.patch(FILE, {"fields": []}), 422),
        (api.post(SERIES, {"type": "nosuchtype"}), 422),
        (api.post(SERIES, {"type": "person", "fields": {"name": {"en": "X"}}}), 422),
        (api.post(SERIES, {"fields": {}}), 400),
        (api.post(FILE + "/@move", {"target": FILE}), 422),
        (api.get(FILE + "/@nosuchendpoint"), 404),
        (api.get(FILE + "/@history/99"), 404),
        (api.post(FILE + "/@workflow/explode"), 404),
        (api.get(FILE + "/../../etc/passwd"), 400),
        (api.client.put("/api" + FILE, json={}, headers=api.headers("editor")), 405),
        (api.client.patch("/api" + FILE, data=b"x" * 1_100_000, headers=api.headers(
            "editor", **{"Content-Type": "application/json"})), 413),
        (api.client.patch("/api" + FILE, data="a=b", headers=api.headers(
            "editor", **{"Content-Type": "application/x-www-form-urlencoded"})), 415),
    ]
    for n, (resp, status) in enumerate(cases):
        assert resp.status_code == status, (n, resp.status_code, resp.data[:300])
        assert resp.is_json and resp.json["message"], n
    assert "Allow" in cases[14][0].headers
    assert api.get(FILE).json == before


# ---------------------------------------------------------------------- no lost update
def test_a_stale_if_match_gets_412_and_the_first_change_is_kept(api):
    alice = api.get(ITEM, user="editor")
    bob = api.get(ITEM, user="manager")
    assert alice.headers["ETag"] == bob.headers["ETag"]
    first = api.patch(ITEM, {"fields": {"title": {"en": "Alice's title"}}}, user="editor",
                      **{"If-Match": alice.headers["ETag"]})
    assert first.status_code == 200, first.json
    second = api.patch(ITEM, {"fields": {"title": {"en": "Bob's title"}}}, user="manager",
                       **{"If-Match": bob.headers["ETag"]})
    assert second.status_code == 412 and second.json["error"] == "precondition-failed"
    assert second.headers["ETag"] == f'"rev-{first.json["revision"]}"'
    now = api.get(ITEM).json
    assert now["title"]["en"] == "Alice's title" and now["revision"] == first.json["revision"]
    # a stale tag also stops a transition, an access change, a move and a delete
    stale = {"If-Match": bob.headers["ETag"]}
    assert api.post(ITEM + "/@workflow/submit", {}, **stale).status_code == 412
    assert api.post(ITEM + "/@access", {"level": "restricted"}, **stale).status_code == 412
    assert api.post(ITEM + "/@move", {"target": FILE, "slug": "x"}, **stale).status_code == 412
    assert api.delete(ITEM, **stale).status_code == 412
    assert api.get(ITEM).json["revision"] == first.json["revision"]
    # Bob reloads and edits again: both changes are there
    fresh = api.get(ITEM, user="manager").headers["ETag"]
    again = api.patch(ITEM, {"fields": {"scope": {"en": "Bob's scope"}}}, user="manager",
                      **{"If-Match": fresh})
    assert again.status_code == 200
    assert again.json["title"]["en"] == "Alice's title"
    assert again.json["scope"] == {"en": "Bob's scope"}
    assert api.patch(ITEM, {"fields": {"scope": {"en": "Any"}}},
                     **{"If-Match": "*"}).status_code == 200
    assert api.patch(ITEM, {"fields": {"scope": {"en": "Weak"}}},
                     **{"If-Match": 'W/"rev-99"'}).status_code == 412


def test_racing_writers_with_the_same_etag_exactly_one_wins(site):
    api = Api(site)
    etag = api.get(ITEM).headers["ETag"]
    results = []
    barrier = threading.Barrier(4)

    def writer(n: int) -> None:
        client = api.app.test_client()
        barrier.wait()
        resp = client.patch("/api" + ITEM, json={"fields": {"title": {"en": f"Writer {n}"}}},
                            headers=api.headers("editor", **{"If-Match": etag}))
        results.append((n, resp.status_code))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    codes = sorted(code for _, code in results)
    assert codes == [200, 412, 412, 412], results
    winner = next(n for n, code in results if code == 200)
    assert api.get(ITEM).json["title"]["en"] == f"Writer {winner}"


def test_if_match_can_be_required(site):
    api = Api(site, LANTAI_API_REQUIRE_IF_MATCH=True)
    resp = api.patch(ITEM, {"fields": {"title": {"en": "No tag"}}})
    assert resp.status_code == 428
    etag = api.get(ITEM).headers["ETag"]
    assert api.patch(ITEM, {"fields": {"title": {"en": "Tagged"}}},
                     **{"If-Match": etag}).status_code == 200


def untagged_writes(api: Api) -> list:
    """Without If-Match: a PATCH and a workflow transition of ITEM, then a move (rename) and
    a DELETE of a fresh item (creating one needs no If-Match)."""
    resp = api.post(FILE, {"type": "item", "slug": "scratch", "fields": {"title": {"en": "S"}}})
    assert resp.status_code == 201, resp.json
    out = [api.patch(ITEM, {"fields": {"title": {"en": "No tag"}}}),
           api.post(ITEM + "/@workflow/submit", {"comment": "no tag"}),
           api.post(FILE + "/scratch/@move", {"target": FILE, "slug": "renamed"})]
    out.append(api.delete(FILE + ("/renamed" if out[-1].status_code == 200 else "/scratch")))
    return out


def test_if_match_required_by_the_sites_settings(site):
    import dataclasses

    from repo.config import read_settings, write_settings

    write_settings(site.home, dataclasses.replace(read_settings(site.home),
                                                  api_require_if_match=True))
    assert "api_require_if_match = true" in (site.home / "lantai.toml").read_text()
    api = Api(site)
    before = api.get(ITEM).json
    for resp in untagged_writes(api):
        assert resp.status_code == 428, resp.json
        assert resp.json["error"] == "precondition-required" and resp.json["status"] == 428
        assert "If-Match" in resp.json["message"] and "ETag" in resp.json["message"]
    after = api.get(ITEM).json  # nothing changed
    assert after["revision"] == before["revision"] and after["title"] == before["title"]
    assert after["state"] == "private"
    assert api.get(FILE + "/scratch").status_code == 200  # neither moved nor deleted
    assert api.get(FILE + "/renamed").status_code == 404
    # the OpenAPI document says so
    doc = api.client.get("/api/openapi.json").json
    assert doc["components"]["parameters"]["IfMatch"]["required"] is True

    # with the ETag each goes through
    def tag(path: str) -> dict:
        return {"If-Match": api.get(path).headers["ETag"]}

    assert api.patch(ITEM, {"fields": {"title": {"en": "Tagged"}}},
                     **tag(ITEM)).status_code == 200
    assert api.post(ITEM + "/@workflow/submit", {}, **tag(ITEM)).status_code == 200
    resp = api.post(FILE + "/scratch/@move", {"target": FILE, "slug": "renamed"},
                    **tag(FILE + "/scratch"))
    assert resp.status_code == 200, resp.json
    assert api.delete(FILE + "/renamed", **tag(FILE + "/renamed")).status_code == 200
    assert api.get(ITEM).json["state"] == "pending"
    # the app's own config overrides the site's setting
    relaxed = create_app(api.home, TESTING=True, LANTAI_API_REQUIRE_IF_MATCH=False)
    resp = relaxed.test_client().patch("/api" + ITEM, json={"fields": {"scope": {"en": "x"}}},
                                       headers=api.headers("editor"))
    assert resp.status_code == 200, resp.json


def test_if_match_is_optional_by_default(site):
    api = Api(site)
    assert api.app.config["SETTINGS"].api_require_if_match is False
    assert "api_require_if_match = false" in (api.home / "lantai.toml").read_text()
    assert [r.status_code for r in untagged_writes(api)] == [200, 200, 200, 200]
    assert api.get(ITEM).json["state"] == "pending"
    assert api.get(FILE + "/renamed").status_code == 404  # moved, then deleted
    assert api.get(FILE + "/scratch").status_code == 404


def test_a_misspelt_if_match_setting_stops_the_app(site):
    home = site.home
    site.close()
    text = (home / "lantai.toml").read_text()
    assert "api_require_if_match = false\n" in text
    (home / "lantai.toml").write_text(text.replace("api_require_if_match = false",
                                                   'api_require_if_match = "yes"'))
    with pytest.raises(LantaiError, match="api_require_if_match"):
        create_app(home, TESTING=True)


# ---------------------------------------------------------------------- workflow, access
def test_workflow_to_published_makes_the_record_public(api):
    public_url = "/id/recordset/register-1957"
    assert api.client.get(public_url).status_code == 404
    info = api.get(FILE + "/@workflow", user="reader").json
    assert info["state"] == "private" and info["transitions"] == []
    info = api.get(FILE + "/@workflow", user="reviewer").json
    assert {t["name"] for t in info["transitions"]} == {"publish"}
    resp = api.post(FONDS + "/@workflow/submit", {"comment": "ready", "recursive": True})
    assert resp.status_code == 200, resp.json
    assert resp.json["state"] == "pending" and len(resp.json["changed"]) == 5
    # an editor may not publish
    assert api.post(FILE + "/@workflow/publish", {}).status_code == 403
    assert api.post(FILE + "/@workflow/withdraw", {}, user="reviewer").status_code == 409
    resp = api.post(FONDS + "/@workflow/publish", {"comment": "approved", "recursive": True},
                    user="reviewer")
    assert resp.status_code == 200, resp.json
    body = api.get(FILE).json
    assert body["state"] == "published" and body["public"] is True
    # the public site (publication dataset) serves it at once
    page = api.client.get(public_url)
    assert page.status_code == 200 and "1957年新生名册" in page.get_data(as_text=True)
    history = api.get(FILE + "/@workflow").json["history"]
    assert [(h["action"], h["author"], h["comment"]) for h in history][-2:] == [
        ("submit", "editor", "ready"), ("publish", "reviewer", "approved")]
    # restricting it takes it off the public site
    resp = api.post(FILE + "/@access", {"level": "restricted", "message": "names"})
    assert resp.status_code == 200 and resp.json["access"] == "restricted"
    assert api.client.get(public_url).status_code in (404, 410)  # 410 once it was public
    assert api.get(FILE + "/@access").json["access"] == "restricted"
    # opening again needs a Reviewer
    assert api.post(FILE + "/@access", {"level": "open"}).status_code == 403
    assert api.post(FILE + "/@access", {"level": "open"}, user="reviewer").status_code == 200
    assert api.client.get(public_url).status_code == 200


def test_history_diff_and_revert(api):
    api.patch(ITEM, {"fields": {"title": {"en": "Second title"}}})
    hist = api.get(ITEM + "/@history").json
    assert [h["revision"] for h in hist["items"]] == [1, 2]
    rev2 = api.get(ITEM + "/@history/2").json
    assert {"op": "add", "field": "title@en", "value": "Second title"} in rev2["diff"]
    assert {"op": "remove", "field": "title@en", "value": "Register, page one"} in rev2["diff"]
    assert rev2["author"] == "editor"
    resp = api.post(ITEM + "/@history/1", {"message": "back"})
    assert resp.status_code == 200, resp.json
    assert resp.json["title"]["en"] == "Register, page one" and resp.json["revision"] == 3
    assert api.get(ITEM + "/@history").json["items"][-1]["action"] == "revert"
    assert api.post(ITEM + "/@history/1", {}, user="reader").status_code == 403


def test_staff_search_shows_what_the_user_may_view(api):
    resp = api.get("/@search?q=名册")
    assert resp.status_code == 200, resp.json
    paths = {h["path"] for h in resp.json["items"]}
    assert FILE in paths and ITEM in paths
    assert resp.json["items_total"] == len(resp.json["items"])
    assert {h["path"] for h in api.get("/@search?q=名册", user="nobody").json["items"]} == set()
    # inside an object, with a filter, and a bad filter
    inside = api.get(FILE + "/@search?q=名册").json
    assert {h["path"] for h in inside["items"]} == {ITEM}
    assert api.get("/@search?q=名册&type=file").json["items"][0]["path"] == FILE
    assert api.get("/@search?q=x&colour=red").status_code == 400
    # a change through the API is found by the next search
    api.patch(ITEM, {"fields": {"scope": {"en": "Mentions a zeppelin."}}})
    assert {h["path"] for h in api.get("/@search?q=zeppelin").json["items"]} == {ITEM}


def test_types_and_openapi(api):
    types = api.get("/@types").json["items"]
    file_type = next(t for t in types if t["name"] == "file")
    assert "series" in file_type["allowedIn"]
    assert any(f["name"] == "title" and f["text"] for f in file_type["fields"])
    doc = api.client.get("/api/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    assert doc["servers"] == [{"url": f"{api.base}/api"}]
    assert doc["components"]["parameters"]["IfMatch"]["required"] is False
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for p in ("/{path}", "/{path}/@workflow/{action}", "/{path}/@history/{n}", "/@search",
              "/{path}/@access", "/{path}/@move", "/@iri"):
        assert p in doc["paths"], p


def test_a_forged_host_header_is_echoed_nowhere(api):
    """Every URL the API gives out starts from the site's base IRI: a request naming
    another Host (to poison a cache, or a link in a client) finds that name nowhere."""
    assert api.post(FILE, {"type": "item", "slug": "p9",
                           "fields": {"title": {"en": "Zeppelin page"}}}).status_code == 201
    forged = {"Host": "evil.example", "X-Forwarded-Host": "evil.example",
              "X-Forwarded-Proto": "http"}
    requests = [("get", "/openapi.json", None, None), ("get", "", None, None),
                ("get", "/", None, None), ("get", "/?page=1&size=1", None, None),
                ("get", FILE + "?size=1", None, None), ("get", FILE + "/@children", None, None),
                ("get", FILE + "/@workflow", None, None), ("get", FILE + "/@history", None, None),
                ("get", FILE + "/@history/1", None, None), ("get", FILE + "/@access", None, None),
                ("get", "/@search?q=zeppelin&size=1", None, None),
                ("get", SERIES + "/@search?q=register", None, None),
                ("get", "/@types", None, None), ("get", "/@context/file", None, None),
                ("get", "/nope", None, None), ("get", "/@iri/@history", None, None),
                ("post", FILE, {"type": "item", "slug": "p10",
                                "fields": {"title": {"en": "Page ten"}}}, None),
                ("patch", FILE + "/p10", {"fields": {"title": {"en": "Ten"}}}, None),
                ("post", FILE + "/p10/@move", {"target": FILE, "slug": "p11"}, None),
                ("post", FILE + "/p11/@workflow/submit", {}, None),
                ("patch", ITEM, {"fields": {"title": {"en": "Stale"}}}, 'W/"rev-99"'),
                ("delete", FILE + "/p11", None, None), ("put", FILE, None, None)]
    seen = 0
    for method, path, body, if_match in requests:
        headers = api.headers("editor", **forged)
        if if_match:
            headers["If-Match"] = if_match
        resp = getattr(api.client, method)("/api" + path, json=body, headers=headers)
        assert resp.status_code < 500, (method, path, resp.status_code)
        text = resp.get_data(as_text=True) + "\n".join(f"{k}: {v}" for k, v in resp.headers)
        assert "evil.example" not in text, (method, path, text[:2000])
        seen += text.count(api.base)
    assert seen > 100  # the URLs are there, and they name the site
    # the redirect from /api to /api/ as well
    resp = api.client.get("/api?page=2", headers=api.headers("editor", **forged))
    assert resp.status_code == 308 and resp.headers["Location"] == f"{api.base}/api/?page=2"
    # and on a live server, where the Host header comes off the wire as it was sent
    with served(api.app) as url:
        req = urllib.request.Request(url + "/api/openapi.json", headers={"Host": "evil.example"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw, headers = resp.read().decode(), str(resp.headers)
        assert "evil.example" not in raw + headers
        assert json.loads(raw)["servers"] == [{"url": f"{api.base}/api"}]


# ---------------------------------------------------------------------- other processes
def test_503_with_retry_after_while_another_process_holds_the_store(site):
    api = Api(site, LANTAI_API_WAIT=0.3)
    holder = Repository.open(api.home)  # as a long `lantai import` would
    try:
        started = time.monotonic()
        resp = api.patch(ITEM, {"fields": {"title": {"en": "While busy"}}})
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
        assert resp.json["error"] == "busy" and time.monotonic() - started < 5
        assert api.get(ITEM).status_code == 200  # reading goes on meanwhile
    finally:
        holder.close()
        del holder
    import gc

    gc.collect()
    assert api.patch(ITEM, {"fields": {"title": {"en": "After"}}}).status_code == 200


@pytest.fixture
def live(site):
    """The site's app on a real waitress server (threads, like `lantai serve`)."""
    api = Api(site)
    with served(api.app) as api.url:
        yield api


def http(api: Api, method: str, path: str, body: dict | None = None, user: str = "editor"):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(api.url + "/api" + path, data=data, method=method,
                                 headers={"Authorization": f"Bearer {api.tokens[user]}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}"), resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), exc.headers


def lantai(home, *args: str, user: str = "editor") -> subprocess.CompletedProcess:
    return subprocess.run([lantai_executable(), "--home", str(home), "--user", user, *args],
                          capture_output=True, text=True, timeout=120, cwd=PROJECT)


def test_lantai_commands_work_while_the_server_runs(live):
    status, body, _ = http(live, "GET", ITEM)
    assert status == 200
    status, _, _ = http(live, "PATCH", ITEM, {"fields": {"title": {"en": "From the API"}}})
    assert status == 200
    # a command in another process, while the server is up
    proc = lantai(live.home, "edit", ITEM, "--set", "scope@en=Set by the command line")
    assert proc.returncode == 0, proc.stderr
    status, body, _ = http(live, "GET", ITEM)
    assert body["scope"] == {"en": "Set by the command line"}
    assert body["title"]["en"] == "From the API"
    # and publication by command is visible to the API and the public site at once
    for path in (FONDS, SERIES, FILE, ITEM):
        proc = lantai(live.home, "publish", path, user="reviewer")
        assert proc.returncode == 0, proc.stderr
    status, body, _ = http(live, "GET", ITEM)
    assert body["state"] == "published" and body["public"] is True
    with urllib.request.urlopen(live.url + "/id/record/page-1", timeout=30) as resp:
        assert resp.status == 200
    # a token made by the command line works at once
    proc = lantai(live.home, "users", "token", "reader", user="admin")
    assert proc.returncode == 0, proc.stderr
    live.tokens["fresh"] = proc.stdout.strip()
    status, body, _ = http(live, "GET", "/", user="fresh")
    assert status == 200 and body["user"] == "reader"
    # the API writes again after the command has let go
    status, body, _ = http(live, "PATCH", ITEM, {"fields": {"title": {"en": "Last"}}})
    assert status == 200 and body["scope"] == {"en": "Set by the command line"}


def test_a_deleted_object_is_restored_by_its_iri(api):
    iri = api.iris[ITEM]
    assert api.delete(ITEM).status_code == 200
    assert api.get(ITEM).status_code == 404
    q = {"iri": iri}
    resp = api.client.get("/api/@iri", query_string=q, headers=api.headers("editor"))
    assert resp.status_code == 404  # deleted: not there to read
    resp = api.client.post("/api/@iri/@history/1", query_string=q, json={"message": "oops"},
                           headers=api.headers("editor"))
    assert resp.status_code == 200, resp.json
    assert resp.json["@id"] == iri and resp.json["path"] == ITEM
    assert resp.json["state"] == "private"
    assert api.get(ITEM).json["title"]["en"] == "Register, page one"
    # and PATCH by IRI, with the tag GET by IRI gave
    got = api.client.get("/api/@iri", query_string=q, headers=api.headers("editor"))
    resp = api.client.patch("/api/@iri", query_string=q,
                            json={"fields": {"title": {"en": "Restored page"}}},
                            headers=api.headers("editor", **{"If-Match": got.headers["ETag"]}))
    assert resp.status_code == 200 and resp.json["title"]["en"] == "Restored page"


def test_reads_never_fail_while_writes_compact_the_store(site):
    """Every write flushes the store and soon compacts it: a read-only view may meet a table
    file that just went away. Readers in three threads during a run of writes: no 5xx."""
    api = Api(site)
    stop = threading.Event()
    codes: list[int] = []

    def reader() -> None:
        client = api.app.test_client()
        while not stop.is_set():
            for path in (FILE, ITEM + "/@history", "/@search?q=名册", "/"):
                codes.append(client.get("/api" + path, headers=api.headers("editor")).status_code)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for n in range(12):
            resp = api.patch(ITEM, {"fields": {"scope": {"en": f"Write number {n}"}}})
            assert resp.status_code == 200, resp.json
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert len(codes) > 50 and set(codes) == {200}, sorted(set(codes))
    assert api.get(ITEM).json["scope"] == {"en": "Write number 11"}


def test_an_exhibit_is_shaped_through_the_api(api):
    """Exhibits are content too: made, filled and ordered with the same requests."""
    resp = api.post("/", {"type": "exhibit", "slug": "relocation",
                          "fields": {"title": {"zh": "西迁", "en": "The move west"},
                                     "about": [FONDS]}})
    assert resp.status_code == 201, resp.json
    assert resp.json["@type"] == "ExhibitionEvent"
    for slug, title in (("arrival", "Arrival"), ("departure", "Departure")):
        resp = api.post("/relocation", {"type": "section", "slug": slug,
                                        "fields": {"title": {"en": title},
                                                   "text": {"en": f"{title} of the school."},
                                                   "feature": [FILE]}})
        assert resp.status_code == 201, resp.json
    # departure comes first (positions are numbers: arrival 0, departure 1; arrival to 2)
    resp = api.post("/relocation/arrival/@move", {"target": "/relocation", "position": 2})
    assert resp.status_code == 200, resp.json
    order = [i["path"] for i in api.get("/relocation").json["items"]]
    assert order == ["/relocation/departure", "/relocation/arrival"]
    # the exhibit's context says what its title is (schema:name, not rico:title)
    body = api.get("/relocation").json
    ctx = api.client.get("/api/@context/exhibit").json["@context"]
    g = rdflib.Graph().parse(data=json.dumps(dict(body, **{"@context": ctx})), format="json-ld")
    schema = rdflib.Namespace("http://schema.org/")
    node = rdflib.URIRef(body["@id"])
    assert (node, schema.name, rdflib.Literal("西迁", lang="zh")) in g
    assert (node, schema.about, rdflib.URIRef(api.iris[FONDS])) in g


def test_exhibit_features_come_back_in_the_order_the_archivist_gave(api):
    """``feature`` is an ordered field: the API returns it in stored order, not IRI order,
    and a PATCH that reorders it is kept."""
    assert api.post("/", {"type": "exhibit", "slug": "ordered",
                          "fields": {"title": {"en": "Ordered"}}}).status_code == 201
    # ITEM's IRI sorts after FILE's and PERSON's: the given order is not the sorted one
    given = [ITEM, PERSON, FILE]
    resp = api.post("/ordered", {"type": "section", "slug": "s",
                                 "fields": {"title": {"en": "S"}, "feature": given}})
    assert resp.status_code == 201, resp.json
    want = [api.iris[p] for p in given]
    assert want != sorted(want)
    body = api.get("/ordered/s").json
    assert body["feature"] == want
    resp = api.patch("/ordered/s", {"fields": {"feature": given[::-1]}},
                     **{"If-Match": api.get("/ordered/s").headers["ETag"]})
    assert resp.status_code == 200, resp.json
    assert api.get("/ordered/s").json["feature"] == want[::-1]
