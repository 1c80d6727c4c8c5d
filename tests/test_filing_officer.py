"""The filing officer's workspace (issue 13, items 1 and 3 from the unit's side): an account
holding FilingOfficer on a unit signs in to the staff workspace and lands on its unit's page,
sees the year's tasks with their progress, its notices and submissions, sends items (a form,
a spreadsheet with its files, a BagIt bag) and corrects returned ones; and sees nothing of any
other unit nor of the content tree.

A real site on disk, the real app behind the staff sign-in guard, the real filing store
(SQLite and the receiving area); what a page did is read back from the store as the CLI opens
it, and every refusal is checked to have left the store as it was.
"""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from staff_support import set_password, signed_in
from support import SERIES, Site

from publisher.app import create_app
from services.filing import units
from services.filing.model import FiledFile, Item, Plan, Submission, Task
from services.filing.store import FilingStore

YEAR = 2026
STAFF = ("reader", "editor", "manager", "admin", "nobody")
OFFICERS = ("officer-a", "officer-b")
SCRIPT = '<script>alert("x")</script>'


def text(resp) -> str:
    return resp.get_data(as_text=True)


def build(site: Site) -> None:
    """Two units (the School of Energy, the Youth League committee), an officer each, the
    2026 plan published with two tasks for energy and one for the league."""
    repo = site.repo or site.reopen()
    admin = repo.user("admin")
    for slug, zh, en in (("energy", "能源与动力工程学院", "School of Energy"),
                         ("league", "共青团西安交通大学委员会", "Youth League committee")):
        repo.create(admin, "/agents", "corporatebody", {"name": {"zh": zh, "en": en}},
                    slug=slug, key=slug)
    store = FilingStore.open(site.home)
    units.add_unit(repo, store, admin, "/agents/energy", "energy", email="energy@example.edu")
    units.add_unit(repo, store, admin, "/agents/league", "league")
    for name, code in zip(OFFICERS, ("energy", "league"), strict=True):
        repo.add_user(admin, name, roles=[], fullname=f"Officer of {code}")
        units.appoint(repo, store, admin, name, code)
    for name in (*STAFF, *OFFICERS):
        set_password(repo, name)
    store.save_plan(Plan(YEAR, "published", "2026-01-10T08:00:00Z", "The 2026 plan"))
    store.add_tasks([
        Task(0, YEAR, "energy", "XS", SERIES, "Y", "本学期学生档案", "Student records",
             expected=3, due="2026-01-31"),
        Task(0, YEAR, "energy", "XZ", "/xjtu/admin", "D30", "行政文件", "Administration",
             expected=1, due=""),
        Task(0, YEAR, "league", "XS", SERIES, "Y", "团委荣誉", "League honours", expected=2,
             due="2026-06-30"),
    ])
    store.close()


@pytest.fixture
def app(site):
    build(site)
    site.close()
    return create_app(site.home)


@pytest.fixture
def store(app, site) -> FilingStore:
    """The site's filing store, opened as ``lantai filing`` opens it (beside the app's)."""
    s = FilingStore.open(site.home)
    yield s
    s.close()


def task_id(store: FilingStore, unit: str, category: str = "XS") -> int:
    return next(t.id for t in store.tasks(YEAR, unit=unit) if t.category == category)


def sent(store: FilingStore, unit: str, *titles: str, actor: str = "officer-a",
         files: list[FiledFile] | None = None) -> Submission:
    """A submission stored as intake stores one (the pages only read it)."""
    items = [Item(0, "", n, {"title@zh": [t], "date": ["2026-03-01"]}, files or [])
             for n, t in enumerate(titles, 1)]
    return store.add_submission(Submission(
        "", YEAR, unit, task_id(store, unit), "form", "the form", "", actor, items))


# ---------------------------------------------------------------------- who lands where
def test_an_officer_signs_in_and_lands_on_their_unit(app, store):
    officer = signed_in(app, "officer-a")
    home = officer.client.get("/staff/")
    assert home.status_code == 302 and home.location.endswith("/staff/filing/unit/energy")
    page = officer.get("/staff/filing/unit/energy?year=2026")
    assert page.status_code == 200
    body = text(page)
    assert "能源与动力工程学院" in body or "School of Energy" in body
    assert "Student records" in body and "Administration" in body
    assert "League honours" not in body  # the other unit's task
    # the menu: "Filing" for the officer; not the request queue, which is for Editors up
    assert 'href="/staff/filing/unit/"' in body and 'href="/staff/requests/"' not in body
    # the menu entry itself sends an officer of one unit to it
    assert officer.client.get("/staff/filing/unit/").location.endswith("/filing/unit/energy")


