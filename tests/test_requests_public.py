"""The public side of 查档 (issue 12, items 1 and 6, "Bad input and safety"): the request form,
the e-mail code, the status page, the download and the delivery e-mail — through the Flask
test client, with a real SMTP server (aiosmtpd) receiving what a requester would read."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import re
import struct
import time
import zlib
from dataclasses import replace

import pytest
from fpdf import FPDF
from PIL import Image

import services.requests as package
from publisher.app import create_app
from repo.config import read_settings, write_settings
from services.requests import delivery, mail
from services.requests.model import Copy
from services.requests.store import RequestStore, new_code

NAME = "CANARY-NAME 赵思远"
STUDENT = "CANARY-STU-2009001"
ID_NUMBER = "CANARY-ID-610102198701011234"
EMAIL = "canary.zhao@example.org"
PHONE = "+86 755 1234 5678"
ADDRESS = "CANARY-ADDR 深圳市南山区科技园 1 号"
PURPOSE = "CANARY-PURPOSE visa for study abroad"
PERSONAL_VALUES = (NAME, STUDENT, ID_NUMBER, EMAIL, ADDRESS, PURPOSE, "CANARY")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_URLS = re.compile(r'(?:href|action)="([^"]*)"')


class Requester:
    """A phone's browser: keeps its cookies, sends the last page's CSRF token with a form,
    and remembers every URL it was shown or asked for (to check none carries personal data)."""

    def __init__(self, app, lang: str = "en") -> None:
        self.client = app.test_client()
        self.client.environ_base["wsgi.url_scheme"] = "https"  # the test site is https
        self.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
        self.csrf = ""
        self.urls: list[str] = []

    def _seen(self, url: str, resp):
        self.urls.append(url)
        if resp.headers.get("Location"):
            self.urls.append(resp.headers["Location"])
        if resp.mimetype == "text/html":
            text = resp.get_data(as_text=True)
            self.urls += _URLS.findall(text)
            m = _CSRF.search(text)
            if m:
                self.csrf = m.group(1)
        return resp

    def get(self, url: str, **kw):
        return self._seen(url, self.client.get(url, **kw))

    def post(self, url: str, data: dict | None = None, *, csrf: bool = True, **kw):
        data = dict(data or {})
        if csrf and "csrf_token" not in data:
            data["csrf_token"] = self.csrf
        return self._seen(url, self.client.post(url, data=data, **kw))


def form(**over) -> dict:
    values = {"name": NAME, "student_number": STUDENT, "year_from": "2005", "year_to": "2009",
              "department": "School of Energy", "id_type": "resident_id",
              "id_number": ID_NUMBER, "kind": "transcript", "languages": ["zh", "en"],
              "copies": "2", "purpose": PURPOSE, "delivery": "both", "address": ADDRESS,
              "email": EMAIL, "phone": PHONE}
    values.update(over)
    return values


def png(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    im = Image.new("RGB", (width, height), (200, 30, 30))
    im.save(out, "PNG", pnginfo=_info("Comment", "CANARY-METADATA"))
    return out.getvalue()


def _info(key: str, value: str):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(key, value)
    return info


def bomb() -> bytes:
    """A PNG whose header claims 100,000 × 100,000 pixels (a few dozen bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))


def a_pdf(text: str = "certified copy") -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=text)
    return bytes(pdf.output())


@pytest.fixture
def app(site, smtp):
    smtp.configure(site.home)
    site.close()
    return create_app(site.home)


@pytest.fixture
def store(app) -> RequestStore:
    return package.store(app)


def submit(requester: Requester, **over):
    requester.get("/requests/")
    data = form(**over)
    data.setdefault("id_image", (io.BytesIO(png()), "id.png"))
    return requester.post("/requests/", data, content_type="multipart/form-data")


def made(store: RequestStore) -> list[str]:
    found, _total = store.query(limit=100)
    return [r.id for r in found]


