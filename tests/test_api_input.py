"""Bad input at the API's edge is a clear 4xx, never a 5xx, and changes nothing (issue 10,
item 9, the API half): IRIs that are not IRIs, language tags with control characters, lone
surrogates in JSON, values that would break the store's syntax."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from support import FILE, ITEM, SERIES, read_only_snapshot
from test_api import Api


@pytest.fixture
def api(site) -> Api:
    return Api(site)


BAD_IRIS = ["not an iri", "http://example.org/a b", "http://example.org/a>b",
            "http://example.org/<x>", "https://archive.example.edu/id/record/x\n",
            "http://[::1", "http://example.org/\u0000",
            "ftp://example.org/x", "http://example.org/" + "a" * 3000]


def test_bad_iris_in_the_query_are_400(api):
    before = read_only_snapshot(api.home)
    for iri in BAD_IRIS:
        for method, suffix in (("GET", ""), ("GET", "/@history"), ("PATCH", ""),
                               ("DELETE", ""), ("POST", "/@history/1"), ("POST", "")):
            raw = iri if "%ED" in iri else quote(iri, safe="")  # (a lone surrogate, as sent)
            resp = api.client.open("/api/@iri" + suffix + "?iri=" + raw, method=method,
                                   json={},
                                   headers=api.headers("manager"))
            assert resp.status_code == 400, (method, suffix, iri, resp.status_code)
            assert resp.is_json and resp.json["message"]
    assert read_only_snapshot(api.home) == before


HOSTILE_BODIES = [
    (ITEM, "PATCH", b'{"fields": {"title": {"en\\nfr": "x"}}}'),
    (ITEM, "PATCH", b'{"fields": {"title": {"e n": "x"}}}'),
    (ITEM, "PATCH", b'{"fields": {"title": {"en": "lone \\ud800 surrogate"}}}'),
    (ITEM, "PATCH", b'{"fields": {"title@en\\n": "x"}}'),
    (ITEM, "PATCH", b'{"fields": {"subject": "http://example.org/a b"}}'),
    (ITEM, "PATCH", b'{"fields": {"subject": "http://example.org/a>b"}}'),
    (ITEM, "PATCH", b'{"fields": {"subject": ["http://ex.org/\\u0000"]}}'),
    (ITEM, "PATCH", b'{"add": {"subject": "https://archive.example.edu/id/x y"}}'),
    (ITEM, "PATCH", b'{"fields": {"language": "zh\\nen"}}'),
    (ITEM, "PATCH", b'{"message": "\\udfff"}'),
    (FILE, "POST", b'{"type": "item", "slug": "a b", "fields": {"title": {"en": "x"}}}'),
    (FILE, "POST", b'{"type": "item", "key": "\\ud800", "fields": {"title": {"en": "x"}}}'),
    (FILE, "POST", b'{"type": "item", "fields": {"title": {"\\ud800": "x"}}}'),
    (FILE, "POST", b'{"type": "item", "fields": {"title": {"en": "x"}, '
                   b'"place": "http://ex.org/>"}}'),
    (ITEM + "/@move", "POST", b'{"target": "http://example.org/a b"}'),
    (ITEM + "/@move", "POST", b'{"target": "/xjtu/\\ud800"}'),
    (ITEM + "/@access", "POST", b'{"level": "embargoed", "until": "2030-01-01\\n"}'),
    (ITEM + "/@access", "POST", b'{"level": "open", "personal": ["\\ud800"]}'),
    (ITEM + "/@workflow/submit", "POST", b'{"comment": "\\ud800"}'),
    (ITEM + "/@history/1", "POST", b'{"message": "\\udc00"}'),
    (SERIES + "/@search", "GET", b""),
    ("/@users/reader/@revoke", "POST", b'{"role": "Editor", "on": "http://ex.org/a b"}'),
    ("/@users/reader/@revoke", "POST", b'{"token": "\\ud800"}'),
]


def test_hostile_values_are_4xx_and_change_nothing(api):
    before = read_only_snapshot(api.home)
    failures = []
    for path, method, body in HOSTILE_BODIES:
        resp = api.client.open("/api" + path, method=method, data=body,
                               headers=api.headers("manager",
                                                   **{"Content-Type": "application/json"}))
        if not (400 <= resp.status_code < 500 or (method == "GET" and resp.status_code == 200)) \
                or not resp.is_json or (resp.status_code >= 400 and not resp.json["message"]):
            failures.append(f"{method} {path} {body[:60]!r}: {resp.status_code} "
                            f"{resp.get_data(as_text=True)[:200]}")
    for query in ("q=%ED%A0%80", "q=%00", "type=%0A", "in=http://x/a%20b"):
        resp = api.client.get("/api/@search?" + query, headers=api.headers("manager"))
        if resp.status_code >= 500:
            failures.append(f"search {query}: {resp.status_code}")
    assert not failures, "\n".join(failures)
    assert read_only_snapshot(api.home) == before
    assert api.get(ITEM).status_code == 200