def test_staff_without_a_unit_keep_their_dashboard_and_menu(app):
    for name in ("reader", "nobody"):
        staff = signed_in(app, name)
        page = staff.get("/staff/")
        assert page.status_code == 200 and 'href="/staff/filing/unit/"' not in text(page)
        assert staff.get("/staff/filing/unit/").status_code == 403
        assert staff.get("/staff/filing/unit/energy").status_code == 403
    editor = signed_in(app, "editor")
    page = editor.get("/staff/")
    assert page.status_code == 200 and 'href="/staff/filing/unit/"' in text(page)
    units_page = text(editor.get("/staff/filing/unit/"))
    assert "/staff/filing/unit/energy" in units_page and "/staff/filing/unit/league" in units_page


def test_an_officer_sees_nothing_of_the_tree(app):
    """They hold no view role: browse, search, an object's pages answer 403/404 or nothing,
    never a 500, and never a title of the tree."""
    officer = signed_in(app, "officer-a")
    for url in ("/staff/browse/", "/staff/browse/xjtu", "/staff/browse/xjtu/students",
                "/staff/search?q=名册", "/staff/search?q=register", "/staff/edit/xjtu",
                "/staff/history/xjtu/students", "/staff/files/xjtu/students/register-1957",
                "/staff/review", "/staff/requests/", "/staff/accounts/",
                "/staff/browse/agents/energy", "/staff/filing/receiving",
                "/staff/filing/plans"):
        resp = officer.get(url)
        assert resp.status_code in (200, 302, 403, 404), (url, resp.status_code)
        body = text(resp)
        for title in ("名册第一页", "1957年新生名册", "西安交通大学全宗", "Register of freshmen"):
            assert title not in body, (url, title)


# ---------------------------------------------------------------------- the unit page
def test_the_unit_page_shows_tasks_progress_overdue_and_submissions(app, store):
    sub = sent(store, "energy", "学生名册一", "学生名册二")
    first, second = sub.items
    store.decide(first.id, "accepted", actor="editor", record="https://x/id/item/a",
                 refcode="0421-XS·2026-Y-0001")
    store.decide(second.id, "returned", actor="editor", note="缺少责任者 (teacher's name)")
    officer = signed_in(app, "officer-a")
    body = text(officer.get("/staff/filing/unit/energy?year=2026"))
    row = re.search(rf'<tr class="([^"]*)" data-task="{task_id(store, "energy")}">(.*?)</tr>',
                    body, re.S)
    assert row is not None
    assert "overdue" in row.group(1)  # due 2026-01-31, 1 of 3 accepted
    cells = re.findall(r"<td>(.*?)</td>", row.group(2), re.S)
    assert cells[5].startswith("2") and cells[6].startswith("1") and cells[7].startswith("1 / 3")
    assert sub.id in body and "缺少责任者 (teacher&#39;s name)" in body  # to correct, escaped
    # the other task: nothing expected is late without a due date
    other = re.search(rf'<tr class="([^"]*)" data-task="{task_id(store, "energy", "XZ")}">',
                      body)
    assert other is not None and "overdue" not in other.group(1)
    # a submission's page: items with state, note, 档号; the history
    page = text(officer.get(f"/staff/filing/unit/energy/submissions/{sub.id}"))
    assert "0421-XS·2026-Y-0001" in page and "学生名册二" in page and "returned" in page
    assert "editor" in page  # who returned it, in the history


def test_a_draft_plan_is_not_shown_to_the_unit(app, store):
    store.save_plan(Plan(YEAR, "draft"))
    officer = signed_in(app, "officer-a")
    body = text(officer.get("/staff/filing/unit/energy?year=2026"))
    assert "Student records" not in body and "not published" in body
    assert officer.get(f"/staff/filing/unit/energy/tasks/{task_id(store, 'energy')}"
                       ).status_code == 404
    # an archivist sees the draft's tasks (read only)
    editor = signed_in(app, "editor")
    assert "Student records" in text(editor.get("/staff/filing/unit/energy?year=2026"))


