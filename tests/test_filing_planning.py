"""The filing plan's pages (``/staff/filing/plans…``, ``/staff/filing/units…``; issue 13,
items 1–2): archivists only (an officer gets 403 everywhere, as do readers and
contributors); units marked from the repository's corporate bodies, their address, officers
appointed by a Manager; a plan made, tasks added and refused with every problem, published
with real e-mail, changed after publication. A real site, the real app behind the staff
sign-in guard, the real filing store read back as the CLI opens it.
"""

from __future__ import annotations

import pytest
from staff_support import set_password, signed_in
from support import AGENTS, SERIES

from publisher.app import create_app
from services.filing import units
from services.filing.store import FilingStore

SCRIPT = '<script>alert("x")</script>'
USERS = ("reader", "contributor", "editor", "reviewer", "manager", "admin", "officer")


@pytest.fixture
def app(site, smtp):
    repo, admin = site.repo, site.admin
    repo.add_user(admin, "officer", roles=[], fullname="Filing officer of energy")
    for code, zh in (("energy", "能源与动力工程学院"), ("ee", "电气工程学院")):
        repo.create(admin, AGENTS, "corporatebody", {"name": {"zh": zh, "en": code}},
                    slug=code)
    repo.create(admin, AGENTS, "corporatebody", {"name": {"zh": "共青团委员会", "en": "Youth"}},
                slug="youth")
    s = FilingStore.open(site.home)
    units.add_unit(repo, s, admin, f"{AGENTS}/energy", "energy", email="energy@units.test")
    units.add_unit(repo, s, admin, f"{AGENTS}/ee", "ee")
    units.appoint(repo, s, admin, "officer", "energy")
    s.close()
    for name in USERS:
        set_password(repo, name)
    smtp.configure(site.home)
    site.close()
    return create_app(site.home)


@pytest.fixture
def store(app, site) -> FilingStore:
    return FilingStore.open(site.home)


def text(resp) -> str:
    return resp.get_data(as_text=True)


def task_form(**kw) -> dict:
    return {"unit": "energy", "category": "XS", "series": SERIES, "retention": "Y",
            "title_zh": "毕业生学籍材料", "title_en": "Graduates' records", "expected": "5",
            "due": "2027-07-31", "topic": "", **kw}


PAGES = ("/staff/filing/plans", "/staff/filing/units", "/staff/filing/plans/2027",
         "/staff/filing/plans/2027/tasks/1")
POSTS = ("/staff/filing/plans", "/staff/filing/plans/2027/tasks", "/staff/filing/units",
         "/staff/filing/plans/2027/publish", "/staff/filing/plans/2027/remind",
         "/staff/filing/units/energy", "/staff/filing/units/energy/officers",
         "/staff/filing/plans/2027/topics", "/staff/filing/plans/2027/notice")


def test_an_officer_and_others_cannot_reach_the_planning_pages(app, store):
    for name in ("officer", "reader", "contributor"):
        staff = signed_in(app, name)
        home = text(staff.get("/staff/"))
        assert "/staff/filing/plans" not in home and "/staff/filing/units" not in home
        for url in PAGES:
            assert staff.get(url).status_code == 403, (name, url)
        for url in POSTS:
            resp = staff.post(url, {"year": "2027", **task_form(), "email": "x@y.z",
                                    "username": name})
            assert resp.status_code == 403, (name, url)
    assert store.tasks(2027) == [] and store.plan(2027) is None
    assert store.unit("energy").email == "energy@units.test"
    assert "/staff/filing/plans" in text(signed_in(app, "editor").get("/staff/"))


def test_units_are_found_marked_and_given_officers(app, store, site):
    editor = signed_in(app, "editor")
    page = editor.get("/staff/filing/units?q=共青团")
    assert page.status_code == 200 and "/agents/youth" in text(page)
    assert "Appoint" not in text(page)  # officers are appointed by Managers
    resp = editor.post("/staff/filing/units", {"agent": "/agents/youth", "code": "youth",
                                               "email": "youth@units.test"})
    assert resp.status_code == 303
    assert store.unit("youth").name_zh == "共青团委员会"
    assert "a filing unit already" in text(editor.get("/staff/filing/units?q=共青团"))
    again = editor.post("/staff/filing/units", {"agent": "/agents/youth", "code": "y2"})
    assert again.status_code == 409 and "already" in text(again)
    person = editor.post("/staff/filing/units", {"agent": "/agents/zhang-san", "code": "zs"})
    assert person.status_code == 422 and "corporate body" in text(person)
    bad = editor.post("/staff/filing/units/ee", {"email": "not an address"})
    assert bad.status_code == 422 and store.unit("ee").email == ""
    assert editor.post("/staff/filing/units/ee", {"email": "ee@units.test"}).status_code == 303
    assert store.unit("ee").email == "ee@units.test"
    assert editor.post("/staff/filing/units/nowhere", {"email": ""}).status_code == 404
    # an Editor cannot appoint (the Repository refuses the grant); a Manager can
    refused = editor.post("/staff/filing/units/ee/officers", {"username": "reader"})
    assert refused.status_code == 403
    manager = signed_in(app, "manager")
    assert "Appoint" in text(manager.get("/staff/filing/units"))
    assert manager.post("/staff/filing/units/ee/officers",
                        {"username": "reader"}).status_code == 303
    row = text(manager.get("/staff/filing/units")).split('id="unit-ee"')[1].split("</tr>")[0]
    assert "reader" in row
    missing = manager.post("/staff/filing/units/ee/officers", {"username": "ghost"})
    assert missing.status_code == 404