def issue(store: RequestStore, request_id: str, text: str = "certified copy") -> Copy:
    """A copy as the certify part keeps it (the PDF here is plain: this file tests delivery)."""
    pdf = a_pdf(text)
    copy = Copy(code=new_code(), request_id=request_id, language="zh",
                sha256=hashlib.sha256(pdf).hexdigest(), pages=1, signed_at="2026-12-07T10:00:00Z",
                signer="CN=test", issued_by="editor")
    store.add_copy(copy, pdf)
    return copy


def verified_request(app, smtp, store, email: str = EMAIL) -> tuple[Requester, str]:
    requester = Requester(app)
    before = len(smtp.messages)
    assert submit(requester, email=email).status_code == 200
    code = smtp.code_in(smtp.wait_for(to=email, after=before))
    done = requester.post("/requests/verify-email", {"code": code})
    assert done.status_code == 200, done.get_data(as_text=True)
    number = re.search(r"CD\d{4}(?:-[0-9A-Z]{4}){4}", done.get_data(as_text=True))
    assert number
    return requester, number.group(0)


def open_status(app, smtp, number: str, email: str = EMAIL) -> Requester:
    requester = Requester(app)
    requester.get("/requests/status")
    before = len(smtp.messages)
    page = requester.post("/requests/status", {"step": "lookup", "number": number,
                                               "email": email})
    assert page.status_code == 200
    code = smtp.code_in(smtp.wait_for(to=email, after=before))
    opened = requester.post("/requests/status", {"step": "code", "number": number,
                                                 "email": email, "code": code})
    assert opened.status_code == 303 and opened.headers["Location"].endswith("/requests/status")
    return requester


# ---------------------------------------------------------------------- the whole flow
def test_the_whole_requester_flow(app, smtp, store, site):
    requester = Requester(app)
    page = requester.get("/requests/")
    assert page.status_code == 200 and "Request your records" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src" not in csp and "default-src 'none'" \
        in csp and "<script" not in page.get_data(as_text=True)
    asked = submit(requester)
    text = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "six-digit code" in text
    (request_id,) = made(store)
    req = store.get(request_id, unseal=True)
    assert (req.status, req.channel, req.kind, req.languages, req.copies, req.delivery) == (
        "unverified", "web", "transcript", ("zh", "en"), 2, "both")
    assert req.personal.id_number == ID_NUMBER and req.personal.address == ADDRESS
    assert request_id not in text  # the number is shown only once the e-mail is confirmed
    # the identity image: stored sealed, re-encoded without its metadata
    kept = store.id_image(request_id)
    assert Image.open(io.BytesIO(kept)).size == (64, 48) and b"CANARY-METADATA" not in kept

    code = smtp.code_in(smtp.wait_for(to=EMAIL))
    wrong = "000000" if code != "000000" else "111111"
    again = requester.post("/requests/verify-email", {"code": wrong})
    assert again.status_code == 422 and "4 tries left" in again.get_data(as_text=True)
    before = len(smtp.messages)
    done = requester.post("/requests/verify-email", {"code": code})
    assert done.status_code == 200 and request_id in done.get_data(as_text=True)
    assert store.get(request_id).status == "submitted"
    numbered = smtp.wait_for(to=EMAIL, after=before)
    assert request_id in smtp.text(numbered) and request_id in numbered["Subject"]

    # the archive issues a copy; delivery e-mails the link
    copy = issue(store, request_id)
    settings = read_settings(site.home)
    before = len(smtp.messages)
    delivery.deliver(store, settings, request_id, copy, "https://archive.example.edu")
    mailed = smtp.wait_for(to=EMAIL, after=before)
    body = smtp.text(mailed)
    assert "certified copy" in mailed["Subject"] and request_id in mailed["Subject"]
    assert copy.code in body and NAME in body
    link = re.search(r"https://archive\.example\.edu(/requests/download/[\w-]+)", body)
    assert link
    assert [e.action for e in store.history(request_id)][-1] == "mailed"
    got = requester.get(link.group(1))
    assert got.status_code == 200 and got.mimetype == "application/pdf"
    assert got.data == store.copy_pdf(copy.code)
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert got.headers["Cache-Control"] == "no-store"

    # the status page: number + e-mail → code → state, steps, the copy to download
    status = open_status(app, smtp, request_id)
    page = status.get("/requests/status")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and request_id in text
    assert "Submitted, waiting for the archive" in text and "Certified copy issued" in text
    assert copy.code in text and "editor" not in text  # steps, not staff names
    fresh = status.post("/requests/status/download", {"code": copy.code})
    assert fresh.status_code == 303 and "/requests/download/" in fresh.headers["Location"]
    again = status.get(fresh.headers["Location"].removeprefix("https://archive.example.edu"))
    assert again.status_code == 200 and again.data == got.data
    # the status cookie is bound to the request: HttpOnly, SameSite=Strict, Secure
    cookie = next(c for c in status.client._cookies.values()
                  if c.key == "lantai_rq_status")
    assert cookie.http_only and cookie.same_site == "Strict" and cookie.secure
    closed = status.post("/requests/status/close")
    assert closed.status_code == 303
    assert "Request number" in status.get("/requests/status").get_data(as_text=True)
    assert status.post("/requests/status/download", {"code": copy.code}).status_code == 403


