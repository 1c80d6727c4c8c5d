"""The receiving desk in the staff workspace (issue 13, item 4): the queue, a submission's
page, accept, return with a note, accept all, the files, the history; archivists only.

The real app behind the staff sign-in guard (CSRF, no-store, strict CSP), the real filing
store beside it (opened as the CLI opens it), the real repository: what a page did is read
back from the stores."""

from __future__ import annotations

import re

import pytest
from filing_review_support import Loop, docx, png
from staff_support import set_password, signed_in

from publisher.app import create_app
from repo.repository import Repository
from services.filing.store import FilingStore

SCRIPT = '<script>alert("x")</script>'
STAFF = ("reader", "contributor", "editor", "reviewer", "manager", "officer", "other")


@pytest.fixture
def desk(site, tmp_path):
    """(app, loop, the submission): two items with files, one of them with script in it."""
    loop = Loop(site, tmp_path)
    sub = loop.submit(
        (loop.fields("2026年学生工作总结"), [loop.file(png(tmp_path / "scan.png")),
                                        loop.file(docx(tmp_path / "大纲.docx"))]),
        ({"title@zh": [SCRIPT], "date": ["2026-03-02"], "note@zh": [SCRIPT]},
         [loop.file(_html(tmp_path / "page.png"))]))
    for name in STAFF:
        set_password(site.repo, name)
    site.close()
    loop.store.close()
    app = create_app(site.home)
    loop.store = FilingStore.open(site.home)
    yield app, loop, sub
    loop.store.close()


def _html(path):
    path.write_bytes(b"<html><script>alert(1)</script></html>")
    return path


def text(resp) -> str:
    return resp.get_data(as_text=True)


def test_the_queue_lists_submissions_with_received_items_and_filters(desk):
    app, _loop, sub = desk
    staff = signed_in(app, "editor")
    page = staff.get("/staff/filing/receiving")
    assert page.status_code == 200 and sub.id in text(page)
    assert "no-store" in page.headers["Cache-Control"]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert sub.id in text(staff.get("/staff/filing/receiving?year=2026&unit=energy"
                                    "&category=XS&state=received&size=25&page=1"))
    assert sub.id not in text(staff.get("/staff/filing/receiving?unit=electrical"))
    assert sub.id not in text(staff.get("/staff/filing/receiving?category=JX"))
    assert sub.id not in text(staff.get("/staff/filing/receiving?state=accepted"))
    for bad in ("year=abc", "year=99999999", "unit=nope", "category=ZZ", "state=lost",
                "size=7", "page=0", f"unit={SCRIPT}"):
        resp = staff.get(f"/staff/filing/receiving?{bad}")
        assert resp.status_code == 422, bad
        assert "<script>" not in text(resp)


def test_an_officer_and_readers_get_403_everywhere(desk):
    app, loop, sub = desk
    item = sub.items[0]
    urls = ["/staff/filing/receiving", f"/staff/filing/receiving/{sub.id}",
            f"/staff/filing/receiving/{sub.id}/items/{item.id}/files/{item.files[0].sha256}"]
    posts = [f"/staff/filing/receiving/{sub.id}/items/{item.id}/accept",
             f"/staff/filing/receiving/{sub.id}/items/{item.id}/return",
             f"/staff/filing/receiving/{sub.id}/accept-all"]
    for name in ("officer", "other", "reader", "contributor"):
        staff = signed_in(app, name)
        for url in urls:
            assert staff.get(url).status_code == 403, (name, url)
        for url in posts:
            assert staff.post(url, {"note": "x"}).status_code == 403, (name, url)
        assert "/staff/filing/receiving" not in text(staff.get("/staff/"))
    assert loop.store.item(item.id).state == "received"
    assert [s.action for s in loop.store.history(sub.id)] == ["submitted"]


def test_the_submission_page_shows_items_escaped_and_serves_files_safely(desk):
    app, _loop, sub = desk
    staff = signed_in(app, "editor")
    page = staff.get(f"/staff/filing/receiving/{sub.id}")
    html = text(page)
    assert page.status_code == 200
    assert "2026年学生工作总结" in html and "scan.png" in html and "大纲.docx" in html
    assert SCRIPT not in html and "&lt;script&gt;" in html
    assert html.count(">Open</a>") == 2  # the .png files; the .docx is a download only
    first, second = sub.items
    scan = staff.get(f"/staff/filing/receiving/{sub.id}/items/{first.id}/files/"
                     f"{first.files[0].sha256}")
    assert scan.status_code == 200 and scan.mimetype == "image/png"
    assert scan.headers["Content-Disposition"].startswith("inline")
    assert scan.data[:8] == b"\x89PNG\r\n\x1a\n"
    doc = staff.get(f"/staff/filing/receiving/{sub.id}/items/{first.id}/files/"
                    f"{first.files[1].sha256}")
    assert doc.headers["Content-Disposition"].startswith("attachment")
    assert doc.mimetype == "application/octet-stream"
    # a "png" that is HTML is never served inline
    fake = staff.get(f"/staff/filing/receiving/{sub.id}/items/{second.id}/files/"
                     f"{second.files[0].sha256}")
    assert fake.headers["Content-Disposition"].startswith("attachment")
    assert fake.mimetype == "application/octet-stream"
    # only the files the item names, only items of the submission
    assert staff.get(f"/staff/filing/receiving/{sub.id}/items/{second.id}/files/"
                     f"{first.files[0].sha256}").status_code == 404
    assert staff.get(f"/staff/filing/receiving/{sub.id}/items/999999/files/"
                     f"{first.files[0].sha256}").status_code == 404
    assert staff.get("/staff/filing/receiving/SUB-2026-AAAAAAAA").status_code == 404
    assert staff.get("/staff/filing/receiving/..%2F..%2Fetc").status_code == 404
    assert staff.get(f"/staff/filing/receiving/{sub.id}/items/{first.id}/files/"
                     "../../x").status_code == 404
    # every route answers only its methods
    assert staff.post(f"/staff/filing/receiving/{sub.id}").status_code == 405
    assert staff.get(f"/staff/filing/receiving/{sub.id}/items/{first.id}/accept"
                     ).status_code == 405


