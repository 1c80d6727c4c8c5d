"""Certified copies (issue 12, item 4): a record's pages (services/requests/pages.py), the
certified PDF (certify.py) and its PAdES signature, checked with the real validators."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from signing_support import make_p12
from support import require, run_lantai

from iiif.derivative_files import DerivativeFiles
from iiif.derivatives import thumb_path
from iiif.media import ingest_media
from repo.config import Settings
from repo.errors import Invalid, NotFound
from repo.files import FileStore
from repo.repository import Repository
from services.requests import certify, fonts, pages, pdfa, signing
from services.requests.model import Copy, Personal, Selection
from services.requests.store import RequestStore

ITEM = "/xjtu/students/register-1957/page-1"


def scans(folder: Path) -> list[Path]:
    """Three page scans as archives hold them: a grey JPEG, a colour JPEG larger than A4 at
    300 dpi, and a landscape PNG with an alpha channel."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    grey = Image.new("L", (1240, 1754), 235)
    grey.save(folder / "p01.jpg", quality=85)
    made.append(folder / "p01.jpg")
    big = Image.new("RGB", (3000, 4200), (250, 245, 230))
    big.save(folder / "p02.jpg", quality=85)
    made.append(folder / "p02.jpg")
    wide = Image.new("RGBA", (1600, 1100), (20, 40, 200, 128))
    wide.save(folder / "p03.png")
    made.append(folder / "p03.png")
    return made


def test_record_pages_in_order_and_as_jpeg(site, tmp_path):
    repo, admin = site.repo, site.admin
    ingest_media(repo, admin, ITEM, scans(tmp_path / "scans"), ocr=False)
    found = pages.record_pages(repo, admin, ITEM)
    assert [p.number for p in found] == [1, 2, 3]
    assert [(p.width, p.height) for p in found] == [(1240, 1754), (3000, 4200), (1600, 1100)]
    assert [p.mime for p in found] == ["image/jpeg", "image/jpeg", "image/png"]
    assert {p.record for p in found} == {site.iris[ITEM]}
    # the record's file lists the same pages: a file's pages are its items' pages
    assert pages.record_pages(repo, admin, "/xjtu/students/register-1957") == found

    # a grey JPEG within A4 at 300 dpi is the scan as stored; the others are rendered
    files = FileStore.for_site(repo.home)
    first = pages.page_jpeg(repo, admin, found[0])
    with files.open(found[0].digest) as fh:
        assert first == fh.read()  # the plaintext of the (sealed) stored scan
    for page, size in ((found[1], (2506, 3508)), (found[2], (1600, 1100))):
        data = pages.page_jpeg(repo, admin, page)
        with Image.open(io.BytesIO(data)) as im:
            assert im.format == "JPEG" and im.mode == "RGB" and im.size == size
    thumb = pages.page_jpeg(repo, admin, found[1], pages.THUMB_PX)
    with Image.open(io.BytesIO(thumb)) as im:
        assert max(im.size) == pages.THUMB_PX
    # the IIIF thumbnail made at ingest, not a new decode of the scan
    stored_thumb = thumb_path(repo.home, found[1].digest)
    assert thumb == DerivativeFiles.for_site(repo.home).read_bytes(stored_thumb)
    assert not stored_thumb.read_bytes().startswith(b"\xff\xd8")  # sealed on disk
    with Image.open(io.BytesIO(pages.page_jpeg(repo, admin, found[2], 200))) as im:
        assert max(im.size) == 200 and im.mode == "RGB"

    # a user who may not see the record sees no pages and no page
    with pytest.raises(NotFound):
        pages.record_pages(repo, site.user("nobody"), ITEM)
    with pytest.raises(NotFound):
        pages.page_jpeg(repo, site.user("nobody"), found[0])