def test_pages_are_in_chinese_too(app):
    page = Requester(app, lang="zh").get("/requests/")
    assert page.status_code == 200 and 'lang="zh-Hans"' in page.get_data(as_text=True)
    home = Requester(app).get("/")
    assert 'href="/requests/"' in home.get_data(as_text=True)  # linked from the site nav


# ---------------------------------------------------------------------- e-mail code
def test_wrong_codes_run_out_and_a_new_code_can_be_asked_for(app, smtp, store):
    requester = Requester(app)
    submit(requester)
    code = smtp.code_in(smtp.wait_for(to=EMAIL))
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        page = requester.post("/requests/verify-email", {"code": wrong})
        assert page.status_code == 422 and f"{left} tries left" in page.get_data(as_text=True)
    page = requester.post("/requests/verify-email", {"code": wrong})
    assert "can no longer be used" in page.get_data(as_text=True)
    page = requester.post("/requests/verify-email", {"code": code})  # right, but too late
    assert page.status_code == 422 and "can no longer be used" in page.get_data(as_text=True)
    (request_id,) = made(store)
    assert store.get(request_id).status == "unverified"

    before = len(smtp.messages)
    resent = requester.post("/requests/send-again")
    assert resent.status_code == 303
    page = requester.get(resent.headers["Location"])
    assert "A new code was sent" in page.get_data(as_text=True)
    smtp.wait_for(to=EMAIL, after=before)
    assert requester.post("/requests/send-again").status_code == 303  # the third code
    assert requester.post("/requests/send-again").status_code == 429  # per request: 3/hour
    latest = smtp.code_in(smtp.wait_for(to=EMAIL, after=before + 1))
    assert requester.post("/requests/verify-email", {"code": latest}).status_code == 200
    assert store.get(request_id).status == "submitted"


def test_codes_to_one_address_are_limited_across_requests(app, smtp, store):
    first = Requester(app)
    submit(first)
    for _ in range(4):
        submit(Requester(app))
    before = len(smtp.messages)
    assert first.post("/requests/send-again").status_code == 429  # 5 codes to this address
    sixth = submit(Requester(app))
    assert sixth.status_code == 429 and "wait an hour" in sixth.get_data(as_text=True)
    assert len(smtp.messages) == before and len(made(store)) == 5


def test_the_code_step_expires_without_its_cookie(app, smtp):
    stranger = Requester(app)
    stranger.get("/requests/")
    page = stranger.post("/requests/verify-email", {"code": "123456"})
    assert page.status_code == 400 and "expired" in page.get_data(as_text=True)


