"""Hostile input on every route of the publisher, over real HTTP: never a 5xx.

The routes are discovered from ``app.url_map``, so a route added later is attacked too. Each
route gets a concrete sample URL (a real demo key where the route needs one) and then:
huge query strings, broken percent-encoding and invalid UTF-8 (in the query and in the path),
path traversal, very long paths, odd ``Accept`` headers, ``HEAD``/``OPTIONS``, methods the route
does not allow (405, not 500), out-of-range paging and unknown languages. Every answer must
be below 500 (a SPARQL query over its time or memory limit is the one documented 503, and no
request here is expensive enough to hit it); every 4xx must carry a message; nothing may leak
files from outside the site.
"""

from __future__ import annotations

import re
import socket
import time
from urllib.parse import urlsplit

import pytest
import requests
from support import FILE, SERIES

from publisher.app import create_app

# A real value for each converter argument, so the sample URL reaches the view's own code.
SAMPLES = {
    "kind": "record",
    "key": "westward-relocation",
    "section_key": "x",
    "name": "lantai.nq.gz",
    "ext": "ttl",
    "n": "1",
    "filename": "site.css",
    "type_name": "Record",
    "subpath": "@search",
    "identifier": "x",
    "region": "full",
    "size": "max",
    "rotation": "0",
    "quality_format": "default.jpg",
    "rest": "canvas/1",
}

DOCUMENTED_5XX = {503}  # SPARQL query over its time/memory limit (docs/sparql.md)


def sample_path(rule) -> str:
    path = rule.rule
    for arg in rule.arguments:
        # an int converter takes only digits: "x" would match no rule at all
        fallback = "1" if re.search(r"<int(?:\(.*?\))?:" + arg + ">", path) else "x"
        path = re.sub(r"<(?:[a-z]+(?:\(.*?\))?:)?" + arg + ">", SAMPLES.get(arg, fallback), path)
    assert "<" not in path, f"no sample value for {rule.rule}"
    return path


@pytest.fixture(scope="module")
def routes(demo_server_home) -> list:
    app = create_app(demo_server_home)
    rules = [r for r in app.url_map.iter_rules()]
    assert len(rules) > 20
    return rules


class PatientSession(requests.Session):
    """Thousands of requests from one client can meet the site's rate limit (a 429 is a
    correct answer, but then the route's own code would go untested): wait and ask again."""

    def request(self, method, url, *args, **kwargs):
        for _ in range(20):
            resp = super().request(method, url, *args, **kwargs)
            if resp.status_code != 429:
                return resp
            time.sleep(int(resp.headers.get("Retry-After", "1")))
        return resp


@pytest.fixture(scope="module")
def http():
    with PatientSession() as s:
        yield s


