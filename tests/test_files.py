"""The file store (repo/files.py): content addressing, staging, the index, hostile inputs.

Every test runs twice: on a site whose files are stored as they are, and on one whose files are
sealed (AES-256-GCM, preservation.crypt); the store must answer the same either way.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from repo.errors import Invalid, NotFound
from repo.files import FileStore, parse_digest


@pytest.fixture(params=[False, True], ids=["plain", "sealed"])
def sealed(request: pytest.FixtureRequest, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> bool:
    keyfile = tmp_path / "master.key"  # outside the site folder, as the key must be
    keyfile.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    monkeypatch.setenv("LANTAI_KEY_FILE", str(keyfile))
    return bool(request.param)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "site"
    home.mkdir()
    return home


@pytest.fixture
def store(home: Path, sealed: bool) -> FileStore:
    return FileStore(home, encrypted=sealed, max_bytes=1000)


def test_put_is_content_addressed_and_idempotent(store: FileStore, tmp_path: Path,
                                                 sealed: bool) -> None:
    data = b"\xe5\x85\xb0\xe5\x8f\xb0 lantai"
    hexd = hashlib.sha256(data).hexdigest()
    digest = store.put(data)
    assert digest == f"sha256:{hexd}"
    path = store.stored_path(digest)
    assert path == store.home / "preservation" / "staging" / hexd[:2] / hexd
    assert (path.read_bytes() == data) is not sealed
    mtime = path.stat().st_mtime_ns
    src = tmp_path / "same.txt"
    src.write_bytes(data)
    assert store.put(src) == digest and store.put(str(src)) == digest
    assert path.stat().st_mtime_ns == mtime  # stored once
    assert [p.name for p in path.parent.iterdir()] == [hexd]  # no temporary file left behind
    with store.open(digest) as fh:
        assert fh.read() == data
    assert store.size(digest) == len(data)
    assert store.verify(digest) and store.verify_all().ok
    assert list(store.digests()) == [digest] and store.staged() == [digest]
    assert store.info(digest).sealed is sealed
    # nothing is written under files/ (the OCFL storage root) before the deposit
    assert not (store.home / "files").exists() or not any((store.home / "files").iterdir())


def test_the_index_is_shared_by_every_store_of_the_site(store: FileStore, home: Path,
                                                        sealed: bool) -> None:
    digest = store.put(b"one scan")
    other = FileStore(home, encrypted=sealed)
    assert digest in other and other.size(digest) == 8
    with other.open(digest) as fh:
        assert fh.read() == b"one scan"
    rows = sqlite3.connect(home / "preservation" / "index.sqlite3").execute(
        "SELECT digest, size, sealed, object_id FROM files").fetchall()
    assert rows == [(digest, 8, int(sealed), None)]


def test_files_are_read_in_chunks(home: Path, tmp_path: Path, sealed: bool) -> None:
    store = FileStore(home, encrypted=sealed)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * (1 << 20) + 17))
    digest = store.put(big)
    assert digest == "sha256:" + hashlib.sha256(big.read_bytes()).hexdigest()
    with store.open(digest) as fh:
        fh.seek(2 * (1 << 20) + 5)
        assert fh.read(100) == big.read_bytes()[2 * (1 << 20) + 5:][:100]
    with store.local_path(digest, suffix=".bin") as plain:
        assert plain.read_bytes() == big.read_bytes()
        if sealed:
            assert plain.suffix == ".bin"  # a tool that goes by the name sees the kind
            assert plain.parent == home / "tmp" and plain.stat().st_mode & 0o777 == 0o600
        else:
            assert plain == store.stored_path(digest)
    assert plain.exists() is not sealed  # the decrypted copy is gone on leaving


def test_hostile_inputs_are_refused(store: FileStore, home: Path, tmp_path: Path,
                                    sealed: bool) -> None:
    with pytest.raises(Invalid, match="directory"):
        store.put(tmp_path)
    with pytest.raises(NotFound):
        store.put(tmp_path / "missing.jpg")
    with pytest.raises(Invalid, match="above the limit"):
        store.put(b"x" * 1001)
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 1001)
    with pytest.raises(Invalid, match="above the limit"):
        store.put(big)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(Invalid, match="not a regular file"):
        store.put(fifo)
    # a symlink that leads out of its folder (e.g. to a system file) is refused …
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "evil.jpg").symlink_to(outside)
    with pytest.raises(Invalid, match="outside its folder"):
        store.put(inbox / "evil.jpg")
    # … one that stays inside is followed, and an allowed root widens what may be linked
    (inbox / "real.jpg").write_bytes(b"jpeg")
    (inbox / "alias.jpg").symlink_to(inbox / "real.jpg")
    assert store.put(inbox / "alias.jpg") == store.put(b"jpeg")
    wide = FileStore(home, encrypted=sealed, allowed_roots=[tmp_path])
    assert wide.put(inbox / "evil.jpg") == wide.put(b"secret")
    assert not list((home / "preservation" / "staging").glob("*/.*.part"))
    assert not list(store.digests()) or all(store.verify(d) for d in store.digests())


@pytest.mark.parametrize("bad", ["sha256:../../etc/passwd", "sha256:" + "A" * 64, "md5:abc",
                                 "sha256:" + "0" * 63, "", "sha256:" + "0" * 64 + "/x"])
def test_bad_digests_are_refused(store: FileStore, bad: str) -> None:
    for method in (store.stored_path, store.open, store.size, store.info):
        with pytest.raises(Invalid):
            method(bad)
    with pytest.raises(Invalid):
        parse_digest(bad)
    assert bad not in store


def test_fixity_finds_damage_and_a_new_put_repairs_a_staged_file(store: FileStore) -> None:
    good = store.put(b"good")
    bad = store.put(b"soon damaged")
    path = store.stored_path(bad)
    path.chmod(0o644)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1  # one flipped bit
    path.write_bytes(bytes(raw))
    assert store.verify(good) and not store.verify(bad)
    missing = "sha256:" + "0" * 64
    assert not store.verify(missing)
    with pytest.raises(NotFound):
        store.open(missing)
    gone = store.put(b"soon missing")
    store.stored_path(gone).unlink()
    assert gone not in store and not store.verify(gone)
    report = store.verify_all()
    assert not report.ok and report.checked == 3
    assert set(report.failed) == {bad, gone}
    # storing the right content again repairs the damaged (staged) copy
    assert store.put(b"soon damaged") == bad and store.verify(bad)
    assert store.put(b"soon missing") == gone and store.verify(gone)


def test_deposited_moves_the_name_to_the_ocfl_object(store: FileStore, home: Path,
                                                     sealed: bool) -> None:
    digest = store.put(b"a page")
    staged = store.stored_path(digest)
    # what the deposit does: the stored bytes, as they are, into the object's content
    content = home / "files" / "ab1" / "obj" / "v1" / "content" / "scan-1" / "page.jpg"
    content.parent.mkdir(parents=True)
    staged.rename(content)
    store.deposited(digest, "https://archive.example.edu/id/record/1", content)
    assert store.stored_path(digest) == content and store.staged() == []
    info = store.info(digest)
    assert info.object_id == "https://archive.example.edu/id/record/1"
    assert info.content_path == "ab1/obj/v1/content/scan-1/page.jpg"
    assert info.keyring_name == (digest if sealed else None)
    with store.open(digest) as fh:
        assert fh.read() == b"a page"
    # a deposited file is never discarded, and putting it again writes nothing
    assert not store.discard(digest) and content.exists()
    assert store.put(b"a page") == digest and not staged.exists()
    with pytest.raises(Invalid):
        store.deposited(digest, "x", home / "elsewhere")


def test_discard_removes_a_staged_file_nothing_names(store: FileStore) -> None:
    digest = store.put(b"an ingest that failed")
    path = store.stored_path(digest)
    assert store.discard(digest)
    assert not path.exists() and digest not in store and list(store.digests()) == []
    with pytest.raises(NotFound):
        store.stored_path(digest)


def test_files_of_an_old_site_are_read_in_place(home: Path, sealed: bool) -> None:
    """A site from before issue 14 (files/sha256/ab/cd/<hex>) reads until it is migrated."""
    data = b"an old scan"
    hexd = hashlib.sha256(data).hexdigest()
    old = home / "files" / "sha256" / hexd[:2] / hexd[2:4] / hexd
    old.parent.mkdir(parents=True)
    old.write_bytes(data)
    store = FileStore(home, encrypted=sealed)
    digest = f"sha256:{hexd}"
    assert digest in store and list(store.digests()) == [digest]
    assert store.stored_path(digest) == old and store.size(digest) == len(data)
    assert store.verify(digest) and not store.info(digest).sealed
    assert store.put(data) == digest and store.staged() == []  # nothing new