# ---------------------------------------------------------------------- bad input
def test_fields_are_checked_and_kept(app, store):
    requester = Requester(app)
    page = submit(requester, name="", email="not-an-address", year_from="1800",
                  languages=[], copies="99", delivery="post", address="", kind="other",
                  other_text="", id_image=(io.BytesIO(b""), ""))
    text = page.get_data(as_text=True)
    assert page.status_code == 422
    for message in ("Required.", "An e-mail address such as", "A year between",
                    "Choose Chinese, English or both.", "A number from 1 to 20.",
                    "A postal address is needed", "Say which record"):
        assert message in text, message
    assert f'value="{ID_NUMBER}"' in text and "not-an-address" in text  # values kept
    too_long = submit(requester, purpose="x" * 501, name="n" * 101)
    assert too_long.status_code == 422 and "At most 500 characters." in too_long.get_data(
        as_text=True)
    assert made(store) == []


@pytest.mark.parametrize("upload, why", [
    (b"%PDF-1.4 not an image", "not a JPEG, PNG or WebP"),
    (b"GIF89a" + b"\x00" * 100, "not a JPEG, PNG or WebP"),
    (bomb(), "too"),
])
def test_uploads_that_are_not_images_are_refused(app, store, upload, why):
    page = submit(Requester(app), id_image=(io.BytesIO(upload), "id.png"))
    assert 400 <= page.status_code < 500 and why in page.get_data(as_text=True)
    assert made(store) == []


def test_an_oversize_body_is_refused_before_it_is_read(site, smtp):
    smtp.configure(site.home)
    settings = read_settings(site.home)
    write_settings(site.home, replace(settings, requests_upload_max_mb=1))
    site.close()
    app = create_app(site.home)
    requester = Requester(app)
    big = png() + b"\x00" * (2 * 1024 * 1024)
    page = submit(requester, id_image=(io.BytesIO(big), "id.png"))
    assert page.status_code == 413 and "at most 1 MB" in page.get_data(as_text=True)
    # a plain form bigger than any honest one, on a page that takes no file
    page = requester.post("/requests/status", {"step": "lookup", "number": "x" * 100_000,
                                               "email": EMAIL})
    assert page.status_code == 413


def test_script_in_every_field_is_shown_escaped(app, smtp, store):
    script = "<script>alert(1)</script>"
    fields = ("name", "student_number", "department", "id_number", "other_text", "purpose",
              "address", "phone", "year_from", "year_to", "copies", "email")
    requester = Requester(app)
    page = submit(requester, kind="other", **{f: script for f in fields})
    text = page.get_data(as_text=True)
    assert page.status_code == 422 and "<script>alert" not in text
    assert text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 8
    # what the status page echoes back (the number typed) is escaped too
    lookup = Requester(app)
    lookup.get("/requests/status")
    page = lookup.post("/requests/status", {"step": "lookup", "number": script,
                                            "email": EMAIL})
    assert "<script>alert" not in page.get_data(as_text=True)


def test_forms_need_their_csrf_token_and_routes_their_methods(app):
    requester = Requester(app)
    requester.get("/requests/")
    assert requester.post("/requests/", form(), csrf=False).status_code == 400
    assert requester.post("/requests/", {**form(), "csrf_token": "forged"}).status_code == 400
    other = Requester(app)  # another browser's token does not fit my cookie
    other.get("/requests/")
    assert requester.post("/requests/status", {"csrf_token": other.csrf, "step": "lookup",
                                               "number": "x", "email": EMAIL}).status_code \
        == 400
    assert requester.client.put("/requests/").status_code == 405
    assert requester.client.delete("/requests/status").status_code == 405
    assert requester.client.get("/requests/send-again").status_code == 405
    assert requester.client.post("/requests/download/abc").status_code == 405