def test_bad_query_values_are_4xx_pages(app):
    officer = signed_in(app, "officer-a")
    for url in ("/staff/filing/unit/energy?year=abc", "/staff/filing/unit/energy?year=99999",
                "/staff/filing/unit/energy?page=0", "/staff/filing/unit/energy?year=1e3",
                "/staff/filing/unit/energy/submissions/%3Cscript%3E",
                "/staff/filing/unit/energy/items/999999",
                "/staff/filing/unit/energy/tasks/999999",
                "/staff/filing/unit/" + "x" * 300, "/staff/filing/unit/%3Cb%3E"):
        resp = officer.get(url)
        assert 400 <= resp.status_code < 500, (url, resp.status_code)
        assert "<b>" not in text(resp) and "<script>" not in text(resp)


# ---------------------------------------------------------------------- notices
def test_notices_are_shown_unread_first_and_marked_read(app, store):
    plan = store.add_notice("energy", YEAR, "plan", "2026年归档计划", "请于1月31日前归档。\n"
                            + SCRIPT, at="2026-01-10T08:00:00Z")
    store.add_notice("energy", YEAR, "reminder", "提醒", "还差两件", at="2026-01-20T08:00:00Z")
    other = store.add_notice("league", YEAR, "plan", "团委的通知", "x", at="2026-01-10T08:00:00Z")
    officer = signed_in(app, "officer-a")
    body = text(officer.get("/staff/filing/unit/energy?year=2026"))
    assert "2026年归档计划" in body and "团委的通知" not in body
    assert SCRIPT not in body and "&lt;script&gt;" in body
    assert "2 unread" in body
    resp = officer.post(f"/staff/filing/unit/energy/notices/{plan.id}/read")
    assert resp.status_code == 302
    assert store.notice(plan.id).read_at and not store.notices("energy")[0].read_at
    assert "1 unread" in text(officer.get("/staff/filing/unit/energy?year=2026"))
    # another unit's notice is not found under this one, and stays unread
    assert officer.post(f"/staff/filing/unit/energy/notices/{other.id}/read").status_code == 404
    assert officer.post(f"/staff/filing/unit/league/notices/{other.id}/read").status_code == 403
    assert not store.notice(other.id).read_at
    officer.get("/staff/filing/unit/energy?year=2026")
    assert officer.post("/staff/filing/unit/energy/notices/read",
                        {"year": "2026"}).status_code == 302
    assert all(n.read_at for n in store.notices("energy"))


# ---------------------------------------------------------------------- scoping
def test_an_officer_cannot_reach_another_unit(app, store, tmp_path):
    f = tmp_path / "b.pdf"
    f.write_bytes(b"%PDF-1.4\n%league\n")
    league_file = store.put_file(f)
    theirs = sent(store, "league", "团委荣誉一", actor="officer-b", files=[league_file])
    returned = theirs.items[0]
    store.decide(returned.id, "returned", actor="editor", note="请补充日期")
    notice = store.add_notice("league", YEAR, "rectification", "整改", "请补充日期")
    league_task = task_id(store, "league")
    officer = signed_in(app, "officer-a")
    officer.get("/staff/filing/unit/energy")
    gets = ["/staff/filing/unit/league", f"/staff/filing/unit/league?year={YEAR}",
            f"/staff/filing/unit/league/submissions/{theirs.id}",
            f"/staff/filing/unit/league/items/{returned.id}",
            f"/staff/filing/unit/league/items/{returned.id}/files/{league_file.sha256}",
            f"/staff/filing/unit/league/tasks/{league_task}",
            "/staff/filing/unit/nosuchunit"]
    for url in gets:
        resp = officer.get(url)
        assert resp.status_code == 403, (url, resp.status_code)
        assert "团委荣誉一" not in text(resp) and "请补充日期" not in text(resp)
    # under their own unit, the other unit's things are not found
    for url in (f"/staff/filing/unit/energy/submissions/{theirs.id}",
                f"/staff/filing/unit/energy/items/{returned.id}",
                f"/staff/filing/unit/energy/items/{returned.id}/files/{league_file.sha256}",
                f"/staff/filing/unit/energy/tasks/{league_task}"):
        resp = officer.get(url)
        assert resp.status_code == 404, (url, resp.status_code)
        assert "团委荣誉一" not in text(resp)
    posts = [f"/staff/filing/unit/league/tasks/{league_task}/item",
             f"/staff/filing/unit/league/tasks/{league_task}/sheet",
             f"/staff/filing/unit/league/tasks/{league_task}/bag",
             f"/staff/filing/unit/league/items/{returned.id}/resubmit",
             f"/staff/filing/unit/league/items/{returned.id}/withdraw",
             f"/staff/filing/unit/league/notices/{notice.id}/read",
             "/staff/filing/unit/league/notices/read",
             f"/staff/filing/unit/energy/tasks/{league_task}/item",
             f"/staff/filing/unit/energy/items/{returned.id}/resubmit",
             f"/staff/filing/unit/energy/items/{returned.id}/withdraw"]
    for url in posts:
        resp = officer.post(url, {"title@zh": "改了", "year": str(YEAR)})
        assert resp.status_code in (403, 404), (url, resp.status_code)
    after = store.item(returned.id)
    assert (after.state, after.fields, after.attempts) == ("returned", returned.fields, 1)
    assert not store.notice(notice.id).read_at
    assert [s.id for s in store.submissions(year=YEAR, unit="league")] == [theirs.id]
    assert store.submissions(year=YEAR, unit="energy") == []


