"""Growth record pages (issue 13, items 7 and 8): the student signs in and lands on their own
record, sees only it (another person's is 404, the same as no person), follows their links
to a read-only view and their scans; staff see anyone's; the strand filter without
JavaScript; no inline script, every value escaped; the signed PDF download."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from growth_support import MARKUP, growth_site
from staff_support import set_password, signed_in
from support import PROJECT, require

from publisher.app import create_app

PERSON_KEY = "zhang-san"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One site for the module (the tests only read it)."""
    site, growth = growth_site(tmp_path_factory.mktemp("growth-pages"))
    for name in ("zs", "ls", "editor", "nobody", "office"):
        set_password(site.repo, name)
    site.close()
    application = create_app(site.home)
    application.growth = growth  # type: ignore[attr-defined]
    return application


def data_block(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="growth-data">(.*?)</script>', html,
                  re.S)
    assert m, html[-2000:]
    return json.loads(m.group(1))


def test_a_student_lands_on_their_own_record_and_sees_only_what_is_theirs(app):
    staff = signed_in(app, "zs")  # follows /staff/ once
    landing = staff.client.get("/staff/")
    assert landing.status_code == 302 and landing.location.endswith("/staff/growth/me")
    page = staff.get("/staff/growth/me")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    text = unescape(html)
    for said in ("Zhang San", "Published a paper", "Gate volunteering", "Party class",
                 "National scholarship", "Freshman orientation", "Acceptance letter of the paper",
                 "Shanghai", "Download as a signed PDF"):
        assert said in text, said
    assert "Disciplinary hearing" not in text and "Party class assessment" not in text
    assert "Li Si" not in text
    # markup in a note and a title is text, never markup
    assert MARKUP not in html and "&lt;script&gt;alert(" in html
    # no inline script: every script has a src or is the JSON data block
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "private, no-store"

    data = data_block(html)
    assert [g["id"] for g in data["groups"]] == ["research", "practice", "party", "honours",
                                                 "other"]
    items = {i["title"]: i for i in data["items"]}
    assert items["Gate volunteering"]["start"] == "2020-02-01"
    assert items["Gate volunteering"]["end"] == "2020-05-01"  # the end of April, exclusive
    assert "end" not in items["Published a paper"]  # one day
    assert items["National scholarship"]["end"] == "2023-01-01"  # the year 2022
    # a student's links lead to the read-only view, and the scan to the workspace thumbnail
    paper = items["Published a paper"]
    assert paper["url"] == "/staff/growth/view/growth-events/paper"
    assert paper["image"] == f"/staff/files/-/derivative/{app.growth.scan_key}/thumb"
    assert '/staff/growth/view/xjtu/students/register-1957/paper-certificate' in html
    assert "/staff/edit/" not in html

    # what the links lead to: the activity, the record (with its 档号) and its scan
    activity = staff.get(paper["url"])
    assert activity.status_code == 200 and "Published a paper" in activity.get_data(as_text=True)
    record = staff.get("/staff/growth/view/xjtu/students/register-1957/paper-certificate")
    body = record.get_data(as_text=True)
    assert record.status_code == 200 and "0421-XS·1957-Y-0001-" in body
    thumb = staff.get(paper["image"])
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert thumb.data[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize("url", [
    "/staff/growth/li-si", "/staff/growth/li-si/pdf", "/staff/growth/nobody-here",
    "/staff/growth/nobody-here/pdf", "/staff/growth/" + "x" * 300,
    "/staff/growth/view/growth-events/li-si-award", "/staff/growth/view/growth-events/hearing",
    "/staff/growth/view/xjtu/students/register-1957/party-file",
    "/staff/growth/view/nothing/here",
])
def test_a_student_gets_404_for_anything_not_theirs(app, url):
    staff = signed_in(app, "zs")
    resp = staff.get(url)
    assert resp.status_code == 404, url
    assert "Li Si" not in resp.get_data(as_text=True)


def test_404_for_another_person_is_the_same_as_for_nobody(app):
    staff = signed_in(app, "zs")
    other = staff.get("/staff/growth/li-si").get_data(as_text=True)
    nobody = staff.get("/staff/growth/nobody-here").get_data(as_text=True)
    assert re.sub(r'content="[^"]+"', "", other) == re.sub(r'content="[^"]+"', "", nobody)
    # and Li Si's scan is not Zhang San's to see (the thumbnail checks can_view again)
    ls = signed_in(app, "ls")
    assert ls.get(f"/staff/files/-/derivative/{app.growth.scan_key}/thumb").status_code == 404
    assert ls.get("/staff/growth/zhang-san").status_code == 404
    assert ls.get("/staff/growth/me").status_code == 200


def test_staff_see_anyones_record_and_link_to_the_edit_pages(app):
    staff = signed_in(app, "editor")
    assert staff.client.get("/staff/").status_code == 200  # staff keep their dashboard
    index = staff.get("/staff/growth/")
    html = index.get_data(as_text=True)
    assert index.status_code == 200
    assert '/staff/growth/zhang-san"' in html and '/staff/growth/li-si"' in html
    assert "Growth records" in html  # the menu entry
    found = staff.get("/staff/growth/?person=/agents/li-si")
    assert found.status_code == 302 and found.location.endswith("/staff/growth/li-si")
    missing = staff.get("/staff/growth/?person=" + MARKUP)
    assert missing.status_code == 404 and MARKUP not in missing.get_data(as_text=True)

    page = staff.get("/staff/growth/zhang-san")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Disciplinary hearing" in html and "Party class assessment" in html
    assert "/staff/edit/growth-events/paper" in html
    assert "restricted" in html  # the evidence's access, for staff
    assert staff.get("/staff/growth/li-si").status_code == 200
    assert staff.get("/staff/growth/me").status_code == 404  # an editor is no person


def test_accounts_with_no_role_and_no_person_have_no_growth_record(app):
    for name in ("nobody", "office"):
        staff = signed_in(app, name)
        for url in ("/staff/growth/", "/staff/growth/me", "/staff/growth/zhang-san",
                    "/staff/growth/me/pdf"):
            assert staff.get(url).status_code == 404, (name, url)
        assert staff.client.get("/staff/").status_code == 200  # not sent to a growth record


def test_the_strand_filter_works_without_javascript(app):
    staff = signed_in(app, "zs")
    html = staff.get("/staff/growth/me?strand=research&strand=honours&strand=<x>").get_data(
        as_text=True)
    sections = dict(re.findall(r'<section class="growth-strand[^"]*" data-strand="(\w+)"'
                               r'[^>]*?( hidden)?>', html))
    assert sections == {"research": "", "practice": " hidden", "party": " hidden",
                        "honours": "", "other": " hidden"}
    assert re.search(r'value="research" checked', html)
    assert not re.search(r'value="party" checked', html)
    data = data_block(html)
    assert set(data["hidden"]) == {"practice", "party", "other"}
    assert "2 shown" in html or "%(n)s" not in html


def test_chinese_labels_from_the_scheme(app):
    staff = signed_in(app, "zs", lang="zh")
    html = staff.get("/staff/growth/me").get_data(as_text=True)
    for label in ("科研学术成果", "校内外实践服务", "党团活动", "荣誉奖励", "张三", "发表论文",
                  "上海", "2020年2月"):
        assert label in html, label
    assert data_block(html)["lang"] == "zh"


def test_routes_answer_only_their_methods(app):
    staff = signed_in(app, "zs")
    for url in ("/staff/growth/me", "/staff/growth/me/pdf", "/staff/growth/zhang-san",
                "/staff/growth/view/growth-events/paper"):
        resp = staff.post(url)
        assert resp.status_code == 405, url
        assert "GET" in resp.headers["Allow"]


def test_the_timeline_library_is_served_by_us(app):
    vendor = PROJECT / "staff" / "static" / "vendor"
    require((vendor / "vis-timeline-graph2d.min.js").is_file(),
            "vis-timeline is not in staff/static/vendor: run scripts/staff-assets.sh")
    staff = signed_in(app, "zs")
    html = staff.get("/staff/growth/me").get_data(as_text=True)
    for src in re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', html):
        assert src.startswith("/staff/"), src  # no CDN
        assert staff.get(src).status_code == 200, src
    assert "vis-timeline-graph2d.min.js" in html and "growth.js" in html


@pytest.mark.slow
def test_the_student_downloads_their_record_as_a_signed_pdf(app):
    from services.requests import signing, validation

    staff = signed_in(app, "zs")
    resp = staff.get("/staff/growth/me/pdf?lang=en")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert "attachment" in resp.headers["Content-Disposition"]
    found = validation.inspect(resp.data, signing.trust_roots(app.config["LANTAI_HOME"]))
    assert found.sound and found.intact and found.trusted and found.unchanged
    editor = signed_in(app, "editor")
    other = editor.get("/staff/growth/li-si/pdf")
    assert other.status_code == 200 and other.data.startswith(b"%PDF-")


def test_a_change_shows_at_once_though_records_are_kept_per_snapshot(tmp_path):
    """The page keeps a finished record for the store's snapshot: a change (an activity
    renamed, a record closed to staff) is on the next page all the same."""
    site, _growth = growth_site(tmp_path)
    set_password(site.repo, "zs")
    site.close()
    app = create_app(site.home)
    staff = signed_in(app, "zs")
    first = staff.get("/staff/growth/me").get_data(as_text=True)
    assert "Gate volunteering" in first and "Volunteer certificate" in first
    assert staff.get("/staff/growth/me").get_data(as_text=True) == first  # kept: the same
    with app.app_context(), app.extensions["lantai.api"].writer() as repo:
        admin = repo.user("admin")
        repo.edit(admin, "/growth-events/volunteer",
                  set={"name": {"zh": "校门志愿服务", "en": "Gate volunteering, renamed"}})
        repo.set_access(admin, "/xjtu/students/register-1957/volunteer-certificate",
                        "restricted")
    after = staff.get("/staff/growth/me").get_data(as_text=True)
    assert "Gate volunteering, renamed" in after
    assert "Volunteer certificate" not in after



def test_a_student_menu_has_no_tree_entries(app):
    """A student reads their own pages: the menu offers no Browse, Search, Review queue or
    Import (pages that would be empty or refused for them); staff keep them."""
    def menu_of(html: str) -> str:
        return " ".join(re.findall(r"<nav[^>]*>.*?</nav>", html, re.S))

    student = signed_in(app, "zs")
    menu = menu_of(student.get("/staff/growth/me").get_data(as_text=True))
    assert "/staff/growth/me" in menu
    for path in ("/staff/browse", "/staff/search", "/staff/review", "/staff/import"):
        assert path not in menu, path
    staff = signed_in(app, "editor")
    menu = menu_of(staff.get("/staff/growth/").get_data(as_text=True))
    assert "/staff/browse" in menu and "/staff/search" in menu