# ---------------------------------------------------------------------- another's request
def test_another_requesters_number_with_my_email_shows_nothing(app, smtp, store):
    _me, mine = verified_request(app, smtp, store)
    _they, theirs = verified_request(app, smtp, store, email="someone.else@example.net")
    unknown = "CD2026-AAAA-BBBB-CCCC-DDDD"

    def lookup(number: str) -> str:
        requester = Requester(app)
        requester.get("/requests/status")
        page = requester.post("/requests/status", {"step": "lookup", "number": number,
                                                   "email": EMAIL})
        assert page.status_code == 200
        return re.sub(r'name="csrf_token" value="[^"]+"|value="CD[^"]*"', "",
                      page.get_data(as_text=True))

    before = len(smtp.messages)
    assert lookup(theirs) == lookup(unknown)  # the same answer, word for word
    assert len(smtp.messages) == before  # and no code sent to anyone
    # my own code, tried with their number, opens nothing
    requester = Requester(app)
    requester.get("/requests/status")
    requester.post("/requests/status", {"step": "lookup", "number": mine, "email": EMAIL})
    code = smtp.code_in(smtp.wait_for(to=EMAIL, after=before))
    time.sleep(0.5)  # codes go out in a thread: any other would have arrived by now
    assert len(smtp.messages) == before + 1  # mine only
    page = requester.post("/requests/status", {"step": "code", "number": theirs,
                                               "email": EMAIL, "code": code})
    assert page.status_code == 422 and theirs not in page.get_data(as_text=True).replace(
        f'value="{theirs}"', "")
    assert "lantai_rq_status" not in {c.key for c in requester.client._cookies.values()}


def test_a_status_copy_of_another_request_is_refused(app, smtp, store):
    _me, mine = verified_request(app, smtp, store)
    _they, theirs = verified_request(app, smtp, store, email="someone.else@example.net")
    their_copy = issue(store, theirs)
    status = open_status(app, smtp, mine)
    page = status.post("/requests/status/download", {"code": their_copy.code})
    assert page.status_code == 404


def test_status_failures_are_throttled_per_address(app, smtp):
    requester = Requester(app)
    requester.get("/requests/status")
    for _ in range(10):
        page = requester.post("/requests/status", {"step": "code",
                                                   "number": "CD2026-AAAA-BBBB-CCCC-DDDD",
                                                   "email": EMAIL, "code": "123456"})
        assert page.status_code == 422
    page = requester.post("/requests/status", {"step": "lookup", "number": "x",
                                               "email": EMAIL})
    assert page.status_code == 429 and "wait" in page.get_data(as_text=True)
    assert page.headers["Retry-After"]


# ---------------------------------------------------------------------- download links
def test_forged_replayed_and_revoked_download_links_are_gone(app, smtp, store, site):
    _requester, number = verified_request(app, smtp, store)
    copy = issue(store, number)
    client = Requester(app)
    for forged in ("x", "A" * 43, "A" * 5000, store.new_link(copy.code)[:-1] + "z"):
        page = client.get(f"/requests/download/{forged}")
        assert page.status_code == 410 and "Open your request" in page.get_data(as_text=True)
    token = store.new_link(copy.code)
    uses = read_settings(site.home).requests_link_uses
    for _ in range(uses):
        assert client.get(f"/requests/download/{token}").status_code == 200
    assert client.get(f"/requests/download/{token}").status_code == 410  # replayed
    token = store.new_link(copy.code)
    store.revoke(copy.code, "editor", "issued to the wrong person")
    assert client.get(f"/requests/download/{token}").status_code == 410


def test_a_failed_delivery_is_recorded_and_raised(app, smtp, store, site):
    _requester, number = verified_request(app, smtp, store)
    copy = issue(store, number)
    settings = replace(read_settings(site.home), smtp_port=1)  # nobody listens there
    with pytest.raises(mail.MailError):
        delivery.deliver(store, settings, number, copy, "https://archive.example.edu")
    assert store.history(number)[-1].action == "mail failed"