def test_an_archivist_looks_but_does_not_act(app, store):
    sub = sent(store, "league", "团委荣誉一", actor="officer-b")
    store.decide(sub.items[0].id, "returned", actor="editor", note="请补充日期")
    notice = store.add_notice("league", YEAR, "plan", "计划", "x")
    editor = signed_in(app, "editor")
    page = text(editor.get(f"/staff/filing/unit/league?year={YEAR}"))
    assert "League honours" in page and sub.id in page
    assert f"notices/{notice.id}/read" not in page  # no forms for an archivist
    item_page = text(editor.get(f"/staff/filing/unit/league/items/{sub.items[0].id}"))
    assert "请补充日期" in item_page and "/resubmit" not in item_page
    for url in (f"/staff/filing/unit/league/notices/{notice.id}/read",
                f"/staff/filing/unit/league/items/{sub.items[0].id}/withdraw",
                f"/staff/filing/unit/league/items/{sub.items[0].id}/resubmit"):
        assert editor.post(url, {"title@zh": "x"}).status_code == 403, url
    assert not store.notice(notice.id).read_at
    assert store.item(sub.items[0].id).state == "returned"


def test_every_post_needs_the_csrf_token(app, store):
    sub = sent(store, "energy", "学生名册一")
    store.decide(sub.items[0].id, "returned", actor="editor", note="请补充")
    notice = store.add_notice("energy", YEAR, "plan", "计划", "x")
    officer = signed_in(app, "officer-a")
    officer.get("/staff/filing/unit/energy")
    tid = task_id(store, "energy")
    for url in (f"/staff/filing/unit/energy/notices/{notice.id}/read",
                "/staff/filing/unit/energy/notices/read",
                f"/staff/filing/unit/energy/items/{sub.items[0].id}/withdraw",
                f"/staff/filing/unit/energy/items/{sub.items[0].id}/resubmit",
                f"/staff/filing/unit/energy/tasks/{tid}/item",
                f"/staff/filing/unit/energy/tasks/{tid}/sheet",
                f"/staff/filing/unit/energy/tasks/{tid}/bag"):
        resp = officer.post(url, {"title@zh": "x"}, csrf=False)
        assert resp.status_code == 400 and "CSRF" in text(resp), url
    assert not store.notice(notice.id).read_at
    assert store.item(sub.items[0].id).state == "returned"
    assert len(store.submissions(year=YEAR, unit="energy")) == 1


def test_routes_answer_only_their_methods(app, store):
    officer = signed_in(app, "officer-a")
    officer.get("/staff/filing/unit/energy")
    tid = task_id(store, "energy")
    assert officer.client.delete("/staff/filing/unit/energy").status_code == 405
    assert officer.client.get(f"/staff/filing/unit/energy/tasks/{tid}/item").status_code == 405
    assert officer.post("/staff/filing/unit/energy").status_code == 405


