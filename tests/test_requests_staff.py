"""Request handling in the staff workspace (issue 12, item 3): the queue, a request's page,
every action, entry on a requester's behalf. A real site on disk, the real app behind the
staff sign-in guard, the real request store (SQLite, personal data sealed); what a page did is
read back from the store as the CLI opens it, and every refusal leaves the request as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re

import pytest
from PIL import Image
from staff_support import set_password, signed_in
from support import ITEM, PERSON, Site

from publisher.app import create_app
from services.requests.model import Personal
from services.requests.store import RequestStore, iso, now_utc

USERS = ("reader", "contributor", "editor", "reviewer", "manager", "admin")
SCRIPT = '<script>alert("x")</script>'


def make_app(site: Site):
    repo = site.repo or site.reopen()
    for name in USERS:
        set_password(repo, name)
    site.close()
    return create_app(site.home)


@pytest.fixture
def app(site):
    return make_app(site)


@pytest.fixture
def store(app, site) -> RequestStore:
    """The site's request store, opened as ``lantai requests`` opens it (beside the app's)."""
    return RequestStore.open(site.home)


def new(store: RequestStore, *, name: str = "赵思远", kind: str = "transcript",
        delivery: str = "both", urgent: bool = False, **kw):
    personal = Personal(name=name, student_number="CANARY-STU-2019001", department="电气",
                        id_number="CANARY-ID-610102199901011234", email="zhao@example.org",
                        address="深圳市南山区", purpose="visa")
    return store.create(kind=kind, languages=("zh", "en"), copies=1, delivery=delivery,
                        channel="email", personal=personal, year_from=2019, year_to=2023,
                        urgent=urgent, actor="editor", verified=True, **kw)


def actions(store: RequestStore, number: str) -> list[str]:
    return [e.action for e in store.history(number)]


def text(resp) -> str:
    return resp.get_data(as_text=True)


# ---------------------------------------------------------------------- who
def test_readers_and_contributors_get_403_and_nothing_changes(app, store):
    req = new(store)
    before = store.history(req.id)
    for name in ("reader", "contributor"):
        staff = signed_in(app, name)
        assert "/staff/requests/" not in text(staff.get("/staff/"))  # no menu entry
        assert staff.get("/staff/requests/").status_code == 403
        page = staff.get(f"/staff/requests/{req.id}")
        assert page.status_code == 403 and "赵思远" not in text(page)
        assert staff.get("/staff/requests/new").status_code == 403
        for action, data in (("take", {}), ("refuse", {"reason": "no"}),
                             ("urgent", {"urgent": "1"})):
            assert staff.post(f"/staff/requests/{req.id}/{action}", data).status_code == 403
        assert staff.post("/staff/requests/new", {"channel": "email", "name": "x",
                                                   "kind": "transcript", "languages": "zh",
                                                   "delivery": "electronic"}
                          ).status_code == 403
    assert store.history(req.id) == before
    after = store.get(req.id)
    assert (after.status, after.assignee, after.urgent) == ("submitted", "", False)
    assert store.query(status=None)[1] == 1
    editor = signed_in(app, "editor")
    assert "/staff/requests/" in text(editor.get("/staff/"))


def test_csrf_is_enforced(app, store):
    req = new(store)
    editor = signed_in(app, "editor")
    resp = editor.post(f"/staff/requests/{req.id}/take", {"csrf_token": "forged"})
    assert resp.status_code == 400
    resp = editor.post(f"/staff/requests/{req.id}/take", csrf=False)
    assert resp.status_code == 400
    assert store.get(req.id).assignee == "" and "assigned" not in actions(store, req.id)


# ---------------------------------------------------------------------- the queue
def test_queue_filters_paging_and_the_clock(app, store):
    made = [new(store, name=f"申请人{i:02d}", kind="degree" if i % 3 == 0 else "transcript")
            for i in range(30)]
    urgent = new(store, name="急件", urgent=True)
    refused = new(store, name="已拒绝")
    store.transition(refused.id, "refused", "editor", "not ours")
    old = new(store, name="旧件", received=now_utc() - dt.timedelta(days=10))  # overdue
    store.assign(made[7].id, "editor", workroom="创新港", note="closer to the records")
    store.assign(made[8].id, "editor", assignee="editor")
    editor = signed_in(app, "editor")

    page = text(editor.get("/staff/requests/"))
    assert "32 request(s)" in page  # open ones: the refused one is not in the queue
    rows = page.split("<tbody>")[1].split("</tbody>")[0]
    assert rows.count("<tr") == 25
    # by due time: the overdue one first, then the urgent one
    first = min(rows.index(r.id) for r in made if r.id in rows)  # same due: by number
    assert rows.index(old.id) < rows.index(urgent.id) < first
    assert "overdue by 5d" in rows and "urgent" in rows and "left" in rows
    second = text(editor.get("/staff/requests/?page=2"))
    assert second.split("<tbody>")[1].count("<tr") == 7
    assert "已拒绝" not in page + second

    def shown(query: str) -> set[str]:
        html = text(editor.get("/staff/requests/?" + query))
        body = html.split("<tbody>")[1].split("</tbody>")[0]
        return {r.id for r in [*made, urgent, refused, old] if r.id in body}

    assert shown("kind=degree&size=50") == {r.id for i, r in enumerate(made) if i % 3 == 0}
    assert shown("workroom=创新港") == {made[7].id}
    assert shown("urgency=urgent") == {urgent.id}
    assert shown("overdue=1") == {old.id}
    assert shown("older=7") == {old.id}
    assert shown("mine=1") == {made[8].id}
    assert shown("status=refused") == {refused.id}
    assert len(shown("status=all&size=100")) == 33
    assert len(shown("size=50")) == 32
    # a name shown in the list is a view: one event per request on the page
    assert actions(store, made[0].id).count("viewed") >= 1
    for bad in ("status=nope", "kind=x", "size=7", "page=0", "older=-1", "workroom=x",
                "urgency=maybe", "page=abc"):
        resp = editor.get("/staff/requests/?" + bad)
        assert resp.status_code == 422, bad


# ---------------------------------------------------------------------- the page
def test_every_view_is_in_the_history(app, store):
    req = new(store)
    png = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(png, "PNG")
    store.set_id_image(req.id, png.getvalue())
    editor = signed_in(app, "editor")
    page = editor.get(f"/staff/requests/{req.id}")
    assert page.status_code == 200 and "CANARY-ID-610102199901011234" in text(page)
    assert page.headers["Cache-Control"] == "private, no-store"
    image = editor.get(f"/staff/requests/{req.id}/id-image")
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert image.data == png.getvalue() and "no-store" in image.headers["Cache-Control"]
    editor.get("/staff/requests/")
    views = [(e.actor, e.note) for e in store.history(req.id) if e.action == "viewed"]
    assert views == [("editor", "request page"), ("editor", "identity document"),
                     ("editor", "queue")]
    assert editor.get("/staff/requests/CD2026-AAAA-BBBB-CCCC-DDDD").status_code == 404
    assert editor.get("/staff/requests/" + "X" * 500).status_code == 404


def test_script_in_requester_fields_is_shown_escaped(app, store):
    req = new(store, name=SCRIPT)
    store.update_personal(req.id, Personal(name=SCRIPT, student_number=SCRIPT,
                                           department=SCRIPT, email=SCRIPT, address=SCRIPT,
                                           purpose=SCRIPT, phone=SCRIPT), "editor")
    editor = signed_in(app, "editor")
    for url in (f"/staff/requests/{req.id}", "/staff/requests/"):
        html = text(editor.get(url))
        assert SCRIPT not in html
        assert "&lt;script&gt;alert(" in html
    assert "script-src 'self'" in editor.get("/staff/requests/").headers[
        "Content-Security-Policy"]


# ---------------------------------------------------------------------- actions
def test_every_action_is_checked_and_recorded(app, store, site):
    req = new(store)
    editor = signed_in(app, "editor")
    url = f"/staff/requests/{req.id}"

    def post(action: str, data: dict | None = None, status: int = 303):
        resp = editor.post(f"{url}/{action}", data or {})
        assert resp.status_code == status, (action, text(resp)[-600:])
        return resp

    post("take")
    r = store.get(req.id)
    assert (r.status, r.assignee) == ("in_progress", "editor")
    post("assign", {"assignee": "reviewer"})
    assert store.get(req.id).assignee == "reviewer"
    post("assign", {"assignee": "reader"}, 422)  # a Reader does not handle requests
    post("assign", {"assignee": "nobody-at-all"}, 422)
    post("urgent", {"urgent": "1"})
    assert store.get(req.id).urgent
    post("transfer", {"workroom": "雁塔"}, 422)  # the note is required
    post("transfer", {"workroom": "雁塔", "note": "the records are there"})
    r = store.get(req.id)
    assert (r.workroom, r.assignee, r.status) == ("雁塔", "", "submitted")
    post("take")
    post("match", {"person": PERSON})
    assert store.get(req.id).person.startswith("https://archive.example.edu/id/")
    post("match", {"person": ITEM}, 422)  # not a person
    post("select/add", {"record": ITEM})
    post("select/add", {"record": ITEM}, 422)  # already selected
    post("select/add", {"record": PERSON}, 422)  # not a record
    post("select", {"keep-0": "1", "pages-0": "1-2, 4"})
    assert store.get(req.id).selections[0].pages == (1, 2, 4)
    post("select", {"keep-0": "1", "pages-0": "3-1"}, 422)
    post("dispatch", {"carrier": "EMS"}, 422)  # tracking number required
    post("dispatch", {"carrier": "EMS", "tracking": "EA123456789CN"})
    assert store.dispatches(req.id)[0].tracking == "EA123456789CN"
    post("fulfil")
    post("close")
    assert store.get(req.id).status == "closed"
    assert [a for a in actions(store, req.id) if a != "viewed"] == [
        "created", "assigned", "in_progress", "assigned", "urgent", "transferred", "assigned",
        "submitted", "assigned", "in_progress", "matched", "selected", "selected",
        "dispatched", "fulfilled", "closed"]
    page = text(editor.get(url))
    assert "EA123456789CN" in page and "the records are there" in page

    other = new(store)
    post_other = f"/staff/requests/{other.id}/refuse"
    assert editor.post(post_other, {"reason": " "}).status_code == 422
    assert store.get(other.id).status == "submitted"
    assert editor.post(post_other, {"reason": "not a graduate of ours"}).status_code == 303
    assert store.history(other.id)[-1].note == "not a graduate of ours"


def test_wrong_state_is_a_409_page_and_changes_nothing(app, store):
    req = new(store, delivery="electronic")
    editor = signed_in(app, "editor")
    url = f"/staff/requests/{req.id}"
    # submitted: not yet taken, nothing to fulfil or close, no post to record
    for action, data in (("fulfil", {}), ("close", {}), ("issue", {"language": "zh"}),
                         ("dispatch", {"carrier": "EMS", "tracking": "1"}),
                         ("reopen", {"note": "x"})):
        resp = editor.post(f"{url}/{action}", data)
        assert resp.status_code == 409, action
        assert "Conflict" in text(resp)
    editor.post(f"{url}/take")
    resp = editor.post(f"{url}/fulfil")  # neither a copy nor a dispatch yet
    assert resp.status_code == 409 and "first" in text(resp)
    resp = editor.post(f"{url}/dispatch", {"carrier": "EMS", "tracking": "1"})
    assert resp.status_code == 409  # electronic delivery only
    editor.post(f"{url}/refuse", {"reason": "no such student"})
    before = store.history(req.id)
    for action, data in (("take", {}), ("assign", {"assignee": "editor"}),
                         ("transfer", {"workroom": "雁塔", "note": "x"}),
                         ("urgent", {"urgent": "1"}), ("match", {"person": PERSON}),
                         ("select/add", {"record": ITEM}), ("refuse", {"reason": "again"})):
        assert editor.post(f"{url}/{action}", data).status_code == 409, action
    assert store.history(req.id) == before
    assert store.get(req.id).status == "refused"
    assert editor.get(f"{url}/take").status_code == 405  # actions answer POST only


def test_only_reviewers_and_managers_revoke(app, store):
    from services.requests.model import Copy
    from services.requests.store import new_code

    req = new(store)
    store.transition(req.id, "in_progress", "editor")
    pdf = b"%PDF-1.7\n% a copy as kept by the store\n%%EOF\n"
    copy = Copy(code=new_code(), request_id=req.id, language="zh",
                sha256=hashlib.sha256(pdf).hexdigest(), pages=1, signed_at=iso(now_utc()),
                signer="CN=test", issued_by="editor")
    store.add_copy(copy, pdf)
    url = f"/staff/requests/{req.id}/revoke"
    editor = signed_in(app, "editor")
    assert "Revoke" not in text(editor.get(f"/staff/requests/{req.id}"))
    assert editor.post(url, {"code": copy.code, "reason": "wrong pages"}).status_code == 403
    assert not store.copy(copy.code).revoked
    reviewer = signed_in(app, "reviewer")
    reviewer.get(f"/staff/requests/{req.id}")
    assert reviewer.post(url, {"code": copy.code, "reason": ""}).status_code == 422
    assert reviewer.post(url, {"code": "V-AAAA-BBBB-CCCC", "reason": "x"}).status_code == 404
    assert reviewer.post(url, {"code": copy.code, "reason": "wrong pages"}).status_code == 303
    assert store.copy(copy.code).revoked_reason == "wrong pages"
    assert reviewer.post(url, {"code": copy.code, "reason": "again"}).status_code == 409
    assert "revoked on" in text(reviewer.get(f"/staff/requests/{req.id}"))


# ---------------------------------------------------------------------- finding
def test_find_persons_and_records_as_the_staff_user(app, store):
    req = new(store)
    editor = signed_in(app, "editor")
    editor.get(f"/staff/requests/{req.id}")
    resp = editor.post(f"/staff/requests/{req.id}/find", {"q": "zhang", "years": ""})
    assert resp.status_code == 200
    html = text(resp)
    assert 'id="found-persons"' in html and "zhang-san" in html
    fragment = editor.client.post(f"/staff/requests/{req.id}/find",
                                  data={"q": "zhang", "csrf_token": editor.csrf},
                                  headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in text(fragment)
    assert "This is the requester" in text(fragment)
    assert editor.get(f"/staff/requests/{req.id}/find").status_code == 405


# ---------------------------------------------------------------------- entry
def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 40), "gray").save(out, "PNG")
    return out.getvalue()


def test_a_request_entered_on_a_requesters_behalf_is_verified(app, store):
    editor = signed_in(app, "editor")
    assert editor.get("/staff/requests/new").status_code == 200
    form = {"channel": "wechat", "name": "李若溪", "student_number": "CANARY-STU-2019002",
            "year_from": "2019", "year_to": "2023", "department": "能动",
            "id_type": "passport", "id_number": "CANARY-PASS-E1234", "kind": "degree",
            "languages": ["zh", "en"], "copies": "2", "purpose": "job",
            "delivery": "electronic", "email": "li@example.org", "phone": "138",
            "note": "received on WeChat"}
    resp = editor.post("/staff/requests/new",
                       {**form, "id_image": (io.BytesIO(_png()), "id.png")},
                       content_type="multipart/form-data")
    assert resp.status_code == 303, text(resp)[-500:]
    number = resp.headers["Location"].split("/staff/requests/")[1].split("?")[0]
    req = store.get(number, unseal=True)
    assert (req.status, req.channel, req.email_verified, req.copies) == (
        "submitted", "wechat", True, 2)
    assert req.personal.id_number == "CANARY-PASS-E1234" and req.has_id_image
    assert store.history(number)[0].actor == "editor"
    # refused input: the form again, with the reason, nothing stored
    for change in ({"name": ""}, {"channel": "web"}, {"kind": "x"}, {"year_from": "1200"},
                   {"copies": "99"}, {"name": "x" * 101}, {"languages": []},
                   {"delivery": "post", "address": ""}):
        resp = editor.post("/staff/requests/new", {**form, **change})
        assert resp.status_code == 422, change
        assert 'class="error"' in text(resp)
    not_image = editor.post("/staff/requests/new",
                            {**form, "id_image": (io.BytesIO(b"GIF89a not really"), "x.gif")},
                            content_type="multipart/form-data")
    assert not_image.status_code == 422
    assert store.query(status=None)[1] == 1


# ---------------------------------------------------------------------- issue → revoke
def _scanned(site: Site, tmp_path) -> None:
    """Two page scans on the item (closed: every object of the test site is private)."""
    from iiif.media import ingest_media

    folder = tmp_path / "scans"
    folder.mkdir()
    Image.new("L", (1240, 1754), 235).save(folder / "p01.jpg", quality=85)
    Image.new("RGB", (1600, 1100), (250, 245, 230)).save(folder / "p02.png")
    ingest_media(site.repo, site.admin, ITEM, sorted(folder.iterdir()), ocr=False)


@pytest.mark.slow
def test_issue_a_copy_deliver_it_and_revoke_it(site, smtp, tmp_path):
    """Select the pages (thumbnails shown), issue in Chinese: the certified copy is kept,
    the requester's e-mail (a real SMTP server) brings a link to it, /verify's check finds
    it valid; a Reviewer revokes it: the check says revoked and the link is gone."""
    from services.requests import validation

    _scanned(site, tmp_path)
    smtp.configure(site.home)
    app = make_app(site)
    store = RequestStore.open(site.home)
    req = new(store, delivery="electronic")
    editor = signed_in(app, "editor")
    url = f"/staff/requests/{req.id}"
    assert editor.post(f"{url}/issue", {"language": "zh"}).status_code == 409  # not taken
    editor.post(f"{url}/take")
    assert editor.post(f"{url}/issue", {"language": "zh"}).status_code == 409  # nothing chosen
    editor.post(f"{url}/select/add", {"record": ITEM})
    page = text(editor.get(url))
    assert f"{url}/selection/0/1.jpg" in page and f"{url}/selection/0/2.jpg" in page
    thumb = editor.get(f"{url}/selection/0/2.jpg")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(thumb.data)) as im:
        assert max(im.size) <= 240
    assert editor.get(f"{url}/selection/0/3.jpg").status_code == 404
    assert editor.get(f"{url}/selection/5/1.jpg").status_code == 404
    assert editor.post(f"{url}/select", {"keep-0": "1", "page-0": ["2"]}).status_code == 303
    assert store.get(req.id).selections[0].pages == (2,)
    assert editor.post(f"{url}/issue", {"language": "fr"}).status_code == 422

    resp = editor.post(f"{url}/issue", {"language": "zh"})
    assert resp.status_code == 303 and "done=issued" in resp.headers["Location"]
    assert "e-mailed" in text(editor.get(resp.headers["Location"]))
    [copy] = store.copies_of(req.id)
    assert (copy.language, copy.pages, copy.issued_by) == ("zh", 2, "editor")  # cover + p. 2
    msg = smtp.wait_for(to="zhao@example.org")
    body = smtp.text(msg)
    token = re.search(r"/requests/download/([A-Za-z0-9_-]+)", body).group(1)
    public = app.test_client()
    public.environ_base["wsgi.url_scheme"] = "https"
    download = public.get(f"/requests/download/{token}")
    assert download.status_code == 200 and download.data == store.copy_pdf(copy.code)
    verdict = validation.check_pdf(download.data, site.home)
    assert verdict.valid and verdict.code == copy.code and not verdict.revoked

    assert editor.post(f"{url}/fulfil").status_code == 303
    reviewer = signed_in(app, "reviewer")
    reviewer.get(url)
    resp = reviewer.post(f"{url}/revoke", {"code": copy.code, "reason": "wrong page"})
    assert resp.status_code == 303
    verdict = validation.check_pdf(download.data, site.home)
    assert verdict.revoked and not verdict.valid and verdict.revoked_reason == "wrong page"
    assert public.get(f"/requests/download/{token}").status_code in (404, 410)
    assert [a for a in actions(store, req.id) if a != "viewed"][-5:] == [
        "issued", "mailed", "downloaded", "fulfilled", "revoked"]


@pytest.mark.slow
def test_a_copy_is_kept_when_its_mail_fails(site, tmp_path):
    _scanned(site, tmp_path)
    app = make_app(site)  # no SMTP server configured for this site
    store = RequestStore.open(site.home)
    req = new(store, delivery="electronic")
    editor = signed_in(app, "editor")
    url = f"/staff/requests/{req.id}"
    editor.post(f"{url}/take")
    editor.post(f"{url}/select/add", {"record": ITEM, "pages": "1"})
    resp = editor.post(f"{url}/issue", {"language": "en"})
    assert resp.status_code == 303 and "issued-mail-failed" in resp.headers["Location"]
    assert "could not be sent" in text(editor.get(resp.headers["Location"]))
    [copy] = store.copies_of(req.id)
    assert store.copy_pdf(copy.code).startswith(b"%PDF")
    assert "mail failed" in actions(store, req.id)


def test_a_purged_request_shows_its_open_facts_only(app, store):
    req = new(store)
    store.transition(req.id, "refused", "editor", "not ours")
    store.purge(req.id)
    editor = signed_in(app, "editor")
    page = editor.get(f"/staff/requests/{req.id}")
    assert page.status_code == 200
    html = text(page)
    assert "was purged" in html and "赵思远" not in html and "CANARY" not in html
    assert editor.get(f"/staff/requests/{req.id}/id-image").status_code == 404
    queue = text(editor.get("/staff/requests/?status=refused"))
    assert req.id in queue and "(purged)" in queue
    assert editor.post(f"/staff/requests/{req.id}/take").status_code == 409