def test_a_plan_is_made_edited_published_and_changed(app, store, smtp):
    editor = signed_in(app, "editor")
    # the built-in template names the demo archive's series: not this site's
    refused = editor.post("/staff/filing/plans", {"year": "2027", "source": "template",
                                                  "topics": "1"})
    assert refused.status_code == 422 and "/xjtu/dq: no such container" in text(refused)
    assert store.plan(2027) is None and store.tasks(2027) == []
    # a task into an unplanned year makes the draft
    resp = editor.post("/staff/filing/plans/2027/tasks", task_form())
    assert resp.status_code == 303, text(resp)[-600:]
    assert store.plan(2027).state == "draft"
    page = editor.get("/staff/filing/plans/2027")
    assert "毕业生学籍材料" in text(page) and "0 / 5" in text(page)
    # refused tasks: every problem shown, escaped, nothing stored
    bad = editor.post("/staff/filing/plans/2027/tasks", task_form(
        category="XZ", due="2028-01-01", title_zh=SCRIPT, retention="D5"))
    body = text(bad)
    assert bad.status_code == 422
    assert "holds category XS, not XZ" in body and "is not inside 2027" in body
    assert "retention" in body and SCRIPT not in body and "&lt;script&gt;" in body
    assert len(store.tasks(2027)) == 1
    for field, value in (("expected", "-3"), ("expected", "x" * 9), ("series", "/" * 501)):
        assert editor.post("/staff/filing/plans/2027/tasks",
                           task_form(**{field: value})).status_code == 422
    # a topic and a task under it; a script in a title is stored as text, shown escaped
    assert editor.post("/staff/filing/plans/2027/topics", {
        "key": "excellent-engineers", "name_zh": "卓越工程师计划",
        "name_en": "Excellent Engineers"}).status_code == 303
    assert editor.post("/staff/filing/plans/2027/tasks", task_form(
        unit="ee", topic="2027-excellent-engineers", title_zh=SCRIPT)).status_code == 303
    page = text(editor.get("/staff/filing/plans/2027"))
    assert "卓越工程师计划" in page and SCRIPT not in page and "&lt;script&gt;" in page
    assert editor.post("/staff/filing/plans/2027/notice",
                       {"notice": "请按时归档。"}).status_code == 303
    # publish: notices and a real e-mail to the unit with an address
    published = editor.post("/staff/filing/plans/2027/publish", {})
    assert published.status_code == 200 and "The plan was published." in text(published)
    assert store.plan(2027).state == "published"
    msg = smtp.wait_for(to="energy@units.test")
    assert "请按时归档。" in msg.get_content() and "毕业生学籍材料" in msg.get_content()
    assert [n.kind for n in store.notices("ee", year=2027)] == ["plan"]
    assert editor.post("/staff/filing/plans/2027/publish", {}).status_code == 409
    # a change after publication: recorded, the unit told
    first = store.tasks(2027, unit="energy")[0]
    seen = len(smtp.messages)
    edit = editor.get(f"/staff/filing/plans/2027/tasks/{first.id}")
    assert edit.status_code == 200 and "Note to the unit" in text(edit)
    saved = editor.post(f"/staff/filing/plans/2027/tasks/{first.id}", task_form(
        expected="8", change_note="数量调整"))
    assert saved.status_code == 303
    assert store.task(first.id).expected == 8
    assert "数量调整" in smtp.wait_for(to="energy@units.test", after=seen).get_content()
    page = text(editor.get("/staff/filing/plans/2027"))
    assert "Changes after publication" in page and "task changed" in page
    other = store.tasks(2027, unit="ee")[0]
    assert editor.post(f"/staff/filing/plans/2027/tasks/{other.id}/delete",
                       {"change_note": ""}).status_code == 303
    assert [c.action for c in store.plan_changes(2027)] == [
        "published", "task changed", "task removed"]
    reminded = editor.post("/staff/filing/plans/2027/remind", {})
    assert reminded.status_code == 200 and "Reminders:" in text(reminded)
    zh = signed_in(app, "reviewer", lang="zh")  # the Chinese page renders (category labels)
    for url in ("/staff/filing/plans", "/staff/filing/plans/2027", "/staff/filing/units",
                f"/staff/filing/plans/2027/tasks/{first.id}"):
        page = zh.get(url)
        assert page.status_code == 200 and 'lang="zh-Hans"' in text(page), url
    assert "学生" in text(zh.get("/staff/filing/plans/2027"))  # XS · 学生 in the select


def test_bad_addresses_and_methods_answer_4xx(app, store):
    editor = signed_in(app, "editor")
    assert editor.get("/staff/filing/plans/2027").status_code == 404
    assert editor.get("/staff/filing/plans/99999").status_code == 404
    assert editor.get("/staff/filing/plans/abc").status_code == 404
    assert editor.get("/staff/filing/plans/2027/tasks/99999999999").status_code == 404
    assert editor.get("/staff/filing/plans/2027/publish").status_code == 405
    assert editor.get("/staff/filing/units/energy/officers").status_code == 405
    assert editor.client.delete("/staff/filing/plans").status_code == 405
    # without the CSRF token: refused
    assert editor.post("/staff/filing/plans/2027/tasks", task_form(),
                       csrf=False).status_code in (400, 403)
    assert store.tasks(2027) == []
    year = editor.post("/staff/filing/plans", {"year": "20270", "source": "template"})
    assert year.status_code == 422
    copied = editor.post("/staff/filing/plans", {"year": "2028", "source": "year",
                                                 "from_year": "2027"})
    assert copied.status_code == 404 and "no tasks" in text(copied)