def test_withdrawing_a_returned_item(app, store):
    sub = sent(store, "energy", "学生名册一")
    item = sub.items[0]
    store.decide(item.id, "returned", actor="editor", note="请补充")
    officer = signed_in(app, "officer-a")
    page = text(officer.get(f"/staff/filing/unit/energy/items/{item.id}"))
    assert "请补充" in page and "/withdraw" in page
    assert officer.post(f"/staff/filing/unit/energy/items/{item.id}/withdraw"
                        ).status_code == 302
    assert store.item(item.id).state == "withdrawn"
    assert [s.action for s in store.history(sub.id)][-1] == "withdrawn"
    # and not twice
    officer.get(f"/staff/filing/unit/energy/items/{item.id}")
    assert officer.post(f"/staff/filing/unit/energy/items/{item.id}/withdraw"
                        ).status_code == 409


def test_a_file_of_the_units_item_downloads_as_an_attachment(app, store, tmp_path):
    f = tmp_path / "名册.pdf"
    f.write_bytes(b"%PDF-1.4\n<html><script>alert(1)</script>\n")
    filed = store.put_file(f)
    filed.mime = "text/html"  # whatever was recorded, it is never served inline
    sub = sent(store, "energy", "学生名册一", files=[filed])
    officer = signed_in(app, "officer-a")
    resp = officer.get(f"/staff/filing/unit/energy/items/{sub.items[0].id}/files/"
                       f"{filed.sha256}")
    assert resp.status_code == 200 and resp.data == f.read_bytes()
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert officer.get(f"/staff/filing/unit/energy/items/{sub.items[0].id}/files/"
                       + "0" * 64).status_code == 404


# ---------------------------------------------------------------------- rectification
def returned_item(store: FilingStore, tmp_path, note: str = "缺少日期，请补充。"):
    pdf = tmp_path / "名册.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    filed = store.put_file(pdf)
    filed.mime = "application/pdf"
    sub = sent(store, "energy", "学生名册一", files=[filed])
    item = store.decide(sub.items[0].id, "returned", actor="editor", note=note)
    return sub, item, filed


def test_a_returned_item_is_corrected_and_received_again(app, store, tmp_path):
    sub, item, filed = returned_item(store, tmp_path)
    officer = signed_in(app, "officer-a")
    # the unit page lists it with the note; its page has the form, prefilled
    assert "缺少日期，请补充。" in text(officer.get("/staff/filing/unit/energy?year=2026"))
    page = text(officer.get(f"/staff/filing/unit/energy/items/{item.id}"))
    assert 'id="rectification"' in page and "缺少日期，请补充。" in page
    assert re.search(r'name="title@zh" value="学生名册一"', page)
    assert re.search(r'name="date" value="2026-03-01"', page)
    assert f'name="keep" value="{filed.sha256}" checked' in page
    resp = officer.post(f"/staff/filing/unit/energy/items/{item.id}/resubmit", {
        "title@zh": "学生名册一（补充）", "title@en": "Student register one", "date": "2026-03-02",
        "keep": filed.sha256, "note": "补了日期"}, content_type="multipart/form-data")
    assert resp.status_code == 302, text(resp)[-800:]
    again = store.item(item.id)
    assert again.state == "received" and again.attempts == 2 and again.returned_ever
    assert again.fields["title@zh"] == ["学生名册一（补充）"]
    assert again.fields["title@en"] == ["Student register one"]
    assert again.fields["date"] == ["2026-03-02"]
    assert [f.sha256 for f in again.files] == [filed.sha256]
    steps = store.history(sub.id)
    assert (steps[-1].action, steps[-1].actor, steps[-1].note) == ("resubmitted", "officer-a",
                                                                   "补了日期")
    # sent again, it is no longer corrected: the form is gone, a second try is a conflict
    page = text(officer.get(f"/staff/filing/unit/energy/items/{item.id}"))
    assert "/resubmit" not in page and "received" in page
    assert officer.post(f"/staff/filing/unit/energy/items/{item.id}/resubmit",
                        {"title@zh": "x", "date": "2026-03-02"}).status_code == 409