# ---------------------------------------------------------------------- nothing leaks
def test_no_personal_data_in_the_request_log_or_any_url(site, smtp):
    smtp.configure(site.home)
    site.close()
    app = create_app(site.home, REQUEST_LOG=True)
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    logging.getLogger("lantai.requests").addHandler(handler)
    try:
        store = package.store(app)
        requester, number = verified_request(app, smtp, store)
        copy = issue(store, number)
        delivery.deliver(store, read_settings(site.home), number, copy,
                         "https://archive.example.edu")
        link = re.search(r"/requests/download/[\w-]+", smtp.text(smtp.messages[-1]))
        assert link and requester.get(link.group(0)).status_code == 200
        status = open_status(app, smtp, number)
        status.get("/requests/status")
        status.post("/requests/status/download", {"code": copy.code})
        codes = [smtp.code_in(m) for m in smtp.messages if "code" in str(m["Subject"])]
    finally:
        logging.getLogger("lantai.requests").removeHandler(handler)
    log = lines.getvalue()
    assert log.count("\n") >= 8 and '"path": "/requests/' in log
    urls = requester.urls + status.urls
    assert urls
    for value in (*PERSONAL_VALUES, EMAIL.split("@")[0], number, *codes):
        assert value not in log, value
        assert not [u for u in urls if value in u], value


def test_subjects_are_in_both_languages():
    from publisher.i18n import ui_text

    assert delivery.bilingual(ui_text("Search")) == "检索 / Search"  # a message with Chinese
    assert delivery.bilingual(ui_text("CANARY untranslated")) == "CANARY untranslated"


@pytest.mark.parametrize("url", ["/requests/", "/requests/verify-email", "/requests/send-again",
                                 "/requests/status", "/requests/status/download",
                                 "/requests/status/close", "/requests/status/withdraw"])
def test_odd_bodies_get_a_clear_4xx_never_a_500(app, url):
    requester = Requester(app)
    requester.get("/requests/")
    token = requester.csrf
    odd = [
        {"csrf_token": token},  # nothing else
        {"csrf_token": token, "name": ["a", "b"], "languages": ["zh"] * 50, "copies": "-1",
         "year_from": "٢٠٠٩", "email": "a@b.c\r\nBcc: x@y.z", "step": "code",
         "number": "\x00" * 30, "code": "12345６", "id_image": "not a file"},
        {"csrf_token": token, **{f"f{i}": "x" for i in range(1200)}},  # too many parts
    ]
    for data in odd:
        resp = requester.post(url, data)
        assert resp.status_code < 500, (url, resp.status_code)
        if resp.status_code >= 400:
            assert resp.mimetype == "text/html" and "<h1>" in resp.get_data(as_text=True)
    weird = requester.client.post(url, data=b"\xff\xfe garbage", headers={
        "Content-Type": "multipart/form-data; boundary=nothing"})
    assert 400 <= weird.status_code < 500
    for token_path in ("%00", "..%2f..%2fetc", "é" * 50, "a.pdf"):
        assert requester.client.get(f"/requests/download/{token_path}").status_code in (
            404, 410)


def test_requests_never_confirmed_are_withdrawn_and_purged(app, smtp, store, site):
    from support import run_lantai

    from services.requests.model import Personal
    from services.requests.store import now_utc

    submit(Requester(app))  # confirmed by nobody, but only just made: kept
    _requester, confirmed = verified_request(app, smtp, store)
    old = store.create(kind="transcript", languages=("zh",), copies=1, delivery="electronic",
                       channel="web", personal=Personal(name=NAME, email=EMAIL,
                                                        id_number=ID_NUMBER),
                       received=now_utc() - dt.timedelta(days=3))
    assert store.abandoned() == [old.id]
    dry = run_lantai(site.home, "requests", "purge", "--dry-run")
    assert f"would purge {old.id}" in dry.stdout and store.get(old.id).status == "unverified"
    run_lantai(site.home, "requests", "purge")
    after = store.get(old.id, unseal=True)
    assert after.status == "withdrawn" and after.purged and after.personal is None
    assert store.abandoned() == [] and store.get(confirmed).status == "submitted"
    assert len(made(store)) == 3 and sum(1 for r in made(store) if r == old.id) == 1


