"""The request store: personal data sealed, numbers not guessable, codes with limited tries,
links that expire and run out, purge after retention; and the mail it sends (a real SMTP
server)."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from repo.errors import Conflict, Invalid, NotFound
from services.requests import mail
from services.requests.model import Copy, Personal
from services.requests.store import RequestStore, iso, now_utc

ID_NUMBER = "CANARY-ID-610102199901011234"


def _new(store: RequestStore, **kw):
    personal = Personal(name="赵思远", student_number="CANARY-STU-2019001",
                        id_number=ID_NUMBER, email="Zhao@Example.org", purpose="visa")
    args = dict(kind="transcript", languages=("zh", "en"), copies=1, delivery="electronic",
                channel="web", personal=personal, year_from=2019, year_to=2023)
    args.update(kw)
    return store.create(**args)


@pytest.fixture
def store(site):
    site.close()
    return RequestStore.open(site.home)


def test_personal_data_is_sealed_on_disk(store):
    req = _new(store)
    raw = store.path.read_bytes() + b"".join(
        p.read_bytes() for p in store.path.parent.glob("requests.sqlite3*"))
    for value in (ID_NUMBER, "赵思远", "CANARY-STU-2019001", "zhao@example.org", "visa"):
        assert value.encode("utf-8") not in raw, value
    assert store.get(req.id, unseal=True).personal.id_number == ID_NUMBER
    assert store.get(req.id).personal is None  # not unsealed unless asked


def test_the_key_lives_outside_the_site(store, site):
    assert not any(p.suffix == ".key" for p in site.home.rglob("*"))
    assert site.home.with_name(site.home.name + ".key").exists()


def test_numbers_differ_and_unknown_is_not_found(store):
    ids = {_new(store).id for _ in range(20)}
    assert len(ids) == 20 and all(len(i) == len("CD2026-AAAA-BBBB-CCCC-DDDD") for i in ids)
    with pytest.raises(NotFound):
        store.get("CD2026-AAAA-BBBB-CCCC-DDDD")


def test_status_needs_the_email_it_was_made_with(store):
    req = _new(store)
    assert store.for_requester(req.id, " zhao@EXAMPLE.org ").id == req.id
    assert store.for_requester(req.id, "other@example.org") is None
    assert store.for_requester("CD2026-AAAA-BBBB-CCCC-DDDD", "zhao@example.org") is None


def test_email_code_tries_run_out(store):
    req = _new(store)
    code = store.new_email_code(req.id)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        assert not store.check_email_code(req.id, wrong)
    assert not store.check_email_code(req.id, code)  # no tries left: the right code fails
    code = store.new_email_code(req.id)
    assert store.check_email_code(req.id, code)
    assert not store.check_email_code(req.id, code)  # once only
    assert store.get(req.id).status == "submitted"


def test_transitions_are_checked(store):
    req = _new(store, verified=True)
    with pytest.raises(Conflict):
        store.transition(req.id, "closed", "archivist")
    store.transition(req.id, "in_progress", "archivist")
    store.transition(req.id, "refused", "archivist", "not our graduate")
    assert [e.action for e in store.history(req.id)] == ["created", "in_progress", "refused"]



def test_a_request_received_earlier_runs_its_clock_from_then(store):
    received = now_utc() - dt.timedelta(days=3)
    req = _new(store, verified=True, channel="email", urgent=True, received=received)
    assert req.created == iso(received)
    assert req.due == iso(received + dt.timedelta(days=store.settings.requests_urgent_days))
    assert store.history(req.id)[0].at == iso(received)
    overdue, _ = store.query(overdue=True)
    assert [r.id for r in overdue] == [req.id]
    with pytest.raises(Invalid):
        _new(store, received=now_utc() + dt.timedelta(days=1))


def test_requests_found_by_identity_number(store):
    first, second = _new(store), _new(store)
    _new(store, personal=Personal(name="Li", id_number="CANARY-ID-OTHER", email="li@example.org"))
    assert set(store.with_id_number(" " + ID_NUMBER.lower())) == {first.id, second.id}
    assert store.with_id_number("CANARY-ID-NOBODY") == []

def _copy(store, req) -> Copy:
    pdf = b"%PDF-1.7 test"
    import hashlib

    c = Copy(code="V-2222-3333-4444", request_id=req.id, language="zh",
             sha256=hashlib.sha256(pdf).hexdigest(), pages=1, signed_at=iso(now_utc()),
             signer="CN=test", issued_by="archivist")
    store.add_copy(c, pdf)
    return c


def test_links_run_out_and_revocation_ends_them(store):
    req = _new(store, verified=True)
    c = _copy(store, req)
    assert store.copy_pdf(c.code) == b"%PDF-1.7 test"
    token = store.new_link(c.code)
    for _ in range(store.settings.requests_link_uses):
        assert store.use_link(token).code == c.code
    with pytest.raises(NotFound):
        store.use_link(token)
    token = store.new_link(c.code)
    with pytest.raises(NotFound):
        store.use_link(token + "x")  # forged
    store.revoke(c.code, "archivist", "issued to the wrong person")
    with pytest.raises(NotFound):
        store.use_link(token)
    assert store.copy(c.code).revoked


def test_purge_after_retention(store):
    req = _new(store, verified=True)
    c = _copy(store, req)
    store.set_id_image(req.id, b"\xff\xd8 not really")
    store.transition(req.id, "refused", "archivist", "x")
    assert store.purgeable() == []
    later = now_utc() + dt.timedelta(days=store.settings.requests_retention_days + 1)
    assert store.purgeable(later) == [req.id]
    store.purge(req.id)
    after = store.get(req.id, unseal=True)
    assert after.personal is None and after.purged and not after.has_id_image
    assert store.copy(c.code).sha256 == c.sha256  # still verifiable
    with pytest.raises(NotFound):
        store.copy_pdf(c.code)
    assert store.purgeable(later) == []


def test_a_failed_write_leaves_nothing(store, monkeypatch):
    req = _new(store, verified=True)
    before = store.history(req.id)
    with pytest.raises(sqlite3.IntegrityError), store._write() as db:
        store._event(db, req.id, "x", "noted", "")
        db.execute("INSERT INTO copy (code) VALUES (NULL)")
    assert store.history(req.id) == before


def test_mail_reaches_a_real_smtp_server(site, smtp):
    site.close()
    smtp.configure(site.home)
    store = RequestStore.open(site.home)
    mail.send(store.settings, "zhao@example.org", "查档验证码 Verification code",
              "您的验证码 Your code: 123456")
    msg = smtp.wait_for("zhao@example.org")
    assert smtp.code_in(msg) == "123456" and "验证码" in str(msg["Subject"])


def test_mail_without_a_server_says_so(store):
    with pytest.raises(mail.MailError, match="smtp_host"):
        mail.send(store.settings, "a@example.org", "s", "b")


def test_a_page_of_views_is_one_event_each_or_none(store):
    a, b = _new(store), _new(store)
    store.viewed_many([a.id, b.id], "editor", "queue")
    for req in (a, b):
        assert [(e.actor, e.action, e.note) for e in store.history(req.id)][-1] == (
            "editor", "viewed", "queue")
    with pytest.raises(NotFound):  # an unknown number: nothing is recorded for the others
        store.viewed_many([a.id, "CD2026-AAAA-BBBB-CCCC-DDDD"], "editor", "queue")
    assert len(store.history(a.id)) == 2