def test_a_correction_replaces_files_and_a_bad_one_changes_nothing(app, store, tmp_path):
    _sub, item, filed = returned_item(store, tmp_path)
    officer = signed_in(app, "officer-a")
    officer.get(f"/staff/filing/unit/energy/items/{item.id}")
    # no title: refused with the message, the item as it was, the new file not kept
    new_pdf = b"%PDF-1.4\n% a corrected scan\ntrailer<<>>\n%%EOF\n"
    resp = officer.post(f"/staff/filing/unit/energy/items/{item.id}/resubmit", {
        "title@zh": "", "date": "2026-03-02", SCRIPT: SCRIPT,
        "files": [(io.BytesIO(new_pdf), "新扫描.pdf")]}, content_type="multipart/form-data")
    assert resp.status_code == 422 and "title" in text(resp)
    assert SCRIPT not in text(resp)
    same = store.item(item.id)
    assert (same.state, same.attempts, same.fields) == ("returned", 1, item.fields)
    new_sha = hashlib.sha256(new_pdf).hexdigest()
    assert not store.file_path(new_sha).exists()
    # the old file unticked, a new one added: the item has the new one only
    resp = officer.post(f"/staff/filing/unit/energy/items/{item.id}/resubmit", {
        "title@zh": "学生名册一", "date": "2026-03-02",
        "files": [(io.BytesIO(new_pdf), "新扫描.pdf")]}, content_type="multipart/form-data")
    assert resp.status_code == 302, text(resp)[-800:]
    again = store.item(item.id)
    assert [(f.name, f.sha256) for f in again.files] == [("新扫描.pdf", new_sha)]
    assert store.open_file(new_sha).read() == new_pdf
    assert not store.file_path(filed.sha256).exists()  # no item names the old one now


def test_a_file_name_that_is_a_path_is_refused(app, store, tmp_path):
    _sub, item, _filed = returned_item(store, tmp_path)
    officer = signed_in(app, "officer-a")
    officer.get(f"/staff/filing/unit/energy/items/{item.id}")
    for name in ("..", ".hidden.pdf", "a\x01b.pdf"):
        resp = officer.post(f"/staff/filing/unit/energy/items/{item.id}/resubmit", {
            "title@zh": "学生名册一", "date": "2026-03-02",
            "files": [(io.BytesIO(b"%PDF-1.4\n"), name)]}, content_type="multipart/form-data")
        assert resp.status_code == 422, (name, resp.status_code)
        assert store.item(item.id).state == "returned"


# ---------------------------------------------------------------------- bounded bodies
def test_bodies_above_the_limits_are_413_and_store_nothing(site):
    import dataclasses

    from repo.config import write_settings

    build(site)
    repo = site.repo or site.reopen()
    write_settings(site.home, dataclasses.replace(repo.settings, filing_upload_max_mb=1))
    site.close()
    app = create_app(site.home)
    store = FilingStore.open(site.home)
    tid = task_id(store, "energy")
    notice = store.add_notice("energy", YEAR, "plan", "计划", "x")
    officer = signed_in(app, "officer-a")
    officer.get("/staff/filing/unit/energy")
    big = bytes(3 << 20)  # 3 MiB, above 1 MB and the megabyte a form's fields may add
    for way, field in (("item", "files"), ("sheet", "sheet"), ("bag", "bag")):
        resp = officer.post(f"/staff/filing/unit/energy/tasks/{tid}/{way}",
                            {"title@zh": "x", field: [(io.BytesIO(big), "big.zip")]},
                            content_type="multipart/form-data")
        assert resp.status_code == 413 and "Nothing was stored" in text(resp), way
    # a plain form is bounded by the workspace's own limit
    resp = officer.post(f"/staff/filing/unit/energy/notices/{notice.id}/read",
                        {"pad": "x" * (2 << 20)})
    assert resp.status_code == 413
    assert store.submissions(year=YEAR) == [] and not store.notice(notice.id).read_at
    assert not any(p.is_file() for p in (site.home / "filing" / "receiving").rglob("*"))
    assert not any((site.home / "tmp" / "filing-incoming").glob("*"))
    store.close()


# ---------------------------------------------------------------------- sending
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def pdf(n: int) -> bytes:
    return PDF + f"% scan {n}\n".encode()


