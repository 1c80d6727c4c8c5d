"""Benchmarks of the record-request service (查档, issue 12), one function per part.

    python -m bench.requests [--only verify] [--repeat 20] [--out DIR]

Each part adds its benchmark to :data:`BENCHES` (a function taking the parsed arguments and
returning rows of figures); ``--only NAME`` (repeatable) runs some of them, the default all.
Every row prints the median beside the issue's goal and the ratio (figure ÷ goal; ≤ 1
meets it); the rows go to ``bench/out/requests-<time>.json`` with the machine and commit.

Goals (issue 12, "Performance"): a certified copy of a 20-page record ≤ 3 s including the
signature; ``/verify`` of an uploaded 5 MB PDF ≤ 300 ms; the request queue with 50,000
requests p50 ≤ 50 ms.

- ``verify``: a fresh site with its local CA, one issued copy: a signed PDF of about 5 MB
  (seven pages, each with an image of random pixels, which do not compress). The PDF is
  uploaded ``--repeat`` times to ``POST /verify`` (``Accept: application/json``), first
  through Flask's test client (server time only), then over real HTTP to a threaded
  werkzeug server on 127.0.0.1 (``requests``; adds the network stack and multipart
  parsing of a real body); after one warm-up upload each (the worker pool starts with the
  first). The test client is given the multipart body encoded once (it would spool each
  body through a temporary file of its own). ``GET /verify?code=`` is timed too. Every
  answer is checked (200, valid).
- ``public``: the request form posted with a 12-megapixel phone photo of an identity
  document (Pillow's check and re-encoding, sealing, the code handed to a local SMTP
  server), and a 5 MB copy downloaded by link (test client; no goal in the issue).
- ``copy``: a fresh site with the demo archive and one more record of 20 page scans (A4 at
  300 dpi, 2480 × 3508, colour JPEG with paper noise and lines of text: ~1 MB each, as a
  scanning room makes them), ingested as staff do (derivatives, no OCR). A request selects
  it; ``certify.issue_copy`` makes, signs (PAdES B-B) and stores the 21-page copy. The first
  copy in the process is reported on its own row (it parses the CJK font and imports
  pyHanko); then the median of ``--copies`` more (default 5) against the goal. Every copy is
  checked (21 pages, PDF/A checks clean).
- ``queue``: a fresh site with ``--requests`` requests (default 50,000, three years of them:
  mostly closed, a few thousand open, 5 % urgent, every kind, channel and workroom; personal
  data sealed as by the form) put in with ``RequestStore.bulk_insert``, 1,000 issued copies
  and 500 dispatches. A staff member (an Editor) signs in; the queue page
  (``/staff/requests/``) is fetched through the test client with common filters (the open
  queue, all states, a workroom, a kind, urgent, overdue, older than 30 days, mine, a deep
  page, 100 a page) ``--repeat`` times each: p50 and p99 per filter and over all of them
  beside the 50 ms goal; and the store's query alone for three of them (the page adds
  unsealing 25 names, recording the views and rendering). Then the statistics page and
  its CSV (the last twelve months and all three years; no goal in the issue). Every
  answer is checked (200).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import commit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "out"
BASE = "https://archive.example.edu"


@dataclass
class Row:
    """One figure: the median of ``samples`` in milliseconds, beside its goal."""

    bench: str
    what: str
    median_ms: float
    goal_ms: float | None
    samples: int
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.median_ms / self.goal_ms if self.goal_ms else None


def _median_ms(times: list[float]) -> float:
    return round(statistics.median(times) * 1000, 1)


# ---------------------------------------------------------------------- verify
def _five_mb_pdf(code: str, target: int = 5 * 2**20) -> bytes:
    """An unsigned copy of about ``target`` bytes: pages with images of random pixels."""
    from fpdf import FPDF
    from PIL import Image
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pages, per_page = 7, target // 7
    side = int((per_page / 3) ** 0.5)
    for n in range(pages):
        pdf.add_page()
        pdf.cell(text=f"Certified copy, page {n + 1} - verification code {code}")
        noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        buf = io.BytesIO()
        noise.save(buf, "PNG")
        pdf.image(io.BytesIO(buf.getvalue()), x=10, y=20, w=180)
    writer = IncrementalPdfFileWriter(io.BytesIO(bytes(pdf.output())))
    info = writer.trailer["/Info"]
    info[generic.NameObject("/LantaiCode")] = generic.TextStringObject(code)
    writer.update_container(info)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _issued_copy(home: Path) -> tuple[str, bytes]:
    """A site at ``home`` with one request and one issued, signed copy of about 5 MB."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    from repo.repository import Repository
    from services.requests import signing
    from services.requests.model import Copy, Personal
    from services.requests.store import RequestStore, new_code

    repo, _token = Repository.init(home, BASE)
    repo.close()
    signing.ensure_site_signer(home)
    site_signer = signing.load_signer(home)
    store = RequestStore.open(home)
    req = store.create(kind="transcript", languages=("en",), copies=1, delivery="electronic",
                       channel="web", personal=Personal(name="Bench", email="b@example.org"))
    code = new_code()
    writer = IncrementalPdfFileWriter(io.BytesIO(_five_mb_pdf(code)))
    pdf = signers.sign_pdf(writer, signers.PdfSignatureMetadata(field_name="Certification"),
                           signer=site_signer.signer).getvalue()
    store.add_copy(Copy(code=code, request_id=req.id, language="en",
                        sha256=hashlib.sha256(pdf).hexdigest(), pages=7, records=[],
                        signed_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        signer=site_signer.subject, issued_by="bench"), pdf)
    return code, pdf


