"""The site's signing key (services/requests/signing.py; issue 12, item 4): a local CA made
for a site without one, its keys sealed with the master key that lives outside the site,
``lantai signing ca/show/import`` with real PKCS#12 files, and bad files refused."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from signing_support import make_p12
from support import run_lantai

from preservation.keys import MasterKeyError
from repo.errors import Invalid
from services.requests import signing


def _sign_and_validate(home: Path, roots: list[bytes]):
    """Sign a one-page PDF with the site's signer and validate it with pyHanko against
    ``roots``: the validator's status."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509
    from fpdf import FPDF
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import fields, signers
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    doc = FPDF()
    doc.add_page()
    data = bytes(doc.output())
    site = signing.load_signer(home)
    meta = signers.PdfSignatureMetadata(field_name="Seal", md_algorithm="sha256",
                                        subfilter=fields.SigSeedSubFilter.PADES)
    out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(data)), meta,
                           signer=site.signer)
    trust = [asn1_x509.Certificate.load(pem.unarmor(r)[2]) for r in roots]
    return validate_pdf_signature(PdfFileReader(out).embedded_signatures[0],
                                  ValidationContext(trust_roots=trust))


def _sign_and_check(home: Path, roots: list[bytes]) -> str:
    """The subject the validator read, after checking the signature is valid and trusted."""
    status = _sign_and_validate(home, roots)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    return status.signing_cert.subject.human_friendly


def test_local_ca_is_made_once_with_sealed_keys(site):
    home = site.home
    assert not signing.has_signer(home)
    signing.ensure_site_signer(home)
    first = signing.describe(home)
    signing.ensure_site_signer(home)  # a site that has one is left alone
    assert signing.describe(home) == first and first["kind"] == "local CA"

    loaded = signing.load_signer(home)
    cert, ca = loaded.chain
    assert "Lantai Archive" in loaded.subject and "兰台档案馆" in loaded.subject
    cert.verify_directly_issued_by(ca)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    years = (cert.not_valid_after_utc - cert.not_valid_before_utc).days / 365
    ca_years = (ca.not_valid_after_utc - ca.not_valid_before_utc).days / 365
    assert 2 <= years <= 3.01 and 9.99 <= ca_years <= 10.1
    assert first["sha256"] == cert.fingerprint(hashes.SHA256()).hex(":").upper()
    assert signing.trust_roots(home) == [signing.pem_of([ca])]

    # only certificates in clear: no private key anywhere in the site's signing folder
    files = list((home / "signing").iterdir())
    assert {p.name for p in files} >= {"signer.sealed", "ca.sealed", "signer.pem", "trust.pem"}
    for p in files:
        assert b"PRIVATE KEY" not in p.read_bytes(), p
    assert "Lantai Archive" in _sign_and_check(home, signing.trust_roots(home))


def test_a_copy_of_the_site_without_the_key_cannot_sign(site, tmp_path, monkeypatch):
    signing.ensure_site_signer(site.home)
    site.close()
    stolen = tmp_path / "stolen" / "site"
    shutil.copytree(site.home, stolen)  # the site folder, not the key file beside it
    monkeypatch.delenv("LANTAI_MASTER_KEY", raising=False)
    monkeypatch.delenv("LANTAI_MASTER_KEY_FILE", raising=False)
    with pytest.raises(MasterKeyError):
        signing.load_signer(stolen)
    # and a key file put there does not open it either (a different key)
    (stolen.parent / "site.key").write_text(
        "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=\n")
    with pytest.raises(MasterKeyError):
        signing.load_signer(stolen)


def test_import_pkcs12_then_it_signs(site, tmp_path):
    signing.ensure_site_signer(site.home)
    root = make_p12(tmp_path / "archive.p12", b"correct horse")
    subject = signing.import_pkcs12(site.home, tmp_path / "archive.p12", "correct horse")
    assert "Test Archive Signer" in subject
    loaded = signing.load_signer(site.home)
    assert [c.subject.rfc4514_string() for c in loaded.chain] == [
        subject, "O=Test Trust Services,CN=Test Document Signing CA",
        "O=Test Trust Services,CN=Test Root CA"]
    assert signing.trust_roots(site.home) == [root]
    assert signing.describe(site.home)["kind"] == "imported"
    assert not (site.home / "signing" / "ca.sealed").exists()
    assert "Test Archive Signer" in _sign_and_check(site.home, [root])
    # a relying party that trusts another root does not trust the signature
    other = make_p12(tmp_path / "other.p12", None)
    status = _sign_and_validate(site.home, [other])
    assert status.intact and not status.trusted


@pytest.mark.parametrize("case, expect", [
    ("garbage", "not a PKCS#12 file"),
    ("passphrase", "not a PKCS#12 file"),
    ("no key", "no key"),
    ("expired", "not now"),
    ("not yet", "not now"),
    ("usage", "neither digitalSignature nor nonRepudiation"),
])
def test_bad_pkcs12_is_refused_and_nothing_changes(site, tmp_path, case, expect):
    signing.ensure_site_signer(site.home)
    before = signing.describe(site.home)
    p12 = tmp_path / "bad.p12"
    if case == "garbage":
        p12.write_bytes(b"\x30\x82" + bytes(range(256)) * 4)
    else:
        make_p12(p12, b"right", include_key=case != "no key",
                 days={"expired": (-800, -1), "not yet": (5, 700)}.get(case, (-1, 700)),
                 usage={"key_encipherment": True} if case == "usage" else None)
    passphrase = "wrong" if case == "passphrase" else "right"
    with pytest.raises(Invalid) as caught:
        signing.import_pkcs12(site.home, p12, passphrase)
    assert expect in str(caught.value) and "\n" not in str(caught.value)
    assert signing.describe(site.home) == before


def test_cli_ca_show_import(site, tmp_path):
    site.close()
    home = site.home
    ca = tmp_path / "ca.pem"
    run_lantai(home, "signing", "ca", "-o", str(ca))
    assert ca.read_bytes() == b"".join(signing.trust_roots(home))
    assert x509.load_pem_x509_certificates(ca.read_bytes())[0].subject.rfc4514_string() \
        .endswith("CN=Lantai Archive Local CA")
    shown = run_lantai(home, "signing", "show").stdout
    assert "Lantai Archive" in shown and signing.describe(home)["sha256"] in shown

    root = make_p12(tmp_path / "real.p12", b"s3cret")
    done = run_lantai(home, "signing", "import", str(tmp_path / "real.p12"),
                      "--passphrase-stdin", stdin="s3cret\n")
    assert "Test Archive Signer" in done.stdout
    run_lantai(home, "signing", "ca", "-o", str(ca))
    assert ca.read_bytes() == root

    (tmp_path / "bad.p12").write_bytes(b"not a certificate at all")
    bad = run_lantai(home, "signing", "import", str(tmp_path / "bad.p12"),
                     "--passphrase-stdin", stdin="x\n", check=False)
    assert bad.returncode == 5
    assert bad.stderr.startswith("lantai: error: bad.p12: not a PKCS#12 file")
    assert bad.stderr.count("\n") == 1
    assert signing.trust_roots(home) == [root]


def test_lantai_init_makes_the_signer(tmp_path):
    home = tmp_path / "fresh"
    run_lantai(home, "init", "--base", "https://archive.example.edu", "--password-stdin",
               stdin="a long enough password\n")
    assert signing.has_signer(home)
    cert = signing.load_signer(home).certificate
    assert cert.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=700)