def test_the_officer_sends_one_item_by_the_form_and_sees_it_received(app, store):
    officer = signed_in(app, "officer-a")
    tid = task_id(store, "energy")
    page = text(officer.get(f"/staff/filing/unit/energy/tasks/{tid}"))
    assert 'name="title@zh"' in page and 'name="files"' in page and "multiple" in page
    resp = officer.post(f"/staff/filing/unit/energy/tasks/{tid}/item", {
        "title@zh": "2026年春季学生名册", "title@en": "Students, spring 2026",
        "date": "2026-03-01", "note@zh": "备注：" + SCRIPT, "refcode": "0421-XS·2026-Y-9999",
        "files": [(io.BytesIO(pdf(1)), "名册-第1页.pdf"), (io.BytesIO(pdf(2)), "名册-第2页.pdf")],
    }, content_type="multipart/form-data")
    body = text(resp)
    assert resp.status_code == 200, body[-1500:]
    subs = store.submissions(year=YEAR, unit="energy")
    assert len(subs) == 1 and subs[0].channel == "form" and subs[0].task == tid
    (item,) = subs[0].items
    assert item.state == "received" and item.fields["title@zh"] == ["2026年春季学生名册"]
    assert "refcode" not in item.fields  # the 档号 is the archive's to give, not the form's
    assert sorted(f.name for f in item.files) == ["名册-第1页.pdf", "名册-第2页.pdf"]
    for f in item.files:
        assert store.open_file(f.sha256).read() in (pdf(1), pdf(2))
    assert subs[0].id in body and SCRIPT not in body
    # the unit page: received, counted against the task
    unit_page = text(officer.get("/staff/filing/unit/energy?year=2026"))
    assert subs[0].id in unit_page and "received 1" in unit_page
    assert not any((store.home / "tmp" / "filing-incoming").glob("*"))  # upload folder gone


def test_a_form_item_without_its_date_is_refused_and_nothing_is_kept(app, store):
    officer = signed_in(app, "officer-a")
    tid = task_id(store, "energy")
    officer.get(f"/staff/filing/unit/energy/tasks/{tid}")
    resp = officer.post(f"/staff/filing/unit/energy/tasks/{tid}/item", {
        "title@zh": "没有日期", "files": [(io.BytesIO(pdf(3)), "a.pdf")],
    }, content_type="multipart/form-data")
    assert resp.status_code == 422 and "date" in text(resp)
    assert store.submissions(year=YEAR) == []
    assert not store.file_path(hashlib.sha256(pdf(3)).hexdigest()).exists()


def test_a_spreadsheet_with_a_bad_row_stores_nothing_and_says_which(app, store):
    officer = signed_in(app, "officer-a")
    tid = task_id(store, "energy")
    officer.get(f"/staff/filing/unit/energy/tasks/{tid}")
    sheet = ("题名,日期,文件\n"
             "学生名册一,2026-03-01,一.pdf\n"
             "学生名册二,,二.pdf\n"  # no date
             "学生名册三,2026-03-03,三.pdf\n").encode()
    files = [(io.BytesIO(pdf(n)), f"{w}.pdf") for n, w in ((1, "一"), (2, "二"), (3, "三"))]
    resp = officer.post(f"/staff/filing/unit/energy/tasks/{tid}/sheet", {
        "sheet": [(io.BytesIO(sheet), "名册.csv")], "files": files,
    }, content_type="multipart/form-data")
    body = text(resp)
    assert resp.status_code == 422, body[-1500:]
    assert "Nothing was stored" in body
    rows = dict(re.findall(r'<tr data-row="(\d+)" class="(ok|error)">', body))
    assert rows.get("2") == "error" and "date" in body
    assert store.submissions(year=YEAR) == []
    for n in (1, 2, 3):
        assert not store.file_path(hashlib.sha256(pdf(n)).hexdigest()).exists()
    # corrected, the same spreadsheet goes in whole
    fixed = sheet.replace("学生名册二,,".encode(), "学生名册二,2026-03-02,".encode())
    files = [(io.BytesIO(pdf(n)), f"{w}.pdf") for n, w in ((1, "一"), (2, "二"), (3, "三"))]
    resp = officer.post(f"/staff/filing/unit/energy/tasks/{tid}/sheet", {
        "sheet": [(io.BytesIO(fixed), "名册.csv")], "files": files,
    }, content_type="multipart/form-data")
    assert resp.status_code == 200, text(resp)[-1500:]
    (sub,) = store.submissions(year=YEAR, unit="energy")
    assert sub.channel == "spreadsheet" and [i.row for i in sub.items] == [1, 2, 3]
    assert [i.files[0].name for i in sub.items] == ["一.pdf", "二.pdf", "三.pdf"]


