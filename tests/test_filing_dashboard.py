"""The filing dashboard (``/staff/filing/``; issue 13, item 5) on the year worked out by
hand in :mod:`test_filing_rates`: the units' rows and totals as the page shows them (colour
against the 98 % goal, "—" without a divisor), the charts' data, the year switch, who sees
what (archivists every unit, an officer only their own, anyone else 403), bad input (4xx,
never 500; escaped names), and the year-end report's downloads re-read."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import lxml.html
import pytest
from openpyxl import load_workbook
from staff_support import set_password, signed_in
from test_filing_rates import (
    CATEGORIES,
    ENERGY_TOTAL,
    LEAGUE_TOTAL,
    TOPIC_TOTAL,
    TOTAL,
    build,
)

from publisher.app import create_app
from services.filing import units

YEAR = "2026"
SCRIPT_NAME = "<script>alert('unit')</script>化学学院"


@pytest.fixture
def app(site):
    repo, admin = site.repo, site.repo.user("admin")
    store, _ids = build(site)
    # a fourth unit whose name is hostile: it must come out escaped
    repo.create(admin, "/agents", "corporatebody",
                {"name": {"zh": SCRIPT_NAME, "en": SCRIPT_NAME + " Chem"}},
                slug="chem", key="unit-chem")
    units.add_unit(repo, store, admin, "/agents/chem", "chem")
    units.appoint(repo, store, admin, "contributor", "league")  # an officer of one unit
    for name in ("reader", "contributor", "editor", "manager", "nobody"):
        set_password(repo, name)
    store.close()
    home = site.home
    site.close()
    return create_app(home, TESTING=True)


def rows(html: str, table_id: str) -> dict[str, list[str]]:
    """A table's rows by their ``data-unit`` (or first cell): the cells' texts."""
    doc = lxml.html.fromstring(html)
    found = {}
    for tr in doc.xpath(f'//table[@id="{table_id}"]//tr[td]'):
        key = tr.get("data-unit", tr.get("data-category", ""))
        found[key] = [" ".join(c.text_content().split()) for c in tr.xpath("td")]
    return found


def counts(cells: list[str]) -> tuple[int, ...]:
    return tuple(int(c) for c in cells[:5])


def test_the_archivists_dashboard_says_every_figure(app):
    staff = signed_in(app, "editor")
    page = staff.get(f"/staff/filing/?year={YEAR}")
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    html = page.get_data(as_text=True)
    units_ = rows(html, "filing-units")
    assert set(units_) == {"energy", "league", "physics", "chem", ""}
    assert counts(units_["energy"]) == ENERGY_TOTAL
    # overdue as of today (the page judges on the real day): T1 and T3, and T2 after 2026
    late = dt.datetime.now(dt.UTC).date() > dt.date(2026, 12, 31)
    assert units_["energy"][5:8] == ["50.0 %", "80.0 %", "3" if late else "2"]
    assert units_["league"][7] == "1"
    assert counts(units_["league"]) == LEAGUE_TOTAL
    assert units_["league"][5:7] == ["66.7 %", "75.0 %"]
    assert units_["physics"][5:7] == ["—", "—"] and units_["physics"][8] == "—"
    assert counts(units_[""]) == TOTAL and units_[""][5:7] == ["56.2 %", "77.8 %"]
    assert units_["energy"][8] == "not met"
    # colour against the goal (a word beside it): 50 % red, none grey
    doc = lxml.html.fromstring(html)
    def classes(code: str) -> list[str]:
        return doc.xpath(f'//table[@id="filing-units"]//tr[@data-unit="{code}"]'
                         '/td[contains(@class, "rate")]/@class')
    assert classes("energy") == ["rate rate-low", "rate rate-low"]
    assert classes("physics") == ["rate rate-none", "rate rate-none"]
    cats = rows(html, "filing-categories")
    assert counts(cats["JX"]) == CATEGORIES["JX"] and counts(cats[""]) == CATEGORIES[""]
    league_jx = doc.xpath('//table[@id="filing-topics"]//tr[@data-unit="league"]'
                          '/td[contains(@class, "rate")]/@class')
    assert league_jx == ["rate rate-goal", "rate rate-goal"]  # 100 %: the goal met
    topic_total = doc.xpath('//table[@id="filing-topics"]//tr[@data-unit=""]/td')
    assert tuple(int(td.text_content()) for td in topic_total[1:6]) == TOPIC_TOTAL
    # the charts' data (a JSON block, never executed) and no inline script at all
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert ' style="' not in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    data = json.loads(doc.xpath('//script[@id="filing-data"]')[0].text)
    assert data["goal"] == 98.0
    assert data["units"]["filing"] == [None, 50.0, 66.7, None]  # chem, energy … by code
    assert data["units"]["quality"] == [None, 80.0, 75.0, None]
    assert dict(zip(data["months"]["labels"], data["months"]["values"], strict=True))[
        "2026-03"] == 2
    assert data["categories"]["expected"] == [4, 10, 2, 0]  # DQ, JX, KY, no task
    assert staff.get("/staff/filing/dashboard-static/dashboard.js").status_code == 200
    assert staff.get("/staff/filing/dashboard-static/dashboard.css").status_code == 200
    # the hostile unit name is text, not markup
    where = html.find(SCRIPT_NAME)
    assert where < 0 and "&lt;script&gt;alert(" in html, html[where - 300:where + 100]
    # the menu shows the dashboard to archivists
    assert 'href="/staff/filing/"' in html
    # the year switch: links to the neighbours, a list of years, another year is empty
    assert f'href="/staff/filing/?year={int(YEAR) - 1}"' in html
    other = staff.get("/staff/filing/?year=2025").get_data(as_text=True)
    assert counts(rows(other, "filing-units")[""]) == (9, 1, 0, 1, 1)  # 2025's own task


def test_links_to_unit_pages_and_the_receiving_queue_when_they_exist(app):
    staff = signed_in(app, "editor")
    html = staff.get(f"/staff/filing/?year={YEAR}").get_data(as_text=True)
    doc = lxml.html.fromstring(html)
    links = doc.xpath('//tr[@data-unit="energy"]//a/@href')
    if "staff.filing_officer.unit" in app.view_functions:
        assert any(href.startswith("/staff/filing/unit/energy") for href in links), links
    if "staff.filing_receiving.queue" in app.view_functions:
        assert any(href.startswith("/staff/filing/receiving") and "unit=energy" in href
                   for href in links), links


def test_an_officer_sees_only_their_unit_and_others_nothing(app):
    officer = signed_in(app, "contributor")
    page = officer.get(f"/staff/filing/?year={YEAR}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    seen = rows(html, "filing-units")
    assert set(seen) == {"league", ""}
    assert counts(seen[""]) == LEAGUE_TOTAL  # their units' totals, not everyone's
    assert "能源与动力工程学院" not in html and "energy" not in html
    assert "/staff/filing/receiving" not in html  # not the archivist's queue
    xlsx = officer.get(f"/staff/filing/report.xlsx?year={YEAR}")
    assert xlsx.status_code == 200
    wb = load_workbook(io.BytesIO(xlsx.get_data()))
    assert "league" in wb.sheetnames and "energy" not in wb.sheetnames
    rect = [r for r in wb.worksheets[2].iter_rows(values_only=True)][3:]
    assert [r[3] for r in rect] == ["e3 改"]  # only their unit's returned item
    # no menu entry to the dashboard for officers (their unit's page is their start)
    assert 'href="/staff/filing/"' not in html

    for name in ("reader", "nobody"):
        other = signed_in(app, name)
        for url in (f"/staff/filing/?year={YEAR}", f"/staff/filing/report.xlsx?year={YEAR}",
                    f"/staff/filing/report.pdf?year={YEAR}"):
            resp = other.get(url)
            assert resp.status_code == 403, (name, url)
            assert "for archivists and filing officers" in resp.get_data(as_text=True)
    anonymous = app.test_client()
    assert anonymous.get("/staff/filing/").status_code in (302, 303, 401)
    assert anonymous.get("/staff/filing/report.xlsx").status_code in (302, 303, 401)


@pytest.mark.parametrize("query", ["year=abc", "year=99999", "year=1800", "year=２０２６",
                                   "year=2026%00", "year=" + "9" * 5000, "year=-1"])
def test_bad_years_are_refused_clearly(app, query):
    staff = signed_in(app, "editor")
    for url in ("/staff/filing/", "/staff/filing/report.xlsx"):
        resp = staff.get(f"{url}?{query}")
        assert 400 <= resp.status_code < 500, (url, query, resp.status_code)
        assert "Year: a year as YYYY" in resp.get_data(as_text=True)


def test_only_get_is_answered(app):
    staff = signed_in(app, "editor")
    for url in ("/staff/filing/", "/staff/filing/report.xlsx", "/staff/filing/report.pdf"):
        resp = staff.post(url, {})
        assert resp.status_code == 405, url
        assert "GET" in resp.headers["Allow"]


def test_an_empty_year_shows_dashes(app):
    staff = signed_in(app, "manager")
    html = staff.get("/staff/filing/?year=1999").get_data(as_text=True)
    totals = rows(html, "filing-units")[""]
    assert counts(totals) == (0, 0, 0, 0, 0) and totals[5:7] == ["—", "—"]
    assert "No task is overdue." in html


def test_downloads_are_the_year_end_report(app):
    staff = signed_in(app, "manager")
    xlsx = staff.get(f"/staff/filing/report.xlsx?year={YEAR}&lang=en")
    assert xlsx.status_code == 200
    assert xlsx.mimetype == ("application/vnd.openxmlformats-officedocument."
                             "spreadsheetml.sheet")
    assert xlsx.headers["Content-Disposition"].startswith(
        'attachment; filename="filing-report-2026-')
    wb = load_workbook(io.BytesIO(xlsx.get_data()))
    assert wb.sheetnames[:3] == ["Summary", "Overdue tasks", "Rectification list"]
    assert sorted(wb.sheetnames[3:]) == ["chem", "energy", "league", "physics"]
    summary = list(wb["Summary"].iter_rows(values_only=True))
    assert next(r for r in summary if r[0] == "energy")[2:7] == ENERGY_TOTAL
    rect = list(wb["Rectification list"].iter_rows(values_only=True))[3:]
    assert sorted(r[3] for r in rect) == sorted(["a3 改", "a4", "c2 改", "e3 改"])
    pdf = staff.get(f"/staff/filing/report.pdf?year={YEAR}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.get_data()[:5] == b"%PDF-"
