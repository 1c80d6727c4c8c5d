"""Every API route answers only the methods it was registered for (issue 10, item 1).

``HEAD /api/{path}`` with a Manager's token used to delete the object: Flask adds HEAD to a
GET rule, and the hand-written dispatcher sent every method that was not GET, POST or PATCH
to delete. Here HEAD is sent where it counts, and the store is compared before and after.
"""

from __future__ import annotations

import pytest
from support import FILE, ITEM, SERIES, read_only_snapshot
from test_api import Api


@pytest.fixture
def api(site) -> Api:
    return Api(site)


def test_head_is_get_without_a_body_and_changes_nothing(api):
    before = read_only_snapshot(api.home)
    for user in ("manager", "admin", "editor"):
        for path in (ITEM, FILE, SERIES, "/", ITEM + "/@history", FILE + "/@access"):
            got = api.get(path, user=user)
            head = api.client.head("/api" + path, headers=api.headers(user))
            assert head.status_code == got.status_code == 200, (user, path, head.status_code)
            assert head.data == b"", (user, path)
            assert head.headers.get("ETag") == got.headers.get("ETag"), (user, path)
    assert read_only_snapshot(api.home) == before
    assert api.get(ITEM, user="manager").status_code == 200


# ---------------------------------------------------------------------- every route, method, role
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW")
SAFE = ("GET", "HEAD", "OPTIONS")
ROLES = (None, "nobody", "reader", "contributor", "editor", "reviewer", "manager")
SAMPLES = {"path": ITEM.lstrip("/"), "subpath": ITEM.lstrip("/"),  # (subpath: the old catch-all)
           "n": "1", "action": "submit", "type_name": "file",
           "name": "nobody"}


def api_urls(api: Api) -> dict[str, set[str]]:
    """Each API URL shape of the app's url_map, as a sample URL on a real object, with the
    methods registered for it (the union of the rules of that shape)."""
    import re
    from urllib.parse import quote

    urls: dict[str, set[str]] = {}
    for rule in api.app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?" + arg + ">", SAMPLES[arg], url)
        assert "<" not in url, rule.rule
        if url.startswith("/api/@iri"):
            url += "?iri=" + quote(api.iris[ITEM], safe="")
        urls.setdefault(url, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    return urls


def expected_urls(api: Api) -> dict[str, set[str]]:
    """What docs/api.md says each URL answers (by path and by IRI alike)."""
    from urllib.parse import quote

    out = {"/api": {"GET", "POST"}, "/api/": {"GET", "POST"}, "/api/@children": {"GET"},
           "/api/@search": {"GET"}, "/api/@types": {"GET"}, "/api/openapi.json": {"GET"},
           "/api/@context/file": {"GET"}, "/api/@users": {"GET"},
           "/api/@users/nobody": {"GET", "DELETE"}, "/api/@users/nobody/@history": {"GET"},
           "/api/@users/nobody/@revoke": {"POST"}, "/api/@users/nobody/@disable": {"POST"},
           "/api/@users/nobody/@enable": {"POST"}}
    iri = "?iri=" + quote(api.iris[ITEM], safe="")
    for base, query in (("/api" + ITEM, ""), ("/api/@iri", iri)):
        for suffix, methods in (("", {"GET", "POST", "PATCH", "DELETE"}),
                                ("/@children", {"GET"}), ("/@workflow", {"GET"}),
                                ("/@workflow/submit", {"POST"}), ("/@history", {"GET"}),
                                ("/@history/1", {"GET", "POST"}), ("/@access", {"GET", "POST"}),
                                ("/@move", {"POST"}), ("/@search", {"GET"})):
            out[base + suffix + query] = methods
    return out


def send(api: Api, method: str, url: str, user: str | None):
    body = {} if method in ("POST", "PUT", "PATCH", "BREW") else None
    return api.client.open(url, method=method, json=body, headers=api.headers(user))


def allow(resp) -> set[str]:
    return {m.strip() for m in resp.headers.get("Allow", "").split(",") if m.strip()}


@pytest.mark.slow
def test_every_route_answers_only_its_registered_methods_for_every_role(api):
    urls = expected_urls(api)
    failures: list[str] = []

    def check(method: str, url: str, user: str | None, registered: set[str]):
        resp = send(api, method, url, user)
        what = f"{method} {url} as {user}: {resp.status_code}"
        if resp.status_code >= 500:
            failures.append(what + " (server error)")
        expected = registered | {"OPTIONS"} | ({"HEAD"} if "GET" in registered else set())
        if method not in expected:
            if resp.status_code != 405 or allow(resp) != expected or not resp.is_json:
                failures.append(f"{what}, Allow {sorted(allow(resp))}: want 405, "
                                f"Allow {sorted(expected)}")
        elif resp.status_code == 405:
            failures.append(what + f" (registered: {sorted(registered)})")
        if method == "OPTIONS" and allow(resp) != expected:
            failures.append(f"{what}: Allow {sorted(allow(resp))}, want {sorted(expected)}")
        if method == "HEAD":
            got = send(api, "GET", url, user)
            if resp.data or resp.status_code != got.status_code:
                failures.append(f"{what}: not GET without a body (GET: {got.status_code})")
        return resp

    # safe methods and unregistered ones first: none of them may change the store
    before = read_only_snapshot(api.home)
    for url, registered in urls.items():
        for user in ROLES:
            for method in METHODS:
                if method in SAFE or method not in registered:
                    check(method, url, user, registered)
    assert read_only_snapshot(api.home) == before, "a safe or refused method changed the store"
    # then the registered writes, as every role: a clear answer, never a 405 or a 5xx
    for url, registered in urls.items():
        for user in ROLES:
            for method in sorted(registered - set(SAFE)):
                check(method, url, user, registered)
    assert not failures, "\n".join(failures[:40])
    # and these are all the URL shapes the app routes to the API, with those methods
    assert api_urls(api) == urls


def test_the_openapi_document_lists_exactly_the_registered_rules(api):
    """Every (path, method) the url_map routes to a service is in /api/openapi.json, and
    every operation there is routed: the document is made from the same declarations."""
    import re

    rules = set()
    for rule in api.app.url_map.iter_rules():
        # the API's own rules, and the record requests' JSON channel (its own blueprint)
        if not rule.endpoint.startswith(("api.", "requests_api.")) \
                or rule.endpoint == "api.api_bare":
            continue  # /api only redirects to /api/
        path = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", r"{\1}",
                      rule.rule.removeprefix("/api")) or "/"
        rules |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    doc = api.client.get("/api/openapi.json").json
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert rules == documented, (sorted(rules - documented), sorted(documented - rules))
    assert len(rules) >= 30
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    # each documented path parameter is declared
    for path, ops in doc["paths"].items():
        for name in re.findall(r"\{([a-z_]+)\}", path):
            for method, op in ops.items():
                declared = {p.get("name") or p["$ref"].rsplit("/", 1)[-1]
                            for p in op.get("parameters", [])}
                assert name in declared, (path, method, name)
