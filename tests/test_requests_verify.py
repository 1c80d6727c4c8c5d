"""The public verification page (``/verify``): by code and by uploaded PDF, revocation, and
hostile uploads (issue 12, item 5 and the contract's ``POST /verify``).

Copies here are real PDFs (fpdf2) signed with pyHanko by the site's own signer
(:mod:`services.requests.signing`), kept in a real request store; a second, unrelated CA
signs the "someone else's signature" case. Validation runs in the real worker processes
(:mod:`services.requests.sandbox`), and the verdicts are checked against the pyHanko CLI.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import subprocess
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests as http
from flask.testing import FlaskClient
from support import FILE, FONDS, PERSON, require, served

from publisher.app import create_app
from services.requests import sandbox, signing, validation, verify
from services.requests.model import Copy, Personal
from services.requests.store import RequestStore, new_code

NAME = "CANARY-VERIFY-NAME 钱七"
EMAIL = "canary-verify@example.org"
ID_NUMBER = "CANARY-VERIFY-ID-610102200001011234"


# ---------------------------------------------------------------------- PDFs
def base_pdf(code: str = "", pages: int = 1, image_kb: int = 0) -> bytes:
    """A PDF like a certified copy: text on each page, optionally a large image per page,
    ``/LantaiCode`` in the document information."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for n in range(pages):
        pdf.add_page()
        pdf.cell(text=f"Certified copy, page {n + 1} - verification code {code}")
        if image_kb:
            from PIL import Image

            side = int((image_kb * 1024 / 3) ** 0.5)
            noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
            buf = io.BytesIO()
            noise.save(buf, "PNG")  # random pixels do not compress: the file grows by this
            pdf.image(io.BytesIO(buf.getvalue()), x=10, y=20, w=150)
    raw = bytes(pdf.output())
    if not code:
        return raw
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(raw))
    info = writer.trailer["/Info"]
    info[generic.NameObject("/LantaiCode")] = generic.TextStringObject(code)
    writer.update_container(info)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def sign(data: bytes, signer) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    out = signers.sign_pdf(writer, signers.PdfSignatureMetadata(field_name="Certification"),
                           signer=signer)
    return out.getvalue()


def other_ca_signer():
    """A signer whose certificate chains to a CA the site does not trust."""
    from asn1crypto import keys as akeys
    from asn1crypto import x509 as ax509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    now = dt.datetime.now(dt.UTC)

    def cert(subject, issuer, key, issuer_key, ca: bool):
        return (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                .sign(issuer_key, hashes.SHA256()))

    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    root = cert("Forger Root", "Forger Root", root_key, root_key, True)
    leaf = cert("Lantai Archive", "Forger Root", key, root_key, False)

    def der(c):
        return ax509.Certificate.load(c.public_bytes(serialization.Encoding.DER))

    return signers.SimpleSigner(
        signing_cert=der(leaf),
        signing_key=akeys.PrivateKeyInfo.load(key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())),
        cert_registry=SimpleCertificateStore.from_certs([der(root)]))


def flip_byte(data: bytes) -> bytes:
    """One byte inside the signed range changed, keeping the file readable: a letter of the
    document information's ``/Producer`` (the page text is in a compressed stream, where a
    changed byte would make the file unreadable rather than changed)."""
    at = data.find(b"/Producer")
    assert at > 0
    pos = data.find(b"(", at) + 1
    changed = bytearray(data)
    changed[pos] = ord("X") if changed[pos] != ord("X") else ord("Y")
    return bytes(changed)


