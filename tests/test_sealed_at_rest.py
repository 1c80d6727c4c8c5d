"""Sealed at rest (issue 14, item 2): on a site made by ``lantai init`` (files encrypted), with
the demo loaded, no file content is anywhere under the site folder in the clear.

Canaries — unique strings inside content — go in by the real paths: an original attached by
media ingest, a document filed by a unit (the receiving area) and attached by the review, a
request's identity image. Then every file under the site folder but the description stores
(``working/``, ``publication/``, ``catalog/``: descriptions, not file content) is scanned for
them: none may appear, not in ``tmp/`` either. With the key, each opens through Lantai and
reads back; a copy of the folder without the key still passes ``lantai fixity`` (the sealed
bytes are checked against the OCFL inventories, no key needed) but opens nothing.
"""
from __future__ import annotations

import io
import secrets
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image, PngImagePlugin

from repo.cli import main
from repo.errors import LantaiError
from repo.files import FileStore
from repo.repository import Repository
from services.filing.review import attach_documents
from services.filing.store import FilingStore
from services.requests.model import Personal
from services.requests.store import RequestStore

RECORD = "/xjtu/xz/relocation-telegram"  # a demo record that holds a scan
DESCRIPTIONS = {"working", "publication", "catalog"}
KEY_VARIABLES = ("LANTAI_KEY_FILE", "LANTAI_MASTER_KEY", "LANTAI_MASTER_KEY_FILE")


def png_with(text: str) -> bytes:
    """A real PNG whose tEXt chunk carries ``text`` (so the bytes hold it verbatim)."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text)
    out = io.BytesIO()
    Image.new("RGB", (96, 64), "teal").save(out, "PNG", pnginfo=info)
    return out.getvalue()


def pdf_with(text: str) -> bytes:
    body = f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET".encode()
    return (b"%PDF-1.4\n1 0 obj << /Length " + str(len(body)).encode() + b" >> stream\n"
            + body + b"\nendstream endobj\ntrailer << >>\n%%EOF\n")


def lantai(home: Path, *args: str):
    return CliRunner().invoke(main, ["--home", str(home), *args], catch_exceptions=False)


def scan(home: Path, canaries: dict[str, bytes]) -> list[str]:
    """Every file under ``home`` (but the description stores) holding a canary."""
    found = []
    for path in sorted(home.rglob("*")):
        rel = path.relative_to(home)
        if rel.parts[0] in DESCRIPTIONS or not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        found += [f"{rel}: {what}" for what, canary in canaries.items() if canary in data]
    return found


@pytest.mark.slow
def test_no_content_in_the_clear_and_nothing_opens_without_the_key(tmp_path, monkeypatch):
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "site"
    made = CliRunner().invoke(main, ["--home", str(home), "init", "--base",
                                     "https://archive.example.edu", "--password-stdin"],
                              input="a long enough password\n", catch_exceptions=False)
    assert made.exit_code == 0, made.output
    assert not any(home.rglob("*.key"))  # the key is beside the site, never in it
    assert (tmp_path / "site.key").is_file()
    loaded = lantai(home, "demo")
    assert loaded.exit_code == 0, loaded.output

    canaries = {what: f"CANARY-{what}-{secrets.token_hex(12)}".encode()
                for what in ("original", "filed", "attached", "idimage")}
    sources = tmp_path / "sources"
    sources.mkdir()
    scan_png = sources / "scan-2.png"
    scan_png.write_bytes(png_with(canaries["original"].decode()))
    filed_pdf = sources / "filed.pdf"
    filed_pdf.write_bytes(pdf_with(canaries["filed"].decode()))
    attached_pdf = sources / "attached.pdf"
    attached_pdf.write_bytes(pdf_with(canaries["attached"].decode()))
    id_image = png_with(canaries["idimage"].decode())

    repo = Repository.open(home)
    try:
        admin = repo.user("admin")
        from iiif.media import ingest_media

        result = ingest_media(repo, admin, RECORD, [scan_png], ocr=False)
        [original] = [a.digest for a in result.attached]
        filing = FilingStore.open(home)
        kept = filing.put_file(filed_pdf)  # waits in the receiving area
        sent = filing.put_file(attached_pdf)  # accepted: attached to the record
        record = repo.load(repo.resolve(RECORD))
        assert record is not None
        with filing.local_file(sent.sha256, suffix=".pdf") as plain:
            attach_documents(repo, admin, record, [(plain, sent)])
        requests = RequestStore.open(home)
        req = requests.create(kind="transcript", languages=("zh",), copies=1,
                              delivery="electronic", channel="web", verified=True,
                              personal=Personal(name="测试人", student_number="S00001",
                                                id_number="610102199901010000",
                                                email="t@example.org", purpose="visa"))
        requests.set_id_image(req.id, id_image)
    finally:
        repo.close()
    for src in (scan_png, filed_pdf, attached_pdf):
        src.unlink()  # only the site holds them now

    assert scan(home, canaries) == []
    assert not [p for p in (home / "tmp").rglob("*") if p.is_file() and "plain" in p.name]

    # with the key: each opens through Lantai and reads back
    with FileStore.for_site(home) as files:
        assert canaries["original"] in files.open(original).read()
        attached = f"sha256:{sent.sha256}"
        assert attached in files
        assert canaries["attached"] in files.open(attached).read()
    assert canaries["filed"] in FilingStore.open(home).open_file(kept.sha256).read()
    assert canaries["idimage"] in RequestStore.open(home).id_image(req.id)

    # a copy of the folder without the key: fixity runs, nothing opens
    copy = tmp_path / "copy"
    shutil.copytree(home, copy, symlinks=True)
    assert not (tmp_path / "copy.key").exists()
    checked = lantai(copy, "fixity")
    assert checked.exit_code == 0, checked.output
    with FileStore.for_site(copy) as files, pytest.raises(LantaiError):
        files.open(original).read()
    with pytest.raises(LantaiError):
        FilingStore.open(copy).open_file(kept.sha256).read()
    with pytest.raises(LantaiError):
        RequestStore.open(copy).id_image(req.id)
    assert scan(copy, canaries) == []


def test_receiving_area_seals_new_files_and_reads_old_plain_ones(site, tmp_path):
    """A file received on an encrypted site is sealed (crypt header, its own data key); one
    written before encryption (no header) still reads as it is."""
    import hashlib

    from preservation.crypt import MAGIC
    from preservation.keyring import Keyring

    filing = FilingStore.open(site.home)
    new = tmp_path / "new.pdf"
    new.write_bytes(pdf_with("received after encryption"))
    filed = filing.put_file(new)
    stored = filing.file_path(filed.sha256).read_bytes()
    assert stored.startswith(MAGIC) and b"received after encryption" not in stored
    ring = Keyring.open(site.home)
    try:
        assert ring.has(f"filing:{filed.sha256}")
    finally:
        ring.close()
    assert filing.open_file(filed.sha256).read() == new.read_bytes()
    with filing.local_file(filed.sha256) as plain:
        assert plain.read_bytes() == new.read_bytes() and plain.stat().st_mode & 0o077 == 0
    assert not plain.exists()

    old = pdf_with("received before encryption")
    sha = hashlib.sha256(old).hexdigest()
    filing.file_path(sha).parent.mkdir(parents=True, exist_ok=True)
    filing.file_path(sha).write_bytes(old)  # as put_file wrote it before this issue
    assert filing.open_file(sha).read() == old
    with filing.local_file(sha) as plain:
        assert plain.read_bytes() == old