def bench_verify(args: argparse.Namespace) -> list[Row]:
    import requests as http
    from werkzeug.datastructures import FileStorage
    from werkzeug.serving import make_server
    from werkzeug.test import encode_multipart

    from publisher.app import create_app

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        home = Path(tmp) / "site"
        code, pdf = _issued_copy(home)
        size = f"{len(pdf) / 2**20:.1f} MB"
        app = create_app(home, VERIFY_FAILURE_BURST=10_000)
        client = app.test_client()

        # the body is encoded once: Werkzeug's test client would otherwise spool each 5 MB
        # body through a temporary file, timing the client's disk rather than the server
        boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(pdf), "copy.pdf",
                                                               content_type="application/pdf")})

        def post_test_client() -> None:
            answer = client.post("/verify", data=body,
                                 content_type=f"multipart/form-data; boundary={boundary}",
                                 headers={"Accept": "application/json"})
            assert answer.status_code == 200 and answer.get_json()["valid"], answer.data[:300]

        def get_code() -> None:
            answer = client.get(f"/verify?code={code}", headers={"Accept": "application/json"})
            assert answer.status_code == 200 and answer.get_json()["valid"]

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.server_port}/verify"
        session = http.Session()

        def post_http() -> None:
            answer = session.post(url, files={"file": ("copy.pdf", pdf, "application/pdf")},
                                  headers={"Accept": "application/json"}, timeout=60)
            assert answer.status_code == 200 and answer.json()["valid"], answer.text[:300]

        try:
            for what, call, goal, note in (
                    ("POST /verify, test client", post_test_client, 300.0, size),
                    ("POST /verify, real HTTP", post_http, 300.0, size),
                    ("GET /verify?code=, test client", get_code, None, "")):
                call()  # warm-up (the first upload starts a worker)
                times = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    call()
                    times.append(time.perf_counter() - started)
                rows.append(Row("verify", what, _median_ms(times), goal, len(times), note))
        finally:
            server.shutdown()
            session.close()
    return rows