def raw_request(base: str, request_line: bytes, headers: bytes = b"") -> tuple[int, bytes]:
    """Send bytes no HTTP library would send (invalid UTF-8 in the path) and read the status."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(request_line + b"\r\nHost: " + parts.netloc.encode() + b"\r\n" + headers
                     + b"Connection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data


class Failures:
    def __init__(self) -> None:
        self.items: list[str] = []

    def check(self, what: str, resp: requests.Response) -> None:
        status = resp.status_code
        if status >= 500 and status not in DOCUMENTED_5XX:
            self.items.append(f"{status} {what}: {resp.text[:200]!r}")
        elif 400 <= status < 500 and resp.request.method != "HEAD" and not resp.content.strip():
            self.items.append(f"{status} without a message: {what}")
        if b"root:x:0:0" in resp.content:
            self.items.append(f"leaked /etc/passwd: {what}")

    def assert_none(self) -> None:
        assert not self.items, "\n".join(self.items[:40])


QUERY_ATTACKS = {
    "huge query string": "q=" + "a" * 60_000,
    "many parameters": "&".join(f"p{i}=v" for i in range(3000)),
    "broken percent-encoding": "q=%ZZ%E4%&page=%&lang=%G1",
    "invalid UTF-8": "q=%FF%FE%C0%AF&lang=%FF&format=%FF",
    "negative page": "page=-1",
    "huge page": "page=999999",
    "enormous page": "page=" + "9" * 400,
    "page not a number": "page=abc&per_page=-5&limit=-1&size=999999999",
    "unknown language": "lang=xx",
    "script in parameters": "q=%3Cscript%3Ealert(1)%3C/script%3E&lang=%3Cb%3E",
    "header injection": "lang=en%0D%0ASet-Cookie:%20x=1&format=ttl%0D%0AX-Evil:%201",
    "unknown format": "format=application/x-nonsense",
}


@pytest.mark.parametrize("attack", sorted(QUERY_ATTACKS))
def test_hostile_query_strings(demo_server, routes, http, attack):
    failures = Failures()
    for rule in routes:
        url = demo_server + sample_path(rule) + "?" + QUERY_ATTACKS[attack]
        resp = http.get(url, timeout=60)
        failures.check(f"GET {rule.rule} ({attack})", resp)
        assert "X-Evil" not in resp.headers
        assert resp.headers.get("Set-Cookie", "").find("x=1") < 0
    failures.assert_none()


ACCEPTS = [
    "", "*/*;q=abc", "text/html;q=0", "application/x-unknown", "image/png",
    "text/turtle;q=1.5, */*;q=-1", ",,,;;;===", "text/*", "application/*",
    "a/b;" * 2000, "application/sparql-results+json;charset=nonsense",
]


def test_odd_accept_headers(demo_server, routes, http):
    failures = Failures()
    for rule in routes:
        for accept in ACCEPTS:
            resp = http.get(demo_server + sample_path(rule), headers={"Accept": accept},
                            timeout=60)
            failures.check(f"GET {rule.rule} Accept={accept[:40]!r}", resp)
    failures.assert_none()


def test_head_and_options_everywhere(demo_server, routes, http):
    failures = Failures()
    for rule in routes:
        url = demo_server + sample_path(rule)
        failures.check(f"HEAD {rule.rule}", http.head(url, timeout=60))
        failures.check(f"OPTIONS {rule.rule}", http.options(url, timeout=60))
    failures.assert_none()


def test_methods_not_allowed_answer_405(demo_server, routes, http):
    failures = Failures()
    for rule in routes:
        path = sample_path(rule)
        # the methods some rule takes for this URL (one URL may match rules of several
        # patterns: the API's, or /staff/files/-/original/x and /staff/files/<path>)
        allowed = set(rule.map.bind("localhost").allowed_methods(path.split("?")[0]))
        url = demo_server + path
        for method in ("PUT", "DELETE", "PATCH", "POST", "TRACE", "PROPFIND", "BREW"):
            resp = http.request(method, url, data=b"x" * 100, timeout=60)
            failures.check(f"{method} {rule.rule}", resp)
            if method not in allowed and resp.status_code != 405:
                failures.items.append(f"{method} {rule.rule}: {resp.status_code}, want 405")
    failures.assert_none()


TRAVERSALS = [
    "/static/../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/static/%252e%252e/etc/passwd",
    "/id/record/..%2F..%2F..%2Fetc%2Fpasswd",
    "/id/record/../../../etc/passwd",
    "/id/../../etc/passwd",
    "/dumps/..%2Fpublication",
    "/dumps/..%2F..%2F..%2Fetc%2Fpasswd",
    "/dumps/%2e%2e",
    "/exhibits/..%2F..%2Fetc%2Fpasswd",
    "/exhibits/%00/x",
    "/sitemap-99999999999999999999.xml",
    "/sitemap--1.xml",
    "/.well-known/void.%2e%2e%2fetc",
    "/api/..%2F..%2Fetc%2Fpasswd",
    "/api/@context/..%2F..%2Fetc%2Fpasswd",
    "/iiif/3/..%2F..%2F..%2Fetc%2Fpasswd/info.json",
    "/iiif/media/..%2F..%2Fetc%2Fpasswd",
    "/id/record/%00",
    "/id/record/a%0D%0ASet-Cookie:%20x=1",
    "//etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal(demo_server, http, path):
    failures = Failures()
    resp = http.get(demo_server + path, timeout=60)
    failures.check(f"GET {path}", resp)
    failures.assert_none()
    assert resp.status_code in (400, 401, 404, 405, 308, 301), (path, resp.status_code)
    assert "x=1" not in resp.headers.get("Set-Cookie", "")


def test_very_long_and_invalid_paths(demo_server, routes, http):
    failures = Failures()
    for rule in routes:
        path = sample_path(rule)
        long_path = path.rstrip("/") + "/" + "a" * 20_000
        failures.check(f"GET long {rule.rule}", http.get(demo_server + long_path, timeout=60))
        segment = path.rstrip("/").rsplit("/", 1)
        bad = segment[0] + "/%FF%FE%C0%AF" if len(segment) == 2 else "/%FF"
        failures.check(f"GET invalid UTF-8 in {rule.rule}",
                       http.get(demo_server + bad, timeout=60))
        broken = segment[0] + "/%E4%B8" if len(segment) == 2 else "/%"
        failures.check(f"GET broken escape in {rule.rule}",
                       http.get(demo_server + broken, timeout=60))
    failures.assert_none()


@pytest.mark.parametrize("path", [b"/id/record/\xff\xfe", b"/search?q=\xff\xc0", b"/exhibits/\xe4",
                                  b"/sparql?query=\xff", b"/api/\xff", b"/\xff?lang=\xff"])
def test_raw_invalid_utf8_bytes(demo_server, path):
    status, data = raw_request(demo_server, b"GET " + path + b" HTTP/1.1")
    assert status < 500, data[:300]


def test_sparql_hostile_bodies(demo_server, http):
    """The endpoint's own hostile inputs: bodies that are not UTF-8, wrong content types,
    an update, an empty query, an oversized query."""
    url = demo_server + "/sparql"
    cases = [
        (b"\xff\xfe\x00", "application/sparql-query"),
        (b"query=%FF%FE", "application/x-www-form-urlencoded"),
        (b"SELECT * WHERE { ?s ?p ?o } LIMIT 1", "application/x-nonsense"),
        (b"INSERT DATA { <a:a> <a:b> <a:c> }", "application/sparql-query"),
        (b"update=INSERT+DATA+%7B%7D", "application/x-www-form-urlencoded"),
        (b"", "application/sparql-query"),
        (b"SELECT " + b"?x " * 200_000 + b"WHERE {}", "application/sparql-query"),
        (b"{" * 50_000, "application/sparql-query"),
    ]
    for body, ctype in cases:
        resp = http.post(url, data=body, headers={"Content-Type": ctype}, timeout=60)
        assert 400 <= resp.status_code < 500, (body[:40], ctype, resp.status_code, resp.text[:200])
        assert resp.text.strip(), (body[:40], ctype)


def test_server_still_up(demo_server, http):
    assert http.get(demo_server + "/healthz", timeout=30).json() == {"status": "ok"}


# ---------------------------------------------------------------------- the REST API, signed in
API_BODIES = [
    b"{", b"[]", b"null", b"\xff\xfe", b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b'{"title": {"zh": 1}}', b'{"@type": "Nope"}', b'{"title": null, "feature": [null, 5, {}]}',
    b'{"transition": "nope"}', b'{"to": "/"}', b'{"id": "../../etc", "@type": "Record"}',
    b'{"@type": "Record", "id": "\\u0000x", "title": "<script>"}',
    b'{"closed": "yes", "embargo_until": "not a date"}',
]


def test_api_hostile_bodies_signed_in(site):
    """With a valid token the API's own code runs: broken, deeply nested and ill-typed bodies
    get a 4xx with a message, never a 500 (a 5000-deep JSON array once raised RecursionError)."""
    token = site.token
    site.close()
    client = create_app(site.home, TESTING=True).test_client()
    auth = {"Authorization": f"Bearer {token}"}
    failures = []
    paths = ["/", FILE, SERIES, FILE + "/@workflow", FILE + "/@history", FILE + "/@access",
             FILE + "/@move", FILE + "/@history/1", "/no/such/thing", FILE + "/@bogus"]
    for path in paths:
        for query in ("?page=-1", "?page=999999", "?b_size=-1&b_start=-5", "?q=%FF",
                      "?sort=%3Cx&lang=xx", "?q=" + "a" * 30_000):
            resp = client.get("/api" + path + query, headers=auth)
            if resp.status_code >= 500:
                failures.append(f"GET {path}{query[:30]}: {resp.status_code}")
        for method in ("POST", "PATCH", "DELETE", "PUT"):
            for body in API_BODIES:
                headers = {**auth, "Content-Type": "application/json"}
                if method in ("PATCH", "DELETE"):
                    headers["If-Match"] = '"stale"'
                resp = client.open("/api" + path, method=method, data=body, headers=headers)
                if resp.status_code >= 500 or (resp.status_code >= 400
                                               and not resp.get_data().strip()):
                    failures.append(f"{method} {path} {body[:20]!r}: {resp.status_code}")
    assert not failures, "\n".join(failures[:30])


def test_public_pages_never_echo_the_host_header(demo_server, routes, http):
    """Header injection: a forged ``Host`` must not reach a page (cache poisoning). Public
    surfaces build every URL from the site's base IRI (the exhibit page's schema.org ``url``
    once came from the request's Host)."""
    failures = []
    paths = {sample_path(r) for r in routes if not r.rule.startswith("/api/")}
    paths |= {"/exhibits/westward-relocation", "/exhibits/covid-memories",
              "/id/record/admission-letter-1956", "/search?q=%E8%A5%BF%E8%BF%81"}
    for path in sorted(paths):
        resp = http.get(demo_server + path, headers={"Host": "evil.example"}, timeout=60)
        if b"evil.example" in resp.content or "evil.example" in str(resp.headers):
            failures.append(path)
    assert not failures, failures