def test_a_phone_photo_is_kept_upright_smaller_and_without_its_exif():
    from services.requests import idimage

    photo = Image.new("RGB", (3000, 1000), (10, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90° clockwise to view
    exif[0x010F] = "CANARY-CAMERA"  # make
    out = io.BytesIO()
    photo.save(out, "JPEG", exif=exif.tobytes())
    kept, mime = idimage.clean(out.getvalue())
    image = Image.open(io.BytesIO(kept))
    assert mime == "image/jpeg" and image.format == "JPEG"
    assert image.size == (667, 2000)  # upright (portrait), at most 2000 px on a side
    assert b"CANARY-CAMERA" not in kept and not image.getexif()


@pytest.mark.slow
def test_a_real_certified_copy_reaches_the_requester_and_verifies(tmp_path, smtp):
    """With the other parts: the demo archive, the form, staff's selection, the certified
    copy (certify.issue_copy), delivery, the e-mailed link, and /verify on what arrived."""
    from repo.demo import load_demo
    from repo.repository import Repository
    from services.requests import certify
    from services.requests.model import Selection

    home = tmp_path / "site"
    repo, _token = Repository.init(home, "https://archive.example.edu")
    try:
        load_demo(repo, repo.user("admin"))
    finally:
        repo.close()
    smtp.configure(home)
    app = create_app(home)
    store = package.store(app)
    _requester, number = verified_request(app, smtp, store)
    store.transition(number, "in_progress", "editor")
    with Repository.open(home) as repo:
        store.select(number, [Selection(repo.resolve("/xjtu/xs/transcripts/"
                                                     "transcript-2019001"))], "editor")
        copy = certify.issue_copy(store, repo, repo.user("editor"), number, "en", "editor")
    before = len(smtp.messages)
    delivery.deliver(store, read_settings(home), number, copy, "https://archive.example.edu")
    link = re.search(r"/requests/download/[\w-]+", smtp.text(smtp.wait_for(to=EMAIL,
                                                                           after=before)))
    assert link
    browser = Requester(app)
    pdf = browser.get(link.group(0))
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    verdict = browser.client.post("/verify", data={"file": (io.BytesIO(pdf.data), "copy.pdf")},
                                  content_type="multipart/form-data",
                                  headers={"Accept": "application/json"})
    answer = verdict.get_json()
    assert verdict.status_code == 200 and answer["valid"] is True, answer
    assert answer["code"] == copy.code
    status = open_status(app, smtp, number)
    text = status.get("/requests/status").get_data(as_text=True)
    assert copy.code in text and "Certified copy issued" in text


def test_the_requester_can_withdraw_an_open_request(app, smtp, store):
    _requester, number = verified_request(app, smtp, store)
    status = open_status(app, smtp, number)
    page = status.get("/requests/status")
    assert "Withdraw the request" in page.get_data(as_text=True)
    assert status.post("/requests/status/withdraw").status_code == 422  # not confirmed
    assert store.get(number).status == "submitted"
    done = status.post("/requests/status/withdraw", {"confirm": "yes"})
    assert done.status_code == 303 and store.get(number).status == "withdrawn"
    text = status.get("/requests/status").get_data(as_text=True)
    assert "Withdrawn" in text and "Withdraw the request" not in text
    assert status.post("/requests/status/withdraw", {"confirm": "yes"}).status_code == 409
    assert store.history(number)[-1].actor == "requester"
    stranger = Requester(app)  # no opened status: nothing to withdraw
    stranger.get("/requests/")
    assert stranger.post("/requests/status/withdraw", {"confirm": "yes"}).status_code == 403