# ---------------------------------------------------------------------- public
def _phone_photo(width: int = 4032, height: int = 3024) -> bytes:
    """A 12-megapixel JPEG, as a phone takes a photo of an identity card (noise: no
    compression shortcut)."""
    from PIL import Image

    small = Image.frombytes("RGB", (width // 8, height // 8), os.urandom(width * height * 3 // 64))
    out = io.BytesIO()
    small.resize((width, height)).save(out, "JPEG", quality=92)
    return out.getvalue()


def bench_public(args: argparse.Namespace) -> list[Row]:
    """The request form with a 12-megapixel photo (image check, re-encoding, sealing, the
    e-mail code handed to a local SMTP server), and the download of a 5 MB copy by link.
    No goal in the issue: a requester on a phone should wait well under a second."""
    import re
    from dataclasses import replace

    from aiosmtpd.controller import Controller

    import services.requests as package
    from publisher.app import create_app
    from repo.config import read_settings, write_settings

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    import socket

    with socket.socket() as probe:  # a free port (aiosmtpd's controller needs a real one)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    rows: list[Row] = []
    smtp = Controller(Sink(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-public-") as tmp:
            home = Path(tmp) / "site"
            code, pdf = _issued_copy(home)
            write_settings(home, replace(read_settings(home), smtp_host="127.0.0.1",
                                         smtp_port=port))
            app = create_app(home)
            store = package.store(app)
            photo = _phone_photo()
            n = [0]

            def submit() -> None:
                n[0] += 1  # a new client and address each time (the form's limits)
                client = app.test_client()
                client.environ_base.update({"wsgi.url_scheme": "https",
                                            "REMOTE_ADDR": f"10.0.{n[0] // 250}.{n[0] % 250}"})
                page = client.get("/requests/").get_data(as_text=True)
                token = re.search(r'name="csrf_token" value="([^"]+)"', page)
                assert token
                answer = client.post("/requests/", content_type="multipart/form-data", data={
                    "csrf_token": token.group(1), "name": "Bench", "id_type": "passport",
                    "id_number": "E12345678", "kind": "transcript", "languages": "en",
                    "copies": "1", "purpose": "bench", "delivery": "electronic",
                    "email": f"bench{n[0]}@example.org",
                    "id_image": (io.BytesIO(photo), "id.jpg")})
                assert answer.status_code == 200, answer.data[:300]

            client = app.test_client()

            def download() -> None:
                answer = client.get(f"/requests/download/{store.new_link(code)}")
                assert answer.status_code == 200 and len(answer.data) == len(pdf)

            for what, call, note in (
                    ("POST /requests/ with a photo", submit,
                     f"{len(photo) / 2**20:.1f} MB JPEG, 12 MP"),
                    ("GET /requests/download/<token>", download,
                     f"{len(pdf) / 2**20:.1f} MB PDF")):
                call()
                times = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    call()
                    times.append(time.perf_counter() - started)
                rows.append(Row("public", what, _median_ms(times), None, len(times), note))
    finally:
        smtp.stop()
    return rows


# ---------------------------------------------------------------------- copy
def _scans(folder: Path, count: int = 20) -> list[Path]:
    """``count`` page scans like a scanning room's: A4 at 300 dpi, colour, paper noise."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    size = (2480, 3508)
    paper = Image.merge("RGB", [Image.effect_noise(size, 12).point(lambda v, o=o: v + o)
                                for o in (120, 112, 95)])
    out = []
    for n in range(count):
        page = paper.copy()
        draw = ImageDraw.Draw(page)
        for line in range(60):
            y = 250 + line * 52
            draw.rectangle((220, y, 220 + 1900 - (line * 37 + n * 91) % 700, y + 22),
                           fill=(40, 38, 45))
        path = folder / f"page-{n + 1:02d}.jpg"
        page.save(path, quality=85)
        out.append(path)
    return out


def bench_copy(args: argparse.Namespace) -> list[Row]:
    from iiif.media import ingest_media
    from repo.demo import load_demo
    from repo.repository import Repository
    from services.requests import certify, pdfa
    from services.requests.model import Personal, Selection
    from services.requests.store import RequestStore

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-copy-") as tmp:
        home = Path(tmp) / "site"
        repo, _token = Repository.init(home, BASE)
        try:
            admin = repo.user("admin")
            load_demo(repo, admin)
            record = repo.create(admin, "/xjtu/xs/transcripts", "item",
                                 {"title": {"zh": "本科生成绩档案（20页）",
                                            "en": "Undergraduate record (20 pages)"},
                                  "refcode": "0421-XS·2021-Y-0099"}, slug="bench-20")
            scans = _scans(Path(tmp) / "scans")
            ingest_media(repo, admin, record.path, scans, ocr=False)
            megabytes = sum(p.stat().st_size for p in scans) / 2**20
            store = RequestStore.open(home)
            req = store.create(kind="transcript", languages=("zh",), copies=1,
                               delivery="electronic", channel="staff", verified=True,
                               personal=Personal(name="Bench", email="b@example.org"))
            store.transition(req.id, "in_progress", "admin")
            store.select(req.id, [Selection(record.iri)], "admin")

            def one() -> float:
                started = time.perf_counter()
                issued = certify.issue_copy(store, repo, admin, req.id, "zh", "admin")
                took = time.perf_counter() - started
                pdf = store.copy_pdf(issued.code)
                assert issued.pages == 21 and pdfa.problems(pdf) == [], issued
                return took

            first = one()
            times = [one() for _ in range(args.copies)]
            size = len(store.copy_pdf(store.copies_of(req.id)[-1].code)) / 2**20
        finally:
            repo.close()
    note = f"20 scans, {megabytes:.0f} MB in, {size:.0f} MB PDF"
    rows.append(Row("copy", "first copy in the process", _median_ms([first]), None, 1,
                    "parses the CJK font, imports pyHanko"))
    rows.append(Row("copy", "certified copy, 20 pages, signed", _median_ms(times), 3000.0,
                    len(times), note))
    return rows


# ---------------------------------------------------------------------- queue
QUEUE_FILTERS = (
    ("open queue (default)", ""),
    ("all states", "status=all"),
    ("a workroom, open", "workroom=创新港"),
    ("a kind, all states", "status=all&kind=degree"),
    ("urgent, open", "urgency=urgent"),
    ("overdue", "overdue=1"),
    ("older than 30 days, all", "status=all&older=30"),
    ("assigned to me", "mine=1"),
    ("all states, page 200", "status=all&page=200"),
    ("all states, 100 a page", "status=all&size=100"),
)


def _synthetic_requests(n: int, workrooms: list[str], assignee: str, seed: int = 12):
    """``n`` requests over the last three years, as the archive's counts suggest (3,816 a
    year online; most closed within days; a few thousand open)."""
    import random

    from services.requests.model import Personal, Request
    from services.requests.store import iso, new_number, now_utc

    rnd = random.Random(seed)
    now = now_utc()
    kinds = ["transcript"] * 6 + ["graduation", "degree", "degree", "enrolment", "other"]
    channels = ["web"] * 6 + ["wechat"] * 3 + ["email", "staff"]
    for i in range(n):
        created = now - dt.timedelta(seconds=rnd.randrange(3 * 365 * 86400))
        age_days = (now - created).days
        roll = rnd.random()
        if (age_days < 30 and roll < 0.5) or roll < 0.04:
            status = rnd.choice(["submitted", "submitted", "in_progress", "unverified"])
        elif roll < 0.07:
            status = rnd.choice(["refused", "withdrawn"])
        else:
            status = "closed" if age_days > 20 else "fulfilled"
        urgent = rnd.random() < 0.05
        due = created + dt.timedelta(days=1 if urgent else 5)
        closed = ""
        if status in ("fulfilled", "closed", "refused", "withdrawn"):
            closed = iso(min(now, created + dt.timedelta(hours=rnd.lognormvariate(3.5, 0.9))))
        req = Request(id=new_number(created.year), status=status, kind=rnd.choice(kinds),
                      languages=("zh", "en") if rnd.random() < 0.4 else ("zh",),
                      copies=rnd.choice((1, 1, 1, 2, 3)),
                      delivery=rnd.choice(("electronic", "electronic", "post", "both")),
                      channel=rnd.choice(channels), created=iso(created),
                      updated=closed or iso(created), due=iso(due), closed=closed,
                      urgent=urgent, workroom=rnd.choice(workrooms),
                      assignee=assignee if status == "in_progress" and rnd.random() < 0.3
                      else "", email_verified=status != "unverified",
                      year_from=rnd.randrange(1985, 2022))
        req.year_to = (req.year_from or 2000) + 4
        personal = Personal(name=f"申请人{i}", student_number=f"{req.year_from}{i:06d}",
                            id_number=f"61010219{rnd.randrange(60, 99)}0101{i % 10000:04d}",
                            email=f"graduate{i}@example.org", purpose="visa",
                            address="陕西省西安市咸宁西路28号" if req.delivery != "electronic"
                            else "")
        yield req, personal


def _sign_in(client, name: str, password: str) -> None:
    import re

    page = client.get("/staff/login").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the sign-in page"
    resp = client.post("/staff/login", data={"username": name, "password": password,
                                               "csrf_token": found.group(1)})
    assert resp.status_code == 302, resp.get_data(as_text=True)[-300:]


def _percentile_ms(times: list[float], p: int) -> float:
    ordered = sorted(times)
    return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000, 1)


def bench_queue(args: argparse.Namespace) -> list[Row]:
    from publisher.app import create_app
    from repo.repository import Repository
    from services.requests.model import Copy
    from services.requests.store import RequestStore, new_code

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp:
        home = Path(tmp) / "site"
        repo, _token = Repository.init(home, BASE)
        try:
            admin = repo.user("admin")
            repo.add_user(admin, "clerk", roles=["Editor"], fullname="Bench clerk")
            repo.set_password(admin, "clerk", "bench-password-1")
        finally:
            repo.close()
        store = RequestStore.open(home)
        started = time.perf_counter()
        count = store.bulk_insert(_synthetic_requests(args.requests,
                                                      list(store.settings.requests_workrooms),
                                                      "clerk"))
        inserted = time.perf_counter() - started
        done, _n = store.query(status=("fulfilled", "closed"), limit=1500, sort="created")
        for req in done[:1000]:
            pdf = b"%PDF-1.7 bench copy " + req.id.encode()
            store.add_copy(Copy(code=new_code(), request_id=req.id, language="zh",
                                sha256=hashlib.sha256(pdf).hexdigest(), pages=1,
                                signed_at=req.closed, signer="CN=bench", issued_by="clerk"),
                           pdf)
        for req in done[1000:1500]:
            store.dispatch(req.id, "EMS", f"EA{req.id[-4:]}CN", "clerk")
        print(f"queue: {count} requests inserted in {inserted:.1f} s "
              f"({count / inserted:,.0f}/s), 1,000 copies, 500 dispatches", file=sys.stderr)
        app = create_app(home)
        client = app.test_client()
        client.environ_base["wsgi.url_scheme"] = "https"
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh"
        _sign_in(client, "clerk", "bench-password-1")
        every: list[float] = []
        for what, query in QUEUE_FILTERS:
            url = "/staff/requests/" + (f"?{query}" if query else "")

            def fetch(url: str = url) -> None:
                resp = client.get(url)
                assert resp.status_code == 200, (url, resp.status_code)
            fetch()  # warm-up
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                fetch()
                times.append(time.perf_counter() - t0)
            every += times
            rows.append(Row("queue", what, _median_ms(times), 50.0, len(times),
                            f"p99 {_percentile_ms(times, 99)} ms"))
        rows.append(Row("queue", "queue page, every filter", _median_ms(every), 50.0,
                        len(every), f"p99 {_percentile_ms(every, 99)} ms; {count:,} requests"))
        # the store's query alone (what the page adds is unsealing 25 names, recording the
        # views, rendering): tells a slow query from a loaded machine
        from services.requests.model import OPEN_STATES

        for what, kw in (("store.query alone, open", {"status": OPEN_STATES}),
                         ("store.query alone, a kind, all", {"kind": "degree"}),
                         ("store.query alone, older 30 d, all", {"older_than_days": 30})):
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                store.query(sort="due", limit=25, **kw)
                times.append(time.perf_counter() - t0)
            rows.append(Row("queue", what, _median_ms(times), 50.0, len(times),
                            f"p99 {_percentile_ms(times, 99)} ms"))
        today = dt.date.today()
        all_years = f"from={today.year - 3}-01-01&to={today.isoformat()}"
        for what, url in (("statistics page, 12 months", "/staff/requests/statistics"),
                          ("statistics page, 3 years", f"/staff/requests/statistics?{all_years}"),
                          ("statistics CSV, 12 months", "/staff/requests/statistics.csv"),
                          ("statistics CSV, 3 years",
                           f"/staff/requests/statistics.csv?{all_years}")):
            def get(url: str = url) -> None:
                resp = client.get(url)
                assert resp.status_code == 200, (url, resp.status_code)
            get()
            times = []
            for _ in range(max(3, args.repeat // 4)):
                t0 = time.perf_counter()
                get()
                times.append(time.perf_counter() - t0)
            rows.append(Row("queue", what, _median_ms(times), None, len(times),
                            f"p99 {_percentile_ms(times, 99)} ms"))
    return rows


# ---------------------------------------------------------------------- main
BENCHES: dict[str, Callable[[argparse.Namespace], list[Row]]] = {
    "verify": bench_verify,
    "public": bench_public,
    "copy": bench_copy,
    "queue": bench_queue,
}



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.requests",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(BENCHES),
                        help="run only this benchmark (repeatable; default: all)")
    parser.add_argument("--repeat", type=int, default=20, help="samples per figure")
    parser.add_argument("--copies", type=int, default=5,
                        help="certified copies timed after the first (copy)")
    parser.add_argument("--requests", type=int, default=50_000,
                        help="requests in the queue's site (queue)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    rows: list[Row] = []
    for name in args.only or sorted(BENCHES):
        rows += BENCHES[name](args)
    print(f"{'benchmark':<8} {'what':<34} {'median':>10} {'goal':>8} {'ratio':>6}  note")
    for r in rows:
        goal = f"{r.goal_ms:g} ms" if r.goal_ms else "—"
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "—"
        print(f"{r.bench:<8} {r.what:<34} {r.median_ms:>7.1f} ms {goal:>8} {ratio:>6}  "
              f"{r.note}")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"requests-{stamp}.json").write_text(json.dumps({
        "machine": platform.platform(), "cpus": os.cpu_count(), "python": sys.version,
        "commit": commit(), "load": os.getloadavg(),
        "rows": [asdict(r) | {"ratio": r.ratio} for r in rows]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