def test_an_xlsx_with_its_files_in_a_zip(app, store):
    import zipfile

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["title@zh", "date", "file"])
    ws.append(["团委证书一", "2026-05-04", "证书一.pdf"])
    ws.append(["团委证书二", "2026-05-05", "证书二.pdf"])
    book = io.BytesIO()
    wb.save(book)
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as z:
        z.writestr("证书一.pdf", pdf(11))
        z.writestr("证书二.pdf", pdf(12))
    officer = signed_in(app, "officer-b")
    tid = task_id(store, "league")
    officer.get(f"/staff/filing/unit/league/tasks/{tid}")
    resp = officer.post(f"/staff/filing/unit/league/tasks/{tid}/sheet", {
        "sheet": [(io.BytesIO(book.getvalue()), "证书.xlsx")],
        "files": [(io.BytesIO(bundle.getvalue()), "证书.zip")],
    }, content_type="multipart/form-data")
    assert resp.status_code == 200, text(resp)[-1500:]
    (sub,) = store.submissions(year=YEAR, unit="league")
    assert [i.fields["title@zh"] for i in sub.items] == [["团委证书一"], ["团委证书二"]]
    assert store.open_file(sub.items[1].files[0].sha256).read() == pdf(12)


def make_bag(tmp_path, *, spoil: bool = False) -> bytes:
    import zipfile

    import bagit

    folder = tmp_path / "bag"
    folder.mkdir(parents=True)
    (folder / "items.csv").write_text("题名,日期,文件\n行政文件一,2026-04-01,一.pdf\n",
                                      encoding="utf-8")
    (folder / "一.pdf").write_bytes(pdf(21))
    bagit.make_bag(str(folder), checksums=["sha256"])
    if spoil:
        (folder / "data" / "一.pdf").write_bytes(pdf(22))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, "bag/" + p.relative_to(folder).as_posix())
    return out.getvalue()


def test_a_bag_is_received_and_a_spoilt_one_refused(app, store, tmp_path):
    officer = signed_in(app, "officer-a")
    tid = task_id(store, "energy", "XZ")
    officer.get(f"/staff/filing/unit/energy/tasks/{tid}")
    spoilt = make_bag(tmp_path / "spoilt", spoil=True)
    resp = officer.post(f"/staff/filing/unit/energy/tasks/{tid}/bag", {
        "bag": [(io.BytesIO(spoilt), "bag.zip")]}, content_type="multipart/form-data")
    assert resp.status_code == 422 and 'id="problems"' in text(resp), text(resp)[-1500:]
    assert store.submissions(year=YEAR) == []
    good = make_bag(tmp_path / "good")
    resp = officer.post(f"/staff/filing/unit/energy/tasks/{tid}/bag", {
        "bag": [(io.BytesIO(good), "bag.zip")]}, content_type="multipart/form-data")
    assert resp.status_code == 200, text(resp)[-1500:]
    (sub,) = store.submissions(year=YEAR, unit="energy")
    assert sub.channel == "bag" and sub.items[0].fields["title@zh"] == ["行政文件一"]
    # not a ZIP at all
    resp = officer.post(f"/staff/filing/unit/energy/tasks/{tid}/bag", {
        "bag": [(io.BytesIO(b"PK"), "bag.tar")]}, content_type="multipart/form-data")
    assert resp.status_code == 422


def test_nothing_is_sent_to_a_closed_year(app, store):
    store.save_plan(Plan(YEAR, "closed", "2026-01-10T08:00:00Z"))
    officer = signed_in(app, "officer-a")
    tid = task_id(store, "energy")
    page = officer.get(f"/staff/filing/unit/energy/tasks/{tid}")
    assert page.status_code == 200 and "closed" in text(page)
    resp = officer.post(f"/staff/filing/unit/energy/tasks/{tid}/item", {
        "title@zh": "x", "date": "2026-03-01"}, content_type="multipart/form-data")
    assert resp.status_code == 409 and store.submissions(year=YEAR) == []
