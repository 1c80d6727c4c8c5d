"""Originals sealed at rest (issue 14, item 2), end to end on a real site.

What a sealed site must do, each checked against the plaintext it was given: round trips at
every size that sits on a chunk edge, byte ranges through the staff download, a wrong key
refused naming both key ids, a changed byte caught by ``verify`` and by ``lantai fixity``, and
a copy of the site's folder without the key showing no plaintext and opening nothing.
The format's own attacks (a cut, chunks swapped or moved between files, an edited header, the
wrong data key) come first, on sealed bytes alone.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from staff_support import set_password, signed_in
from support import ITEM

from preservation import crypt, keys
from preservation.keys import MasterKeyError
from repo.cli import main
from repo.files import FileStore

KIB = 1024
SIZES = [0, 1, 64 * KIB - 1, 64 * KIB, 64 * KIB + 1, 3 * 64 * KIB + 5]
CANARY = b"CANARY-register-1957-name-list-"  # in the file's bytes only, never a description


def plaintext(size: int, seed: int = 14) -> bytes:
    return random.Random(seed * 1_000_003 + size).randbytes(size)


@pytest.fixture
def no_key_env(monkeypatch):
    """No key from the environment: the site's own key file beside it is the one used."""
    for name in ("LANTAI_KEY_FILE", "LANTAI_MASTER_KEY", "LANTAI_MASTER_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def describe(site, digest: str, slug: str, mime: str = "image/jpeg") -> None:
    """Name ``digest`` by an instantiation of the fixture item (the deposit listener then
    moves it from staging into the item's OCFL object)."""
    site.repo.create(site.admin, ITEM, "instantiation",
                     {"title": {"en": slug}, "digest": digest, "mime": mime},
                     slug=slug, key=slug)


def unsealed_bytes_seen(stored: Path, data: bytes) -> bool:
    """Does the stored file hold the plaintext? Asked only of 16 bytes or more: a shorter
    string turns up in random ciphertext by chance (one byte: in about one file in six)."""
    if len(data) < 16:
        return False
    return data in stored.read_bytes() if len(data) < 4096 \
        else data[1000:1400] in stored.read_bytes()


def read_sealed(sealed: bytes, key: bytes) -> bytes:
    return io.BufferedReader(crypt.SealedReader(io.BytesIO(sealed), key)).read()


def chunk_spans(size: int) -> list[tuple[int, int]]:
    """Where each sealed chunk (ciphertext and tag) of a ``size``-byte file sits."""
    spans, at = [], crypt.HEADER_BYTES
    for first in range(0, max(size, 1), crypt.CHUNK):
        length = min(crypt.CHUNK, size - first) + crypt.TAG
        spans.append((at, at + length))
        at += length
    return spans


@pytest.mark.parametrize("size", SIZES)
def test_the_format_round_trips_and_refuses_every_edit(size):
    """Sealed bytes alone: the size ``sealed_size`` says, the plaintext back, and a refusal
    for a changed byte anywhere, the wrong data key, and a cut at every chunk edge."""
    key, data = crypt.new_data_key(), plaintext(size)
    sealed = crypt.seal_bytes(data, key)
    assert len(sealed) == crypt.sealed_size(size) and sealed[:4] == crypt.MAGIC
    assert read_sealed(sealed, key) == data
    assert crypt.verify_sealed(io.BytesIO(sealed), key) == size
    with pytest.raises(crypt.DecryptionError):
        crypt.verify_sealed(io.BytesIO(sealed), crypt.new_data_key())
    rng = random.Random(size)
    for where in {4, 8, 15, 16, crypt.HEADER_BYTES, len(sealed) - 1,
                  rng.randrange(len(sealed))}:
        edited = bytearray(sealed)
        edited[where] ^= 1 << rng.randrange(8)
        with pytest.raises(crypt.DecryptionError):
            crypt.verify_sealed(io.BytesIO(bytes(edited)), key)
    for _, end in chunk_spans(size)[:-1]:
        with pytest.raises(crypt.DecryptionError):
            crypt.verify_sealed(io.BytesIO(sealed[:end]), key)


def test_chunks_swapped_or_moved_between_files_do_not_open():
    """Two chunks exchanged in one file, or a chunk of another file under the same key put in
    its place: refused (the nonce and associated data bind each chunk to its file and place);
    a header claiming a shorter file, with the cut made to match, is refused too."""
    key = crypt.new_data_key()
    one, two = plaintext(3 * crypt.CHUNK, seed=1), plaintext(3 * crypt.CHUNK, seed=2)
    a, b = crypt.seal_bytes(one, key), crypt.seal_bytes(two, key)
    spans = chunk_spans(len(one))
    (s0, e0), (s1, e1) = spans[0], spans[1]
    swapped = a[:s0] + a[s1:e1] + a[s0:e0] + a[e1:]
    moved = a[:s1] + b[s1:e1] + a[e1:]
    header = bytearray(a[:crypt.HEADER_BYTES])
    header[8:16] = (2 * crypt.CHUNK).to_bytes(8, "big")
    shortened = bytes(header) + a[crypt.HEADER_BYTES:spans[1][1]]
    for bad in (swapped, moved, shortened):
        with pytest.raises(crypt.DecryptionError):
            crypt.verify_sealed(io.BytesIO(bad), key)
    assert read_sealed(a, key) == one and read_sealed(b, key) == two


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_at_chunk_edges(site, no_key_env, size):
    """Stored sealed (the header, a tag per chunk, no plaintext), read back whole and from
    offsets on both sides of every chunk edge, deposited into OCFL and read again."""
    assert site.repo.settings.files_encrypted
    data = plaintext(size)
    with FileStore.for_site(site.home) as files:
        digest = files.put(data)
        info = files.info(digest)
        assert info.sealed and files.size(digest) == size
        staged = files.stored_path(digest)
        assert staged.read_bytes()[:4] == crypt.MAGIC
        assert staged.stat().st_size == crypt.sealed_size(size)
        assert not unsealed_bytes_seen(staged, data)
        with files.open(digest) as fh:
            assert fh.read() == data
    describe(site, digest, f"s{size}")
    with FileStore.for_site(site.home) as files:
        stored = files.stored_path(digest)
        assert stored != staged and stored.is_relative_to(site.home / "files")
        assert not staged.exists()
        assert stored.read_bytes()[:4] == crypt.MAGIC
        assert stored.stat().st_size == crypt.sealed_size(size)
        assert files.verify(digest)
        with files.open(digest) as fh:
            for edge in (0, 1, 64 * KIB - 1, 64 * KIB, 64 * KIB + 1, 128 * KIB - 3, size - 1):
                if 0 <= edge <= size:
                    fh.seek(edge)
                    assert fh.read(7) == data[edge:edge + 7], edge
        with files.local_path(digest, suffix=".bin") as path:
            assert path.read_bytes() == data
            assert path.parent == site.home / "tmp"
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert not path.exists()


def test_range_reads_through_the_staff_download(site, no_key_env):
    """The staff download of a sealed original answers byte ranges, each equal to the
    plaintext's slice, across chunk edges and to the end."""
    from publisher.app import create_app

    data = plaintext(3 * 64 * KIB + 5, seed=7)
    with FileStore.for_site(site.home) as files:
        digest = files.put(data)
    describe(site, digest, "scan-r")
    set_password(site.repo, "editor")
    home = site.home
    site.close()
    staff = signed_in(create_app(home), "editor")
    url = "/staff/files/-/original/scan-r"
    whole = staff.get(url)
    assert whole.status_code == 200, whole.get_data(as_text=True)[:300]
    assert whole.get_data() == data
    size = len(data)
    for first, last in ((0, 0), (0, 99), (64 * KIB - 10, 64 * KIB + 9),
                        (64 * KIB, 2 * 64 * KIB - 1), (3 * 64 * KIB - 1, size - 1),
                        (100_000, 150_000), (size - 5, size - 1)):
        resp = staff.get(url, headers={"Range": f"bytes={first}-{last}"})
        assert resp.status_code == 206, (first, last, resp.status_code)
        assert resp.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
        assert resp.get_data() == data[first:last + 1], (first, last)
    suffix = staff.get(url, headers={"Range": "bytes=-17"})
    assert suffix.status_code == 206 and suffix.get_data() == data[-17:]
    beyond = staff.get(url, headers={"Range": f"bytes={size + 10}-"})
    assert beyond.status_code == 416


def test_a_wrong_key_is_refused_naming_both_key_ids(site, no_key_env, tmp_path):
    """Another key file in LANTAI_KEY_FILE: nothing opens, the error names the site's key id
    and the one given, in one line; the site's files and key record are untouched."""
    data = plaintext(70_000, seed=3)
    with FileStore.for_site(site.home) as files:
        digest = files.put(data)
    describe(site, digest, "scan-k")
    home = site.home
    site.close()
    mine = keys.recorded_key_id(home)
    assert mine == keys.key_id(keys.read_key_file(keys.default_key_file(home)))
    other = tmp_path / "other.key"
    assert CliRunner().invoke(main, ["keys", "new", "-o", str(other)]).exit_code == 0
    theirs = keys.key_id(keys.read_key_file(other))
    assert theirs != mine
    no_key_env.setenv("LANTAI_KEY_FILE", str(other))
    with FileStore.for_site(home) as files:
        stored = files.stored_path(digest)
        before = stored.read_bytes()
        with pytest.raises(MasterKeyError) as caught:
            files.open(digest)
    message = str(caught.value)
    assert mine in message and theirs in message and "\n" not in message
    result = CliRunner().invoke(main, ["--home", str(home), "fixity", "--deep"])
    assert result.exit_code != 0
    errors = [line for line in result.output.splitlines() if line.startswith("lantai: error:")]
    assert len(errors) == 1 and mine in errors[0] and theirs in errors[0], result.output
    assert stored.read_bytes() == before and keys.recorded_key_id(home) == mine
    no_key_env.delenv("LANTAI_KEY_FILE")
    with FileStore.for_site(home) as files, files.open(digest) as fh:  # the right key
        assert fh.read() == data


def test_a_changed_byte_is_caught_by_verify_and_by_fixity(site, no_key_env):
    """One byte changed in the stored sealed bytes (ciphertext, tag or header): ``verify``
    says False, reading fails, and ``lantai fixity`` names the file and exits 1."""
    data = plaintext(3 * 64 * KIB + 5, seed=5)
    with FileStore.for_site(site.home) as files:
        digest = files.put(data)
        spare = files.put(plaintext(1000, seed=6))
    describe(site, digest, "scan-c")
    describe(site, spare, "scan-d")
    home = site.home
    site.close()
    with FileStore.for_site(home) as files:
        stored = files.stored_path(digest)
        assert files.verify(digest) and files.verify(spare)
        raw = bytearray(stored.read_bytes())
        where = crypt.HEADER_BYTES + 64 * KIB + 100  # inside the second chunk
        raw[where] ^= 0x20
        os.chmod(stored, 0o644)
        stored.write_bytes(bytes(raw))
        assert not files.verify(digest)
        assert files.verify(spare)
        with files.open(digest) as fh:
            assert fh.read(1000) == data[:1000]  # the first chunk still opens
            with pytest.raises(crypt.DecryptionError):
                fh.read()
    result = CliRunner().invoke(main, ["--home", str(home), "fixity"])
    assert result.exit_code == 1, result.output
    logical = "scan-c/content.jpg"
    assert logical in result.stdout and "scan-d/" not in result.stdout, result.stdout


def test_a_copy_without_the_key_shows_no_plaintext_and_opens_nothing(site, no_key_env,
                                                                     tmp_path):
    """Someone with the site's folder but not its key: no stored byte anywhere in the folder
    carries the canary written into the files (deposited and staged), and ``open`` fails in
    one line saying where keys are looked for."""
    deposited = CANARY * 4000 + b"end"
    waiting = b"staged " + CANARY * 50
    with FileStore.for_site(site.home) as files:
        digest = files.put(deposited)
        staged = files.put(waiting)
    describe(site, digest, "scan-x")
    home = site.home
    site.close()
    copy = tmp_path / "stolen" / "site"
    shutil.copytree(home, copy, symlinks=True)
    assert not keys.default_key_file(copy).exists()
    seen = 0
    for path in copy.rglob("*"):
        if path.is_file() and not path.is_symlink():
            seen += 1
            assert CANARY not in path.read_bytes(), path
    assert seen > 10
    with FileStore.for_site(copy) as files:
        assert digest in files and staged in files  # the index says what is there
        assert files.size(digest) == len(deposited)  # sizes are not secret
        for name in (digest, staged):
            with pytest.raises(MasterKeyError) as caught:
                files.open(name)
            message = str(caught.value)
            assert "\n" not in message and "LANTAI_KEY_FILE" in message, message
    result = CliRunner().invoke(main, ["--home", str(copy), "fixity", "--deep"])
    errors = [line for line in result.output.splitlines() if line.startswith("lantai: error:")]
    assert result.exit_code != 0 and len(errors) == 1, result.output
    # the original site, with its key, still reads both
    with FileStore.for_site(home) as files:
        assert files.open(digest).read() == deposited
        assert files.open(staged).read() == waiting


def test_no_store_of_an_encrypted_site_keeps_files_in_the_clear(site, no_key_env):
    """However the store is opened on an encrypted site, what it stores is sealed; asking
    for unsealed files there is refused."""
    from repo.errors import Invalid

    data = CANARY * 100
    with FileStore(site.home) as files:  # no settings given: the site's are read
        digest = files.put(data)
        assert files.info(digest).sealed
        assert CANARY not in files.stored_path(digest).read_bytes()
    with pytest.raises(Invalid, match="encrypted"):
        FileStore(site.home, encrypted=False)
    with pytest.raises(Invalid, match="for_site"):  # the constructor before issue 14
        FileStore(site.home / "files")
    assert not hasattr(FileStore, "path_for")  # no reader builds a path to stored bytes
    # nothing but the OCFL root's own entries (and objects' 3-hex-digit folders) under files/
    assert {p.name for p in (site.home / "files").iterdir() if len(p.name) != 3} == {
        "0=ocfl_1.1", "extensions", "ocfl_layout.json"}