def xref_stream_pdf(entries: bytes, stream: bytes) -> bytes:
    """A minimal PDF whose cross-reference is a stream with the given dictionary entries."""
    head = b"%PDF-1.7\n"
    objects = (b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
               b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n")
    offset = len(head + objects)
    xref = (b"3 0 obj\n<< /Type /XRef /Root 1 0 R " + entries
            + b" /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream\nendobj\n")
    return head + objects + xref + b"startxref\n%d\n%%%%EOF\n" % offset


# ---------------------------------------------------------------------- the site
@dataclass
class Issued:
    home: Path
    store: RequestStore
    request_id: str
    code: str
    pdf: bytes
    public_iri: str
    closed_iri: str

    def app(self, **config):
        """The site's app; its test clients ask for English (the texts these tests read:
        a browser without Accept-Language gets Chinese)."""
        app = create_app(self.home, **config)
        app.test_client_class = EnglishClient
        return app


class EnglishClient(FlaskClient):
    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def issue(store: RequestStore, request_id: str, records: list[dict], *, language: str = "zh",
          signer=None) -> tuple[str, bytes]:
    code = new_code()
    site_signer = signing.load_signer(store.home)
    pdf = sign(base_pdf(code), signer or site_signer.signer)
    store.add_copy(Copy(code=code, request_id=request_id, language=language,
                        sha256=hashlib.sha256(pdf).hexdigest(), pages=1, records=records,
                        signed_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        signer=site_signer.subject, issued_by="admin"), pdf)
    return code, pdf


@pytest.fixture
def issued(site) -> Issued:
    """A published fonds (its file is public), a person that is not, and a request with one
    issued copy certifying both."""
    site.repo.transition(site.admin, FONDS, "publish", recursive=True)
    public_iri, closed_iri = site.iris[FILE], site.iris[PERSON]
    site.close()
    signing.ensure_site_signer(site.home)
    store = RequestStore.open(site.home)
    req = store.create(kind="transcript", languages=("zh", "en"), copies=1,
                       delivery="electronic", channel="web",
                       personal=Personal(name=NAME, email=EMAIL, id_number=ID_NUMBER,
                                         student_number="CANARY-VERIFY-STU"))
    records = [{"iri": public_iri, "refcode": "0421-XS·1957-Y-0001",
                "title": "Register of freshmen 1957"},
               {"iri": closed_iri, "refcode": "CANARY-CLOSED-REF", "title": "CANARY-CLOSED"}]
    code, pdf = issue(store, req.id, records)
    return Issued(site.home, store, req.id, code, pdf, public_iri, closed_iri)


def upload(client, data: bytes, *, as_json: bool = True, name: str = "copy.pdf", **kw):
    headers = {"Accept": "application/json"} if as_json else {}
    return client.post("/verify", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data", headers=headers, **kw)


def no_personal_data(text: str) -> None:
    for value in (NAME, EMAIL, ID_NUMBER, "CANARY-VERIFY-STU", "CANARY-CLOSED"):
        assert value not in text, value


# ---------------------------------------------------------------------- the page
def test_page_offers_both_ways_in_both_languages(issued):
    client = issued.app().test_client()
    zh = client.get("/verify?lang=zh")
    en = client.get("/verify?lang=en")
    assert zh.status_code == en.status_code == 200
    page = en.get_data(as_text=True)
    assert "Verify a certified copy" in page
    assert 'name="code"' in page and 'name="file"' in page
    assert 'enctype="multipart/form-data"' in page and 'method="post"' in page
    assert 'name="viewport"' in page  # the public site's mobile layout
    assert zh.get_data(as_text=True) != page and 'lang="zh-Hans"' in zh.get_data(as_text=True)
    prefilled = client.get(f"/verify?code={issued.code}&lang=en").get_data(as_text=True)
    assert f'value="{issued.code}"' in prefilled


def test_code_shows_the_copy_and_only_public_records(issued):
    client = issued.app().test_client()
    page = client.get(f"/verify?code={issued.code}&lang=en")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "belongs to a certified copy issued by this archive" in text
    assert issued.request_id in text
    assert "0421-XS·1957-Y-0001" in text and "Register of freshmen 1957" in text
    assert "A record not open to the public" in text
    assert issued.closed_iri not in text and "CANARY-CLOSED-REF" not in text
    no_personal_data(text)
    assert page.headers["Cache-Control"] == "no-store"

    # typed by a person: lower case, spaces, O for 0 and I for 1 are read as meant
    typed = issued.code.lower().replace("-", " - ")
    assert client.get("/verify", query_string={"code": typed}).status_code == 200

    facts = client.get(f"/verify?code={issued.code}",
                       headers={"Accept": "application/json"}).get_json()
    assert facts["code"] == issued.code and facts["valid"] is True
    assert facts["revoked"] is False and facts["request"] == issued.request_id
    assert facts["signer"] == signing.load_signer(issued.home).subject
    assert facts["records"][0] == {"public": True, "iri": issued.public_iri,
                                   "refcode": "0421-XS·1957-Y-0001",
                                   "title": "Register of freshmen 1957"}
    assert facts["records"][1] == {"public": False, "iri": None, "refcode": None,
                                   "title": None}
    no_personal_data(json.dumps(facts, ensure_ascii=False))


@pytest.mark.parametrize("code", ["V-2222-3333-4444", "not a code", "V-" + "A" * 300,
                                  "<script>alert('x')</script>", ""])
def test_unknown_or_malformed_code_is_404_with_a_message(issued, code):
    client = issued.app().test_client()
    page = client.get("/verify", query_string={"code": code, "lang": "en"})
    assert page.status_code == 404
    text = page.get_data(as_text=True)
    assert "No certified copy has the code" in text
    assert "<script>alert" not in text
    as_json = client.get("/verify", query_string={"code": code},
                         headers={"Accept": "application/json"})
    assert as_json.status_code == 404 and as_json.get_json()["error"]


def test_revoked_copy_says_so_by_code_and_by_upload(issued):
    issued.store.revoke(issued.code, "admin", "issued for the wrong person")
    client = issued.app().test_client()
    text = client.get(f"/verify?code={issued.code}&lang=en").get_data(as_text=True)
    assert "Revoked" in text and "issued for the wrong person" in text
    verdict = upload(client, issued.pdf).get_json()
    assert verdict["valid"] is False and verdict["revoked"] is True
    assert verdict["intact"] is True  # the signature itself is fine: it is the copy that is not
    assert verdict["revoked_reason"] == "issued for the wrong person"
    assert "revoked" in verdict["problems"]
    page = upload(client, issued.pdf, as_json=False, query_string={"lang": "en"})
    assert "Not valid: this certified copy was revoked" in page.get_data(as_text=True)


# ---------------------------------------------------------------------- uploads
def test_an_issued_copy_is_valid(issued):
    client = issued.app().test_client()
    answer = upload(client, issued.pdf)
    assert answer.status_code == 200
    verdict = answer.get_json()
    assert verdict["valid"] is True, verdict["problems"]
    assert verdict["intact"] is True and verdict["revoked"] is False
    assert verdict["trusted"] is True and verdict["known"] is True
    assert verdict["code"] == issued.code and verdict["request"] == issued.request_id
    assert verdict["signer"] == signing.load_signer(issued.home).subject
    signed = dt.datetime.strptime(verdict["signed_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(signed.replace(tzinfo=dt.UTC) - dt.datetime.now(dt.UTC)) < dt.timedelta(
        minutes=10)
    assert [r["public"] for r in verdict["records"]] == [True, False]
    assert verdict["problems"] == []
    no_personal_data(json.dumps(verdict, ensure_ascii=False))
    page = upload(client, issued.pdf, as_json=False, query_string={"lang": "en"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Valid: an unchanged certified copy issued by this archive" in text
    no_personal_data(text)


def test_one_byte_changed_is_not_valid_and_still_says_which_copy(issued):
    client = issued.app().test_client()
    verdict = upload(client, flip_byte(issued.pdf)).get_json()
    assert verdict["valid"] is False and verdict["intact"] is False
    assert verdict["known"] is False
    assert verdict["code"] == issued.code  # from /LantaiCode: the copy it claims to be
    assert "not_intact" in verdict["problems"]
    assert "untrusted" not in verdict["problems"]  # the certificate is still the archive's
    page = upload(client, flip_byte(issued.pdf), as_json=False, query_string={"lang": "en"})
    text = page.get_data(as_text=True)
    assert "Broken: the document was changed after it was signed" in text
    assert "not this archive" not in text and "this archive's certificate" not in text


def test_content_added_after_signing_is_not_valid(issued):
    """An incremental update after the signature (a new page text) keeps the signed bytes
    intact but the signature no longer covers the file: changed."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(issued.pdf))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page[generic.NameObject("/Rotate")] = generic.NumberObject(90)
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    verdict = upload(issued.app().test_client(), out.getvalue()).get_json()
    assert verdict["valid"] is False and verdict["intact"] is False
    assert "changed" in verdict["problems"]


def test_a_signature_by_another_ca_is_untrusted(issued):
    _, pdf = issue(issued.store, issued.request_id, [], signer=other_ca_signer())
    verdict = upload(issued.app().test_client(), pdf).get_json()
    assert verdict["valid"] is False and verdict["trusted"] is False
    assert "untrusted" in verdict["problems"]
    assert verdict["intact"] is True  # sound and unchanged, just not ours


def test_a_signed_pdf_this_archive_never_issued_is_not_valid(issued):
    pdf = sign(base_pdf(), signing.load_signer(issued.home).signer)
    verdict = upload(issued.app().test_client(), pdf).get_json()
    assert verdict["valid"] is False and verdict["problems"] == ["unknown_copy"]


@pytest.mark.slow
def test_verdicts_agree_with_the_pyhanko_cli(issued, tmp_path):
    """The real validator's word on the same files: valid for the issued copy, not for the
    copy with one byte changed."""
    exe = shutil.which("pyhanko") or str(Path(os.sys.executable).parent / "pyhanko")
    require(Path(exe).exists(), "the pyHanko CLI (package pyhanko-cli) is not installed")
    trust = tmp_path / "trust.pem"
    trust.write_bytes(b"".join(signing.trust_roots(issued.home)))
    client = issued.app().test_client()
    for data, expect in ((issued.pdf, True), (flip_byte(issued.pdf), False)):
        path = tmp_path / "copy.pdf"
        path.write_bytes(data)
        cli = subprocess.run([exe, "sign", "validate", "--trust", str(trust), "--pretty-print",
                              str(path)], capture_output=True, text=True, timeout=120)
        assert (cli.returncode == 0) is expect, cli.stdout + cli.stderr
        assert upload(client, data).get_json()["valid"] is expect


# ---------------------------------------------------------------------- hostile uploads
def _encrypted_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="")
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="encrypted")
    return bytes(pdf.output())


HOSTILE = {
    "random bytes": lambda pdf: os.urandom(50_000),
    "empty": lambda pdf: b"",
    "truncated": lambda pdf: pdf[: len(pdf) // 2],
    "broken xref": lambda pdf: pdf[: pdf.rfind(b"startxref")] + b"startxref\n99999999\n%%EOF\n",
    "deflate bomb": lambda pdf: xref_stream_pdf(b"/Size 4 /W [1 4 2] /Filter /FlateDecode",
                                                zlib.compress(b"\0" * (64 * 2**20), 9)),
    "unsigned": lambda pdf: base_pdf("V-2222-3333-4444"),
    "encrypted": lambda pdf: _encrypted_pdf(),
    "html": lambda pdf: b"<html><script>alert(1)</script></html>",
    "junk after the end": lambda pdf: pdf + b"\n%" + b"x" * (3 * 2**20),
}
EXPECTED = {"random bytes": "not a PDF", "empty": "not a PDF", "truncated": "damaged",
            "broken xref": "damaged", "deflate bomb": "damaged", "unsigned": "no digital "
            "signature", "encrypted": "encrypted", "html": "not a PDF",
            "junk after the end": "damaged"}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_uploads_are_422_with_a_message(issued, kind):
    data = HOSTILE[kind](issued.pdf)
    client = issued.app().test_client()
    answer = upload(client, data)
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert EXPECTED[kind] in answer.get_json()["error"]
    page = upload(client, data, as_json=False, query_string={"lang": "en"})
    assert page.status_code == 422 and EXPECTED[kind] in page.get_data(as_text=True)
    assert "<script>alert" not in page.get_data(as_text=True)


@pytest.mark.slow
def test_a_pdf_that_keeps_the_parser_busy_is_cut_off(issued):
    """An xref stream naming two billion zero-width entries keeps pyHanko's reader looping
    for minutes; the worker is killed at the time limit and the next upload is served."""
    forever = xref_stream_pdf(b"/Size 2000000001 /W [0 0 0] /Index [0 2000000000]", b"")
    client = issued.app(VERIFY_TIMEOUT=1.5).test_client()
    killed = len(sandbox.pool().killed)
    started = time.monotonic()
    answer = upload(client, forever)
    took = time.monotonic() - started
    assert answer.status_code == 422 and "too long" in answer.get_json()["error"]
    assert took < 10, took
    assert len(sandbox.pool().killed) == killed + 1
    # the next upload is served (by a fresh worker, given the usual time limit)
    after = upload(issued.app().test_client(), issued.pdf).get_json()
    assert after.get("valid") is True, after


def test_a_body_over_the_limit_is_413_before_it_is_read(issued):
    """A body a megabyte over the limit, declared: refused from the Content-Length, without
    reading the body."""

    class Counting(io.BytesIO):
        taken = 0

        def read(self, size=-1):
            data = super().read(size)
            Counting.taken += len(data)
            return data

    over = verify.MAX_UPLOAD + 2**20
    limit = f"larger than {verify.MAX_UPLOAD // 2**20} MB"
    body = Counting(b"x" * over)
    client = issued.app().test_client()
    answer = client.post("/verify", input_stream=body, headers={
        "Content-Type": "multipart/form-data; boundary=xyz", "Accept": "application/json",
        "Content-Length": str(over)})
    assert answer.status_code == 413
    assert limit in answer.get_json()["error"]
    assert Counting.taken == 0
    big = upload(client, b"%PDF-1.7\n" + b"0" * over, as_json=False,
                 query_string={"lang": "en"})
    assert big.status_code == 413 and limit in big.get_data(as_text=True)


def test_a_form_without_the_file_is_400(issued):
    client = issued.app().test_client()
    answer = client.post("/verify", data={"other": "x"}, headers={"Accept": "application/json"})
    assert answer.status_code == 400 and "file" in answer.get_json()["error"]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_verify_answers_only_its_methods(issued, method):
    answer = issued.app().test_client().open("/verify", method=method)
    assert answer.status_code == 405
    assert set(answer.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_failures_are_rate_limited_per_address(issued):
    app = issued.app(VERIFY_FAILURE_BURST=3)
    client = app.test_client()
    one = {"REMOTE_ADDR": "203.0.113.7"}
    for _ in range(3):
        assert client.get("/verify?code=V-2222-3333-4444",
                          environ_base=one).status_code == 404
    refused = client.get(f"/verify?code={issued.code}", environ_base=one,
                         headers={"Accept": "application/json"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Too many failed verifications" in refused.get_json()["error"]
    assert upload(client, b"junk", environ_base=one).status_code == 429
    # another address is not affected, and successes never count
    other = {"REMOTE_ADDR": "203.0.113.8"}
    for _ in range(5):
        assert client.get(f"/verify?code={issued.code}", environ_base=other).status_code == 200
        assert upload(client, issued.pdf, environ_base=other).get_json()["valid"] is True


# ---------------------------------------------------------------------- over real HTTP
def test_post_verify_over_real_http(issued):
    app = issued.app()
    with served(app) as base:
        answer = http.post(f"{base}/verify", files={"file": ("copy.pdf", issued.pdf,
                                                             "application/pdf")},
                           headers={"Accept": "application/json"}, timeout=60)
        assert answer.status_code == 200 and answer.json()["valid"] is True
        tampered = http.post(f"{base}/verify", files={"file": ("c.pdf",
                                                               flip_byte(issued.pdf))},
                             headers={"Accept": "application/json"}, timeout=60)
        assert tampered.json()["valid"] is False and tampered.json()["intact"] is False
        page = http.get(f"{base}/verify", params={"code": issued.code, "lang": "en"},
                        timeout=60)
        assert page.status_code == 200 and issued.request_id in page.text


# ---------------------------------------------------------------------- the package
def test_the_store_function_survives_importing_the_store_module(issued):
    import importlib

    import services.requests as package

    importlib.import_module("services.requests.store")
    app = issued.app()
    assert callable(package.store) and package.store(app) is package.store(app)


def test_check_pdf_without_the_web(issued):
    """The function /verify and other parts' tests use, on the site's own roots."""
    verdict = validation.check_pdf(issued.pdf, issued.home)
    assert verdict.valid and verdict.copy is not None and verdict.copy.code == issued.code
    with pytest.raises(validation.Unreadable) as unreadable:
        validation.check_pdf(b"not a pdf", issued.home)
    assert unreadable.value.reason == "not_pdf"


def test_a_body_without_a_length_is_cut_at_the_limit(issued):
    """A chunked upload declares no length: it is read up to the limit, then refused."""

    class Counting(io.BytesIO):
        taken = 0

        def read(self, size=-1):
            data = super().read(size)
            Counting.taken += len(data)
            return data

    for content_type in ("application/pdf", "multipart/form-data; boundary=xyz"):
        Counting.taken = 0
        body = Counting(b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; "
                        b"filename=\"a.pdf\"\r\n\r\n" + b"%" * (verify.MAX_UPLOAD + 2**20))
        answer = issued.app().test_client().post(
            "/verify", input_stream=body, headers={
                "Content-Type": content_type, "Accept": "application/json",
                "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True})
        assert answer.status_code == 413, (content_type, answer.get_data(as_text=True))
        assert Counting.taken <= verify.MAX_UPLOAD + 2**20, Counting.taken


def test_a_pdf_sent_as_the_body_is_checked_too(issued):
    """``curl --data-binary @copy.pdf -H 'Content-Type: application/pdf'``."""
    answer = issued.app().test_client().post("/verify", data=issued.pdf,
                                             content_type="application/pdf",
                                             headers={"Accept": "application/json"})
    assert answer.status_code == 200 and answer.get_json()["valid"] is True


@pytest.mark.slow
def test_a_b_lt_copy_with_a_timestamp_is_valid(issued):
    """PAdES B-LT as certify makes it when a timestamp authority is configured (a TSA over
    real HTTP): a timestamp token, and the validation data added in a revision after the
    signature — which is not a change of the document."""
    import dataclasses

    from test_requests_certify import _Tsa

    from repo.config import read_settings
    from services.requests import certify

    tsa = _Tsa(issued.home)
    try:
        settings = dataclasses.replace(read_settings(issued.home), signing_tsa_url=tsa.url)
        code = new_code()
        pdf, signed_at, subject = certify.sign(base_pdf(), issued.home, settings, code, "en")
    finally:
        tsa.close()
    assert tsa.requests >= 1 and b"/DSS" in pdf
    issued.store.add_copy(Copy(code=code, request_id=issued.request_id, language="en",
                               sha256=hashlib.sha256(pdf).hexdigest(), pages=1, records=[],
                               signed_at=signed_at, signer=subject, issued_by="admin"), pdf)
    verdict = upload(issued.app().test_client(), pdf).get_json()
    assert verdict["valid"] is True, verdict["problems"]
    assert verdict["code"] == code and verdict["signed_at"]
    broken = upload(issued.app().test_client(), flip_byte(pdf)).get_json()
    assert broken["valid"] is False and broken["intact"] is False