def test_accept_return_and_accept_all_through_the_pages(desk, site):
    app, loop, sub = desk
    first, second = sub.items
    staff = signed_in(app, "editor")
    staff.get(f"/staff/filing/receiving/{sub.id}")
    # without the CSRF token nothing happens
    assert staff.post(f"/staff/filing/receiving/{sub.id}/items/{first.id}/accept",
                      csrf=False).status_code in (400, 403)
    assert loop.store.item(first.id).state == "received"
    resp = staff.post(f"/staff/filing/receiving/{sub.id}/items/{first.id}/accept")
    assert resp.status_code == 303, text(resp)
    done = staff.get(resp.headers["Location"])
    item = loop.store.item(first.id)
    assert item.state == "accepted" and item.refcode == "0421-XS·2026-Y-0001"
    html = text(done)
    assert item.refcode in html
    assert re.search(r'href="/staff/edit/xjtu/students/[^"]+"', html)
    # a return needs a note, bounded; the page says so and nothing changes
    url = f"/staff/filing/receiving/{sub.id}/items/{second.id}/return"
    assert staff.post(url, {"note": "  "}).status_code == 422
    assert staff.post(url, {"note": "x" * 2001}).status_code == 422
    assert loop.store.item(second.id).state == "received"
    # no SMTP server here: the mail fails, the page says so, the return counts
    resp = staff.post(url, {"note": "请补充任课教师 " + SCRIPT})
    assert resp.status_code == 200
    html = text(resp)
    assert "could not be sent" in html and SCRIPT not in html
    assert loop.store.item(second.id).state == "returned"
    # the history: every step, who, what, the note (escaped)
    history = text(staff.get(f"/staff/filing/receiving/{sub.id}"))
    assert "请补充任课教师 &lt;script&gt;" in history
    assert history.count("editor") >= 2
    # accepting what is not received is a conflict; accept all has nothing left
    assert staff.post(f"/staff/filing/receiving/{sub.id}/items/{first.id}/accept"
                      ).status_code == 409
    assert staff.post(url, {"note": "again"}).status_code == 409
    assert "Accept all received items" not in history


def test_accept_all_reports_the_items_it_could_not_accept(desk):
    app, loop, sub = desk
    staff = signed_in(app, "manager")
    staff.get(f"/staff/filing/receiving/{sub.id}")
    resp = staff.post(f"/staff/filing/receiving/{sub.id}/accept-all")
    html = text(resp)
    # the first is accepted; the second's "png" is HTML: the media ingest refuses it
    assert resp.status_code == 200 and "Row 2" in html
    first, second = sub.items
    assert loop.store.item(first.id).state == "accepted"
    assert loop.store.item(second.id).state == "received"
    with Repository.open(loop.site.home) as repo:
        assert repo.reads.at_path(f"/accessions/{sub.id.lower()}") is not None
        assert len([c for c in repo.children(repo.user("admin"), "/xjtu/students")
                    if c.type_name == "item"]) == 1


def test_an_accepted_record_stays_off_the_public_site_until_published(desk):
    app, loop, sub = desk
    first = sub.items[0]
    staff = signed_in(app, "editor")
    staff.get(f"/staff/filing/receiving/{sub.id}")
    assert staff.post(f"/staff/filing/receiving/{sub.id}/items/{first.id}/accept"
                      ).status_code == 303
    item = loop.store.item(first.id)
    public = app.test_client()
    public.environ_base["wsgi.url_scheme"] = "https"
    record_url = item.record.removeprefix("https://archive.example.edu")
    assert public.get(record_url).status_code in (404, 410)
    key = item.record.rsplit("/", 1)[-1]
    for url in ("/search?q=2026年学生工作总结", "/sitemap.xml", "/search?q=教学检查"):
        resp = public.get(url)
        assert resp.status_code < 500, url
        body = text(resp)
        assert key not in body and item.refcode not in body and sub.id not in body, url
    # the test can tell: published and opened through the workflow, the record is public
    with Repository.open(loop.site.home) as repo:
        manager = repo.user("manager")
        for ref in ("/xjtu", "/xjtu/students", item.record):
            if repo.get(manager, ref).access != "open":
                repo.set_access(manager, ref, "open")
            repo.transition(manager, ref, "publish")
    assert public.get(record_url).status_code == 200
    # nor are the receiving desk's files reachable without signing in
    anonymous = public.get(f"/staff/filing/receiving/{sub.id}/items/{first.id}/files/"
                           f"{first.files[0].sha256}")
    assert anonymous.status_code in (302, 401, 403)
