"""Request statistics (issue 12, item 8): the figures checked against requests counted by
hand (months, kinds, channels, workrooms, the median and 90th percentile turnaround, the
shares), the staff page (Managers and Editors only; tables, the charts' data, no inline
script), and the CSV (parsed with the csv module: it says what the page says). Also the
store's bulk insert, which the queue benchmark and any carried-over requests use."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re

import pytest
from staff_support import set_password, signed_in

from publisher.app import create_app
from repo.errors import Conflict
from services.requests import stats
from services.requests.model import Copy, Personal, Request
from services.requests.store import RequestStore, new_code, new_number

RANGE = "from=2026-01-01&to=2026-03-31"
# (created, closed, status, kind, channel, workroom, delivery, signed, posted)
ROWS = [
    ("2026-01-05T08:00:00Z", "2026-01-06T08:00:00Z", "closed", "transcript", "web", "兴庆",
     "electronic", True, False),  # 24 h
    ("2026-01-20T00:00:00Z", "2026-01-22T00:00:00Z", "fulfilled", "transcript", "wechat", "雁塔",
     "both", True, True),  # 48 h
    ("2026-02-10T00:00:00Z", "2026-02-14T00:00:00Z", "closed", "degree", "email", "兴庆",
     "post", False, True),  # 96 h
    ("2026-03-01T00:00:00Z", "2026-03-01T12:00:00Z", "closed", "graduation", "web", "创新港",
     "electronic", True, False),  # 12 h
    ("2026-03-15T00:00:00Z", "", "submitted", "other", "web", "创新港", "electronic", False,
     False),
    ("2026-03-20T00:00:00Z", "2026-03-21T00:00:00Z", "refused", "enrolment", "staff", "曲江",
     "electronic", False, False),  # refused: not a turnaround
    ("2025-12-31T23:59:59Z", "2026-01-02T00:00:00Z", "closed", "transcript", "web", "兴庆",
     "electronic", False, False),  # before the range
]


def _request(created: str, closed: str, status: str, kind: str, channel: str, workroom: str,
             delivery: str) -> Request:
    return Request(id=new_number(int(created[:4])), status=status, kind=kind,
                   languages=("zh",), copies=1, delivery=delivery, channel=channel,
                   created=created, updated=closed or created, due=created, closed=closed,
                   workroom=workroom, email_verified=True)


def fill(store: RequestStore) -> list[str]:
    items = []
    for created, closed, status, kind, channel, workroom, delivery, _, _ in ROWS:
        items.append((_request(created, closed, status, kind, channel, workroom, delivery),
                      Personal(name="CANARY-NAME 统计", email="stats@example.org",
                               id_number="CANARY-ID-STATS", address="CANARY-ADDRESS")))
    assert store.bulk_insert(items) == len(ROWS)
    ids = [req.id for req, _ in items]
    for rid, row in zip(ids, ROWS, strict=True):
        if row[7]:
            pdf = b"%PDF-1.7 a certified copy of " + rid.encode()
            store.add_copy(Copy(code=new_code(), request_id=rid, language="zh",
                                sha256=hashlib.sha256(pdf).hexdigest(), pages=1,
                                signed_at=row[1], signer="CN=test", issued_by="editor"), pdf)
        if row[8]:
            store.dispatch(rid, "EMS", "EA123456789CN", "editor")
    return ids


@pytest.fixture
def store(site):
    site.close()
    return RequestStore.open(site.home)


# ---------------------------------------------------------------------- the figures
def test_figures_match_the_hand_count(store):
    fill(store)
    s = stats.summary(store.facts(), since=dt.date(2026, 1, 1), until=dt.date(2026, 4, 1),
                      workrooms=store.settings.requests_workrooms)
    assert s.total == 6
    assert s.months == [("2026-01", 2), ("2026-02", 1), ("2026-03", 3)]
    assert dict(s.kinds) == {"transcript": 2, "graduation": 1, "degree": 1, "enrolment": 1,
                             "other": 1}
    assert dict(s.channels) == {"web": 3, "email": 1, "wechat": 1, "staff": 1}
    assert s.workrooms == [("兴庆", 2), ("雁塔", 1), ("曲江", 1), ("创新港", 2)]
    # fulfilled: 12, 24, 48, 96 hours; median (24 + 48) / 2; p90 at rank 1 + 0.9 × 3 = 3.7:
    # 48 + 0.7 × (96 − 48)
    assert s.turnaround.count == 4
    assert s.turnaround.median_hours == pytest.approx(36.0)
    assert s.turnaround.p90_hours == pytest.approx(81.6)
    assert s.turnaround.median_days == pytest.approx(1.5)
    assert (s.fulfilled, s.electronic, s.post, s.signed) == (4, 3, 2, 3)
    assert s.shares == {"electronic": 0.75, "post": 0.5, "signed": 0.75}


def test_the_store_filters_the_range_itself(store):
    fill(store)
    facts = store.facts(since="2026-01-01T00:00:00Z", until="2026-02-01T00:00:00Z")
    assert sorted(f["created"] for f in facts) == ["2026-01-05T08:00:00Z",
                                                    "2026-01-20T00:00:00Z"]
    assert all("personal" not in f and "email_hash" not in f for f in facts)


def test_months_without_requests_are_listed_with_zero():
    facts = [{"created": "2025-11-03T00:00:00Z"}, {"created": "2026-02-01T00:00:00Z"}]
    assert stats.per_month(facts) == [("2025-11", 1), ("2025-12", 0), ("2026-01", 0),
                                      ("2026-02", 1)]
    assert stats.per_month([], dt.date(2026, 1, 1), dt.date(2026, 3, 1)) == [
        ("2026-01", 0), ("2026-02", 0)]


def test_percentiles_by_hand():
    assert stats.percentile([], 50) is None
    assert stats.percentile([7.0], 90) == 7.0
    assert stats.percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    # ten values 1..10: p90 at rank 1 + 0.9 × 9 = 9.1 → 9.1
    assert stats.percentile([float(x) for x in range(1, 11)], 90) == pytest.approx(9.1)


def test_no_fulfilled_request_has_no_turnaround_and_no_shares():
    s = stats.summary([{"created": "2026-01-01T00:00:00Z", "closed": "", "status": "submitted",
                        "kind": "transcript", "channel": "web", "workroom": "兴庆",
                        "delivery": "post", "signed": 0, "posted": 0}])
    assert s.turnaround.count == 0 and s.turnaround.median_hours is None
    assert s.shares == {"electronic": None, "post": None, "signed": None}


# ---------------------------------------------------------------------- bulk insert
def test_bulk_insert_keeps_what_it_is_given(store):
    ids = fill(store)
    req = store.get(ids[1], unseal=True)
    assert (req.status, req.kind, req.channel, req.workroom, req.created, req.closed) == (
        "fulfilled", "transcript", "wechat", "雁塔", "2026-01-20T00:00:00Z",
        "2026-01-22T00:00:00Z")
    assert req.personal is not None and req.personal.name == "CANARY-NAME 统计"
    assert [e.action for e in store.history(ids[0])][:1] == ["created"]
    # personal data sealed as by create: not in the database file in clear
    raw = b"".join(p.read_bytes() for p in store.path.parent.glob("requests.sqlite3*"))
    assert b"CANARY-NAME" not in raw and b"CANARY-ID" not in raw
    # a number that exists already: nothing of the batch is inserted
    again = [(_request("2026-04-01T00:00:00Z", "", "submitted", "transcript", "web", "兴庆",
                       "electronic"), None), (store.get(ids[0]), None)]
    with pytest.raises(Conflict):
        store.bulk_insert(again)
    assert store.query(limit=1)[1] == len(ROWS)


# ---------------------------------------------------------------------- the page and the CSV
@pytest.fixture
def app(site):
    for name in ("reader", "contributor", "reviewer", "manager", "editor"):
        set_password(site.repo, name)
    home = site.home
    site.close()
    fill(RequestStore.open(home))
    return create_app(home, TESTING=True)


def test_page_shows_the_figures_with_charts_and_no_inline_script(app):
    staff = signed_in(app, "editor")
    page = staff.get(f"/staff/requests/statistics?{RANGE}")
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    html = page.get_data(as_text=True)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    # every <script> has a src, or is a JSON data block (never executed)
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "vendor/echarts.min.js" in html and "request_stats.js" in html
    data = json.loads(re.search(r'<script type="application/json" id="stats-data">(.*?)'
                                r"</script>", html, re.S).group(1))
    assert data["months"] == {"labels": ["2026-01", "2026-02", "2026-03"], "values": [2, 1, 3]}
    assert data["workrooms"]["values"] == [2, 1, 1, 2]
    assert 'data-item="median_hours">36.0' in html and 'data-item="p90_hours">81.6' in html
    assert "CANARY" not in html  # statistics unseal nothing
    assert "Request statistics" in html  # the menu entry too
    # the JavaScript and ECharts are served by us
    assert staff.get("/staff/static/request_stats.js").status_code == 200


def test_only_managers_and_editors(app):
    for name, status in (("reader", 403), ("contributor", 403), ("reviewer", 403),
                         ("manager", 200), ("editor", 200)):
        staff = signed_in(app, name)
        assert staff.get("/staff/requests/statistics").status_code == status, name
        assert staff.get("/staff/requests/statistics.csv").status_code == status, name
        menu = staff.get("/staff/").get_data(as_text=True)
        assert ("/staff/requests/statistics" in menu) == (status == 200), name
    anonymous = app.test_client()
    assert anonymous.get("/staff/requests/statistics").status_code in (302, 303, 401)


def test_csv_parses_and_matches_the_page(app):
    staff = signed_in(app, "manager")
    resp = staff.get(f"/staff/requests/statistics.csv?{RANGE}")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    raw = resp.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8 (the workrooms)
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0] == ["section", "item", "value"]
    got = {(s, i): v for s, i, v in table[1:]}
    assert got[("total", "requests")] == "6"
    assert [(i, v) for s, i, v in table[1:] if s == "month"] == [
        ("2026-01", "2"), ("2026-02", "1"), ("2026-03", "3")]
    assert got[("workroom", "创新港")] == "2"
    assert got[("turnaround", "median_hours")] == "36.0"
    assert got[("turnaround", "p90_hours")] == "81.6"
    assert got[("share", "signed")] == "0.7500"
    page = staff.get(f"/staff/requests/statistics?{RANGE}").get_data(as_text=True)
    # every count of the CSV's tables is the page's
    for section, table_id in (("month", "months"), ("kind", "kinds"), ("channel", "channels"),
                              ("workroom", "workrooms"), ("state", "states")):
        shown = dict(re.findall(r'<th scope="row" data-key="([^"]+)">[^<]*</th><td>(\d+)</td>',
                                _table(page, table_id)))
        assert shown == {i: v for s, i, v in table[1:] if s == section}, section


def _table(html: str, table_id: str) -> str:
    start = html.index(f'id="stats-{table_id}"')
    return html[start:html.index("</table>", start)]


def test_bad_ranges_are_refused_with_a_message(app):
    staff = signed_in(app, "editor")
    for query in ("from=2026-13-01", "from=yesterday", "from=2026-03-01&to=2026-01-01",
                  "from=1900-01-01&to=2026-01-01", "to=" + "9" * 500):
        resp = staff.get(f"/staff/requests/statistics?{query}")
        assert resp.status_code == 422, query
        assert staff.get(f"/staff/requests/statistics.csv?{query}").status_code == 422
    assert staff.post("/staff/requests/statistics").status_code == 405
