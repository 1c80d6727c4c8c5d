"""Demo requests (issue 12, item 9): a handful of record requests in every state, so that the
staff queue, the statistics, a requester's status page and ``/verify`` have something to show
on the demo archive (``lantai demo`` loads them after the archive).

Every request is made through the :class:`~services.requests.store.RequestStore` and the
certify part, step by step as the real services would (e-mail code checked, routed to a
workroom, assigned, matched, selected, issued, posted, refused, withdrawn), so the demo is
also an end-to-end run of the write path and its history reads like a real one.

The requesters are fictional and their personal values carry ``CANARY-REQ-…`` markers (or
are names and phone numbers found nowhere else in the demo; a phone is digits, as the form
wants): :func:`request_canaries` lists them, and the leak tests look for each on every
public surface and in the request log.

The fulfilled request is the demo graduate 赵思远's (``/agents/zhao-siyuan``) for her
transcript (``/xjtu/xs/transcripts/transcript-2019001``), with a certified copy in English
(for a visa; one copy keeps ``lantai demo`` quick: each costs seconds of font subsetting and
signing); its e-mail is ``canary-req-0004@example.org`` (the status page opens with it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from repo.repository import Repository
from repo.security import User
from services.requests.model import Copy, Personal, Selection
from services.requests.store import RequestStore, now_utc

NOTE = "demo"
TRANSCRIPT = "/xjtu/xs/transcripts/transcript-2019001"
GRADUATE = "/agents/zhao-siyuan"
# the personal fields whose demo values must never reach a public surface
_WATCHED = ("name", "student_number", "id_number", "email", "phone", "address")


@dataclass(frozen=True)
class DemoRequest:
    """One demo request and the state it is brought to."""

    status: str  # the state it ends in
    kind: str
    channel: str
    workroom: str
    personal: Personal
    days_ago: int  # when it was received
    languages: tuple[str, ...] = ("zh",)
    delivery: str = "electronic"
    copies: int = 1
    urgent: bool = False
    years: tuple[int, int] = (2019, 2023)
    assignee: str = ""
    reason: str = ""  # why refused or withdrawn
    person: str = ""  # path of the person matched
    records: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (path, pages) selected
    post: tuple[str, str] = ("", "")  # (carrier, tracking)


def _person(n: int, name: str, **kw: str) -> Personal:
    """A requester whose watched values carry the canary marker ``n``."""
    values = dict(name=name, student_number=f"CANARY-REQ-STU-{n:04d}", id_type="resident_id",
                  id_number=f"CANARY-REQ-ID-{n:04d}", email=f"canary-req-{n:04d}@example.org",
                  phone=f"+86 100-4417-{n:04d}", department="电气工程学院")
    values.update(kw)
    return Personal(**values)


DEMO_REQUESTS: tuple[DemoRequest, ...] = (
    DemoRequest(
        "unverified", "degree", "web", "兴庆", days_ago=0,
        personal=_person(1, "欧阳晴川", purpose="出国留学申请", department="能源与动力工程学院")),
    DemoRequest(
        "submitted", "graduation", "wechat", "雁塔", days_ago=4, urgent=True,
        personal=_person(2, "司马越舟", purpose="入职审核，用人单位急需"),
        languages=("zh", "en")),
    DemoRequest(
        "in_progress", "enrolment", "email", "曲江", days_ago=2, assignee="editor",
        personal=_person(3, "诸葛明远", purpose="Further study (enrolment record)",
                         id_type="passport"), languages=("en",), years=(2009, 2013)),
    DemoRequest(
        "fulfilled", "transcript", "web", "创新港", days_ago=3, assignee="reviewer",
        personal=_person(4, "赵思远", student_number="CANARY-STU-2019001",
                         purpose="签证申请 (visa application)"),
        languages=("en",), person=GRADUATE, records=((TRANSCRIPT, (1,)),)),
    DemoRequest(
        "closed", "degree", "staff", "兴庆", days_ago=20, assignee="editor", delivery="post",
        personal=_person(5, "上官听雨", purpose="职称评审",
                         address="广东省深圳市南山区科技园路1号 CANARY-REQ-ADDR-0005"),
        post=("EMS", "EA100000005CN")),
    DemoRequest(
        "refused", "other", "web", "雁塔", days_ago=9,
        personal=_person(6, "慕容一帆", purpose="查询", other_text="同学的毕业照片"),
        reason="只能申请本人的档案（the record asked for is another person's）"),
    DemoRequest(
        "withdrawn", "transcript", "wechat", "曲江", days_ago=6,
        personal=_person(7, "东方知远", purpose="求职"),
        reason="申请人撤回：已在教务处取得成绩单"),
)


def request_canaries() -> list[str]:
    """The demo requesters' personal values (names, student and identity numbers, e-mail
    addresses, phones, postal addresses) that must never appear on a public surface."""
    found = {getattr(r.personal, f) for r in DEMO_REQUESTS for f in _WATCHED}
    return sorted(v for v in found if v)


def demo_request_ids(store: RequestStore) -> list[str]:
    """The numbers of the demo requests already in ``store`` (found by identity number)."""
    return [n for r in DEMO_REQUESTS for n in store.with_id_number(r.personal.id_number)]


def load_demo_requests(home: Path, repo: Repository, user: User) -> list[str]:
    """Make the demo requests in the site at ``home`` as ``user`` (a Manager, the one who
    loads the demo); return their numbers. Idempotent: if any demo request is there already,
    nothing is done and an empty list is returned."""
    store = RequestStore(Path(home), repo.settings)
    if demo_request_ids(store):
        return []
    return [_make(store, repo, user, spec) for spec in DEMO_REQUESTS]


def _make(store: RequestStore, repo: Repository, user: User, spec: DemoRequest) -> str:
    """Bring one request to its state through the steps a real one takes."""
    staff = user.name
    by_staff = spec.channel in ("email", "staff")  # entered by staff on the requester's behalf
    req = store.create(
        kind=spec.kind, languages=spec.languages, copies=spec.copies, delivery=spec.delivery,
        channel=spec.channel, personal=spec.personal, year_from=spec.years[0],
        year_to=spec.years[1], urgent=spec.urgent, actor=staff if by_staff else "requester",
        verified=by_staff, note=NOTE,
        received=now_utc() - dt.timedelta(days=spec.days_ago, hours=2))
    number = req.id
    if spec.status == "unverified":
        return number
    # the requester typed the code the e-mail gave
    if not by_staff and not store.check_email_code(number, store.new_email_code(number)):
        raise RuntimeError(f"demo request {number}: its own e-mail code was refused")
    store.assign(number, staff, workroom=spec.workroom, note="demo: routed to its workroom")
    if spec.status == "withdrawn":
        store.transition(number, "withdrawn", "requester", spec.reason)
        return number
    if spec.status == "refused":
        store.transition(number, "refused", staff, spec.reason)
        return number
    if spec.status == "submitted":
        return number
    store.assign(number, staff, assignee=spec.assignee or staff)
    store.transition(number, "in_progress", spec.assignee or staff)
    if spec.status == "in_progress":
        return number
    worker = spec.assignee or staff
    if spec.person:
        store.match(number, repo.resolve(spec.person), worker)
    if spec.records:
        store.select(number, [Selection(repo.resolve(path), pages)
                              for path, pages in spec.records], worker)
        for language in spec.languages:
            _issue(store, repo, user, number, language, worker)
    if spec.post[1]:
        store.dispatch(number, spec.post[0], spec.post[1], worker)
    store.transition(number, "fulfilled", worker)
    if spec.status == "closed":
        store.transition(number, "closed", worker, "demo: delivered")
    return number


def _issue(store: RequestStore, repo: Repository, user: User, number: str, language: str,
           worker: str) -> Copy:
    """A certified copy made and signed by the certify part (as staff's "issue" does)."""
    from services.requests.certify import issue_copy

    return issue_copy(store, repo, user, number, language, worker)


__all__ = ["DEMO_REQUESTS", "DemoRequest", "demo_request_ids", "load_demo_requests",
           "request_canaries"]