def test_a_corrupt_scan_is_refused_with_one_line(site, tmp_path):
    repo, admin = site.repo, site.admin
    ingest_media(repo, admin, ITEM, scans(tmp_path / "scans")[1:2], ocr=False)
    page = pages.record_pages(repo, admin, ITEM)[0]
    path = FileStore.for_site(repo.home).stored_path(page.digest)
    data = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(data[: len(data) // 3])  # truncated on disk (a damaged store)
    with pytest.raises(Exception) as caught:
        pages.page_jpeg(repo, admin, page)
    assert "\n" not in str(caught.value)


# ---------------------------------------------------------------------- the certified copy
TRANSCRIPT = "/xjtu/xs/transcripts/transcript-2019001"
OTHER = "/xjtu/xs/transcripts/transcript-2019002"


@dataclass
class Issued:
    home: Path
    store: RequestStore
    request_id: str
    copies: dict[str, Copy]
    pdf: dict[str, Path]
    ca: Path


def _demo_home(folder: Path) -> Path:
    from repo.demo import load_demo

    home = folder / "site"
    repo, _ = Repository.init(home, "https://archive.example.edu")
    try:
        load_demo(repo, repo.user("admin"))
    finally:
        repo.close()
    return home


def _request(store: RequestStore, languages=("zh", "en"), status="in_progress") -> str:
    req = store.create(kind="transcript", languages=languages, copies=1,
                       delivery="electronic", channel="staff", verified=True,
                       personal=Personal(name="赵思远", email="zhao@example.org",
                                         student_number="CANARY-STU-2019001"))
    if status == "in_progress":
        store.transition(req.id, "in_progress", "editor")
    return req.id


@pytest.fixture(scope="module")
def issued(tmp_path_factory) -> Issued:
    """The demo archive; a transcript request with both languages, issued once in each."""
    folder = tmp_path_factory.mktemp("certify")
    home = _demo_home(folder)
    store = RequestStore.open(home)
    request_id = _request(store)
    with Repository.open(home) as repo:
        admin = repo.user("admin")
        store.select(request_id, [Selection(repo.resolve(TRANSCRIPT)),
                                  Selection(repo.resolve(OTHER), (1,))], "editor")
        copies = {lang: certify.issue_copy(store, repo, admin, request_id, lang, "editor")
                  for lang in ("zh", "en")}
    pdf = {}
    for lang, c in copies.items():
        pdf[lang] = folder / f"copy-{lang}.pdf"
        pdf[lang].write_bytes(store.copy_pdf(c.code))
    ca = folder / "ca.pem"
    ca.write_bytes(b"".join(signing.trust_roots(home)))
    return Issued(home, store, request_id, copies, pdf, ca)


def pyhanko_validate(pdf: Path, ca: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("pyhanko") or str(Path(sys.executable).with_name("pyhanko"))
    require(Path(exe).exists(), "the pyHanko CLI (pyhanko-cli) is not installed")
    return subprocess.run([exe, "sign", "validate", "--trust", str(ca), "--trust-replace",
                           "--no-revocation-check", "--pretty-print", str(pdf)],
                          capture_output=True, text=True, timeout=120)


def nss_db(folder: Path, ca: Path) -> str:
    """An NSS database that trusts ``ca`` (what pdfsig reads with -nssdir)."""
    require(shutil.which("certutil"), "certutil (libnss3-tools) is not installed")
    db = folder / "nss"
    db.mkdir(exist_ok=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True,
                   capture_output=True)
    for n, pem in enumerate(ca.read_bytes().split(b"-----END CERTIFICATE-----")[:-1]):
        one = folder / f"root{n}.pem"
        one.write_bytes(pem + b"-----END CERTIFICATE-----\n")
        subprocess.run(["certutil", "-A", "-d", f"sql:{db}", "-n", f"root{n}", "-t", "C,C,C",
                        "-i", str(one)], check=True, capture_output=True)
    return f"sql:{db}"


def pdfsig(pdf: Path, nssdir: str) -> str:
    require(shutil.which("pdfsig"), "pdfsig (poppler-utils) is not installed")
    proc = subprocess.run(["pdfsig", "-nssdir", nssdir, str(pdf)], capture_output=True,
                          text=True, timeout=60)
    return proc.stdout + proc.stderr


def changed_byte(pdf: Path, target: Path) -> Path:
    """The PDF with one byte of a page scan changed (inside the signed range)."""
    data = bytearray(pdf.read_bytes())
    at = data.index(b"/DCTDecode")
    at = data.index(b"stream", at) + 400
    data[at] ^= 0x01
    target.write_bytes(bytes(data))
    return target


def tool_text(*args: str) -> str:
    require(shutil.which(args[0]), f"{args[0]} (poppler-utils/qpdf) is not installed")
    return subprocess.run(list(args), capture_output=True, text=True, check=True,
                          timeout=60).stdout


@pytest.mark.slow
def test_copy_validates_with_pyhanko_cli_and_pdfsig_and_a_changed_byte_breaks_both(
        issued, tmp_path):
    for lang in ("zh", "en"):
        good = pyhanko_validate(issued.pdf[lang], issued.ca)
        assert good.returncode == 0, good.stdout + good.stderr
        for said in ("The signer's certificate is trusted.",
                     "The signature is cryptographically sound.",
                     "The signature covers the entire file.", "The signature is judged VALID.",
                     "Common Name: Lantai Archive"):
            assert said in good.stdout, (said, good.stdout)
    nssdir = nss_db(tmp_path, issued.ca)
    report = pdfsig(issued.pdf["zh"], nssdir)
    assert "Signature is Valid." in report and "Certificate is Trusted." in report, report
    assert "Total document signed" in report and "ETSI.CAdES.detached" in report

    broken = changed_byte(issued.pdf["zh"], tmp_path / "broken.pdf")
    bad = pyhanko_validate(broken, issued.ca)
    assert bad.returncode != 0
    assert "The signature is cryptographically unsound." in bad.stdout, bad.stdout
    assert "judged VALID" not in bad.stdout
    report = pdfsig(broken, nssdir)
    assert "Signature is Valid." not in report
    assert "Signature is Invalid." in report or "Digest Mismatch" in report, report

    # a relying party that does not trust our root is told so
    untrusting = pdfsig(issued.pdf["zh"], nss_db(tmp_path / "other", _other_ca(tmp_path)))
    assert "Signature is Valid." in untrusting and "Certificate is Trusted." not in untrusting


def _other_ca(tmp_path: Path) -> Path:
    root = make_p12(tmp_path / "other.p12", None)
    (tmp_path / "other").mkdir(exist_ok=True)
    path = tmp_path / "other-ca.pem"
    path.write_bytes(root)
    return path


def test_pdfa_checks(issued, tmp_path):
    for lang in ("zh", "en"):
        data = issued.pdf[lang].read_bytes()
        assert pdfa.problems(data) == []
        require(shutil.which("qpdf"), "qpdf is not installed")
        check = subprocess.run(["qpdf", "--check", str(issued.pdf[lang])],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        fonts = tool_text("pdffonts", str(issued.pdf[lang])).splitlines()[2:]
        assert fonts and all(" yes yes yes " in line for line in fonts), fonts
        assert b"/Encrypt" not in data and b"/JavaScript" not in data
    # the check can fail: a plain fpdf2 document (core font, no XMP, no output intent)
    from fpdf import FPDF

    plain = FPDF()
    plain.add_page()
    plain.set_font("helvetica", size=12)
    plain.cell(text="hello")
    found = pdfa.problems(bytes(plain.output()))
    assert any("not embedded" in p for p in found)
    assert any("XMP" in p for p in found) and any("OutputIntent" in p for p in found)
    # and a signed copy whose information no longer matches its XMP is caught
    data = issued.pdf["en"].read_bytes()
    at = data.rindex(b"/Producer (pyHanko")  # in the signed revision's information
    tampered = data[:at] + b"/Producer (pyHAnko" + data[at + len(b"/Producer (pyHanko"):]
    assert any("/Producer" in p for p in pdfa.problems(tampered))


def test_cover_pages_and_code(issued):
    for lang, words in (("zh", ("档案证明", "档号", "兹证明", "成绩单", "第 1 页，共 3 页")),
                        ("en", ("Certified Copy of Archival Records", "Reference code",
                                "This is to certify", "Academic transcript",
                                "Page 1 of 3"))):
        copy_ = issued.copies[lang]
        cover = tool_text("pdftotext", "-f", "1", "-l", "1", "-layout",
                          str(issued.pdf[lang]), "-")
        for text in (*words, "0421-XS·2021-Y-0001", "0421-XS·2021-Y-0002",
                     issued.request_id, copy_.code):
            assert text in cover, (lang, text, cover)
        other = "Certified Copy" if lang == "zh" else "档案证明"
        assert other not in cover
        assert copy_.pages == 3  # the cover, the first transcript, page 1 of the second
        info = tool_text("pdfinfo", str(issued.pdf[lang]))
        assert "Pages:           3" in info
        every = tool_text("pdftotext", str(issued.pdf[lang]), "-")
        assert every.count(copy_.code) >= 3  # the footer of every page (and the cover)
        assert every.count("/verify") >= 3
        from pyhanko.pdf_utils.reader import PdfFileReader

        with issued.pdf[lang].open("rb") as fh:
            reader = PdfFileReader(fh)
            assert str(reader.trailer["/Info"]["/LantaiCode"]) == copy_.code
        assert copy_.records[0]["refcode"] == "0421-XS·2021-Y-0001"
        assert copy_.signer.endswith("CN=Lantai Archive")
        assert copy_.sha256 == hashlib.sha256(issued.pdf[lang].read_bytes()).hexdigest()
        assert issued.store.copy(copy_.code) == copy_


def test_refusals(issued):
    store = issued.store
    with Repository.open(issued.home) as repo:
        admin = repo.user("admin")
        none_selected = _request(store)
        with pytest.raises(Invalid, match="no records are selected"):
            certify.issue_copy(store, repo, admin, none_selected, "zh", "editor")
        only_zh = _request(store, languages=("zh",))
        store.select(only_zh, [Selection(repo.resolve(TRANSCRIPT))], "editor")
        with pytest.raises(Invalid, match="not 'en'"):
            certify.issue_copy(store, repo, admin, only_zh, "en", "editor")
        waiting = _request(store, status="submitted")
        store.select(waiting, [Selection(repo.resolve(TRANSCRIPT))], "editor")
        assert certify.ready(store.get(waiting)) != []
        with pytest.raises(Invalid, match="submitted"):
            certify.issue_copy(store, repo, admin, waiting, "zh", "editor")
        store.select(only_zh, [Selection(repo.resolve(TRANSCRIPT), (2,))], "editor")
        with pytest.raises(Invalid, match="page 2 is not one of them"):
            certify.issue_copy(store, repo, admin, only_zh, "zh", "editor")
        assert store.copies_of(only_zh) == [] and store.copies_of(waiting) == []


@pytest.mark.slow
def test_cli_requests_copy(issued, tmp_path):
    out = tmp_path / "out.pdf"
    run_lantai(issued.home, "requests", "copy", issued.request_id, "-o", str(out))
    assert out.read_bytes() == issued.pdf["en"].read_bytes()  # the latest
    run_lantai(issued.home, "requests", "copy", issued.request_id, "-o", str(out),
               "--code", issued.copies["zh"].code.lower())
    assert out.read_bytes() == issued.pdf["zh"].read_bytes()
    for args in (("CD2026-AAAA-BBBB-CCCC-DDDD",),
                 (issued.request_id, "--code", "V-2222-3333-4444")):
        proc = run_lantai(issued.home, "requests", "copy", *args, "-o", str(out),
                          check=False)
        assert proc.returncode == 3 and proc.stderr.count("\n") == 1, proc.stderr


@pytest.mark.slow
def test_an_imported_pkcs12_signs_the_copies(tmp_path):
    home = _demo_home(tmp_path)
    root = make_p12(tmp_path / "real.p12", b"pass")
    signing.import_pkcs12(home, tmp_path / "real.p12", "pass")
    store = RequestStore.open(home)
    request_id = _request(store, languages=("en",))
    with Repository.open(home) as repo:
        store.select(request_id, [Selection(repo.resolve(TRANSCRIPT))], "editor")
        issued = certify.issue_copy(store, repo, repo.user("admin"), request_id, "en",
                                    "editor")
    assert "Test Archive Signer" in issued.signer
    pdf = tmp_path / "copy.pdf"
    pdf.write_bytes(store.copy_pdf(issued.code))
    ca = tmp_path / "root.pem"
    ca.write_bytes(root)
    good = pyhanko_validate(pdf, ca)
    assert good.returncode == 0 and "Test Archive Signer" in good.stdout, good.stdout
    assert pdfa.problems(pdf.read_bytes()) == []


@pytest.mark.slow
def test_a_character_outside_the_reduced_font_is_printed_with_the_full_font(tmp_path):
    assert fonts.wait_for_reduced(600)
    first = fonts.sources()[0]
    assert first[0].parent == fonts.cache_dir() and first != fonts.font_file()
    assert ord("堃") not in fonts.repertoire() and ord("李") in fonts.repertoire()

    def cover(title: str) -> str:
        content = certify.Content(
            request_id="CD2026-2345-6789-ABCD-EFGH", kind="degree", language="zh",
            code="V-2345-6789-ABCD", base="https://archive.example.edu",
            archive=("兰台档案馆", "Lantai Archive"),
            parts=[certify.Part("https://archive.example.edu/id/record/x",
                                "0421-XS·2021-Y-0003", title, [])],
            images=[], issued=dt.datetime.now(dt.UTC),
            seal_png=certify.seal_image(tmp_path, Settings(base="https://archive.example.edu")))
        path = tmp_path / "cover.pdf"
        path.write_bytes(certify.build_pdf(content))
        fonts_used = tool_text("pdffonts", str(path)).splitlines()[2:]
        assert len(fonts_used) == 1 and " yes yes yes " in fonts_used[0]
        return tool_text("pdftotext", str(path), "-")

    assert "李若溪的学位证明" in cover("李若溪的学位证明")  # the reduced font has every one
    assert "李堃的学位证明" in cover("李堃的学位证明")  # 堃 is not in GB 2312: the full font


class _Tsa:
    """A timestamp authority over real HTTP (RFC 3161): pyHanko's own TSA implementation
    (DummyTimeStamper) behind ``http.server``, its certificate issued by the site's CA."""

    def __init__(self, home: Path) -> None:
        import base64
        import http.server
        import threading

        from asn1crypto import keys as asn1_keys
        from asn1crypto import tsp
        from asn1crypto import x509 as asn1_x509
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
        from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        sealed = signing._read_sealed(home, signing.CA_SEALED)
        ca_key = serialization.load_der_private_key(base64.b64decode(sealed["key"]), None)
        ca = x509.load_der_x509_certificate(base64.b64decode(sealed["cert"]))
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # its TSA: RSA
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")]))
                .issuer_name(ca.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(hours=1))
                .not_valid_after(now + dt.timedelta(days=30))
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                               critical=True)
                .sign(ca_key, hashes.SHA256()))
        der = serialization.Encoding.DER
        stamper = DummyTimeStamper(
            tsa_cert=asn1_x509.Certificate.load(cert.public_bytes(der)),
            tsa_key=asn1_keys.PrivateKeyInfo.load(key.private_bytes(
                der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())),
            certs_to_embed=SimpleCertificateStore.from_certs(
                [asn1_x509.Certificate.load(ca.public_bytes(der))]))
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                reply = stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/tsa"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.slow
def test_b_lt_with_a_timestamp_authority(tmp_path):
    import dataclasses

    from repo.config import read_settings, write_settings

    home = _demo_home(tmp_path)
    signing.ensure_site_signer(home)
    tsa = _Tsa(home)
    try:
        write_settings(home, dataclasses.replace(read_settings(home), signing_tsa_url=tsa.url))
        store = RequestStore.open(home)
        request_id = _request(store, languages=("en",))
        with Repository.open(home) as repo:
            store.select(request_id, [Selection(repo.resolve(TRANSCRIPT))], "editor")
            issued = certify.issue_copy(store, repo, repo.user("admin"), request_id, "en",
                                        "editor")
    finally:
        tsa.close()
    assert tsa.requests >= 1
    pdf = tmp_path / "copy.pdf"
    pdf.write_bytes(store.copy_pdf(issued.code))
    data = pdf.read_bytes()
    assert b"/DSS" in data  # the validation data of B-LT
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"".join(signing.trust_roots(home)))
    good = pyhanko_validate(pdf, ca)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "judged VALID" in good.stdout and "Test TSA" in good.stdout, good.stdout
    report = pdfsig(pdf, nss_db(tmp_path, ca))
    assert "Signature is Valid." in report and "Certificate is Trusted." in report, report
    assert pdfa.problems(data) == []


def test_the_qr_code_on_each_page_is_the_verify_address(issued, tmp_path):
    """Rendered by poppler at 600 dpi, the QR code's modules are those of the code's
    /verify address (segno makes it; the test reads back what was drawn, module by module)."""
    import segno

    require(shutil.which("pdftoppm"), "pdftoppm (poppler-utils) is not installed")
    code = issued.copies["en"].code
    url = f"https://archive.example.edu/verify?code={code}"
    want = [[bool(v) for v in row]
            for row in segno.make(url, error="m", micro=False).matrix_iter(scale=1, border=2)]
    n = len(want)
    for page in (1, 3):
        prefix = tmp_path / f"p{page}"
        subprocess.run(["pdftoppm", "-r", "600", "-f", str(page), "-l", str(page), "-gray",
                        "-png", str(issued.pdf["en"]), str(prefix)], check=True, timeout=120)
        shot = next(tmp_path.glob(f"p{page}*.png"))
        with Image.open(shot) as im:
            grey = im.convert("L")
            per_mm = grey.width / 210
            x0, y0, unit = (210 - 10 - 16) * per_mm, (297 - 7 - 16) * per_mm, 16 / n * per_mm
            got = [[grey.getpixel((int(x0 + (c + 0.5) * unit), int(y0 + (r + 0.5) * unit))) < 128
                    for c in range(n)] for r in range(n)]
        assert got == want, f"page {page}"
