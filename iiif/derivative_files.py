"""Derivative files at rest: sealed when the site's files are, read as plaintext either way.

A pyramid, a thumbnail or a recording's poster shows what the original shows, so on a site
whose files are encrypted (``settings.files_encrypted``) they are sealed too, each under a
data key of its own in the site's keyring (``derivative:<hex>/<file name>``,
:mod:`preservation.keyring`), in the format of :mod:`preservation.crypt`. Every derivative is
sealed, whatever its record's access: the tile benchmark (``bench/tiles_sealed.py``,
``docs/benchmarks.md``) showed sealed tiles served at well above 0.8× the unsealed rate, so
there is no reason to keep open records' derivatives in the clear — and then a record closed
or opened needs nothing done to its derivatives, there is no window in which a closed
record's pyramid lies unsealed, and no rule to get wrong.

Readers never need to know: every reader goes through :class:`DerivativeFiles`, which tells a
sealed file from a plain one by its first four bytes (``LTE\\x01``; a JPEG starts ``\\xff\\xd8``,
a TIFF ``II*`` or ``MM``), so a site whose derivatives were made before encryption was switched
on keeps serving them (:meth:`DerivativeFiles.seal_existing` seals them in place).

Why sealed pyramids are quick to serve: derivatives are sealed in 16 KiB chunks
(:data:`CHUNK`, recorded in each file's header; originals use 64 KiB), so a stored 256 px JPEG
tile of ~20 KB costs two or three small AES-GCM decryptions (~10 µs each) on top of its
``pread``; and libvips reads a sealed pyramid through a :class:`pyvips.SourceCustom` over the
plaintext reader, tile by tile, so a rendered tile decrypts only the tiles it crops.

Plaintext never lies under a derivative's name: a derivative is made in ``{home}/tmp/``
(mode 0600, removed at once) and sealed into a temporary file beside its target, which is
fsynced and renamed into place.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, ClassVar

import pyvips

from preservation import crypt
from preservation.keyring import Keyring
from repo.durable import fsync_dir

log = logging.getLogger("lantai.derivatives")
CHUNK = 16 * 1024  # plaintext bytes per sealed chunk of a derivative (see the docstring)
TMP = "tmp"  # {home}/tmp: where plaintext is made before it is sealed
KEYS_KEPT = 4096  # data keys kept in memory per site (a tile request then opens no SQLite)
PIECE = 1 << 20  # bytes read at a time while sealing
READERS_KEPT = 64  # sealed pyramids kept open per site and process (one descriptor each)
CHUNKS_KEPT_BYTES = 32 * 1024 * 1024  # decrypted chunks kept per site and process
DERIVATIVES = "derivatives"  # {home}/derivatives/{hex}/{file}
UNSEALED = frozenset({"ocr.json"})  # written by iiif.ocr, which does not read through here yet


def keyring_name(path: Path) -> str:
    """``derivative:<hex>/<file>`` for ``{home}/derivatives/<hex>/<file>``."""
    return f"derivative:{path.parent.name}/{path.name}"


def is_sealed(path: Path | str) -> bool:
    """Whether the file at ``path`` is sealed (its first bytes are the sealed format's)."""
    with open(path, "rb") as fh:
        return fh.read(len(crypt.MAGIC)) == crypt.MAGIC


class DerivativeFiles:
    """The derivative files of one site: written sealed or plain, read as plaintext.

    One per site and process (:meth:`for_site`); thread-safe. The keyring is opened on the
    first sealed file read or written, so a site without encryption never needs a key.
    """

    _sites: ClassVar[dict[str, DerivativeFiles]] = {}
    _sites_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, home: Path | str, *, sealing: bool | None = None,
                 keyring: Keyring | None = None) -> None:
        self.home = Path(home)
        self._sealing = sealing
        self._keyring = keyring
        self._keys: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._readers: OrderedDict[tuple, tuple[threading.Lock, crypt.SealedReader]] = \
            OrderedDict()
        self.chunks = ChunkCache()

    @classmethod
    def for_site(cls, home: Path | str) -> DerivativeFiles:
        """The shared instance for the site at ``home``."""
        key = os.path.abspath(home)  # no system call: this is on every tile's path
        with cls._sites_lock:
            found = cls._sites.get(key)
            if found is None:
                found = cls._sites[key] = cls(home)
            return found

    @classmethod
    def forget_sites(cls) -> None:
        """Drop every shared instance (a test that changes a site's key or settings)."""
        with cls._sites_lock:
            sites, cls._sites = list(cls._sites.values()), {}
        for site in sites:
            site.close()

    def close(self) -> None:
        with self._lock:
            if self._keyring is not None:
                self._keyring.close()
                self._keyring = None
            self._keys.clear()
            for _lock, reader in self._readers.values():
                reader.close()
            self._readers.clear()

    # ------------------------------------------------------------------ policy and keys
    @property
    def sealing(self) -> bool:
        """Whether new derivatives are sealed: when the site's files are
        (``settings.files_encrypted``), read from its settings on every call (cheap: new
        derivatives are rare), so ``lantai files migrate --encrypt`` takes effect at once."""
        if self._sealing is not None:
            return self._sealing
        from repo.config import read_settings

        return bool(read_settings(self.home).files_encrypted)

    def _ring(self) -> Keyring:
        if self._keyring is None:
            self._keyring = Keyring.open(self.home)
        return self._keyring

    def data_key(self, path: Path, *, create: bool = False) -> bytes:
        """The data key of the derivative at ``path`` (kept in memory once looked up)."""
        name = keyring_name(path)
        with self._lock:
            key = self._keys.get(name)
            if key is not None:
                self._keys.move_to_end(name)
                return key
            key = self._ring().data_key(name, create=create)
            self._keys[name] = key
            while len(self._keys) > KEYS_KEPT:
                self._keys.popitem(last=False)
            return key

    # ------------------------------------------------------------------ writing
    @contextlib.contextmanager
    def plaintext_file(self, target: Path) -> Iterator[Path]:
        """A fresh temporary path to make ``target``'s plaintext in: in ``{home}/tmp/``
        (mode 0600) when the site seals derivatives, else beside the target. Removed on
        exit, whatever happened."""
        folder = self.home / TMP if self.sealing else target.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix=f".{target.stem}-", suffix=target.suffix)
        os.close(fd)
        tmp = Path(name)
        try:
            yield tmp
        finally:
            tmp.unlink(missing_ok=True)

    def store(self, plaintext: Path, target: Path) -> None:
        """Put the finished ``plaintext`` file in place as ``target``: sealed (streamed)
        when the site seals derivatives, else as it is; durably and all or nothing."""
        target.parent.mkdir(parents=True, exist_ok=True)
        if not self.sealing:
            with open(plaintext, "rb+") as fh:
                os.fsync(fh.fileno())
            os.chmod(plaintext, 0o644)  # mkstemp makes 0600; the web server may be another user
            os.replace(plaintext, target)
            fsync_dir(target.parent)
            return
        key = self.data_key(target, create=True)
        size = plaintext.stat().st_size
        with open(plaintext, "rb") as src:
            self._write_sealed(target, crypt.seal_chunks(iter(lambda: src.read(PIECE), b""),
                                                         size, key, CHUNK))

    def write_bytes(self, target: Path, data: bytes) -> None:
        """``target`` holds ``data`` (sealed when the site seals derivatives)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.sealing:
            key = self.data_key(target, create=True)
            self._write_sealed(target, crypt.seal_chunks([data], len(data), key, CHUNK))
            return
        self._write_pieces(target, [data], 0o644)

    def _write_sealed(self, target: Path, pieces) -> None:
        self._write_pieces(target, pieces, 0o644)

    @staticmethod
    def _write_pieces(target: Path, pieces, mode: int) -> None:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-",
                                    suffix=target.suffix)
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                for piece in pieces:
                    out.write(piece)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(target.parent)

    def seal_existing(self, path: Path) -> bool:
        """Seal a derivative made before the site's files were encrypted, in place; True
        when it was sealed now (False: already sealed, or the site does not seal)."""
        if not self.sealing or not path.is_file() or is_sealed(path):
            return False
        self.store_copy(path)
        return True

    def store_copy(self, path: Path) -> None:
        """Seal the plain file ``path`` over itself (through a temporary file)."""
        key = self.data_key(path, create=True)
        size = path.stat().st_size
        with open(path, "rb") as src:
            self._write_sealed(path, crypt.seal_chunks(iter(lambda: src.read(PIECE), b""),
                                                       size, key, CHUNK))

    # ------------------------------------------------------------------ reading
    def open(self, path: Path) -> BinaryIO:
        """The plaintext of the derivative at ``path``, seekable (sealed or not).
        FileNotFoundError when it is missing, :class:`preservation.crypt.DecryptionError`
        when it is sealed and does not open."""
        raw = open(path, "rb", buffering=0)  # noqa: SIM115 - handed to the reader, closed by it
        try:
            if raw.read(len(crypt.MAGIC)) != crypt.MAGIC:
                raw.seek(0)
                return io.BufferedReader(raw)
            raw.seek(0)
            reader = crypt.SealedReader(raw, self.data_key(path), name=path.name)
        except BaseException:
            raw.close()
            raise
        return io.BufferedReader(reader, buffer_size=CHUNK)

    @contextlib.contextmanager
    def local_path(self, path: Path) -> Iterator[Path]:
        """A path to the plaintext of the derivative at ``path`` for a tool that wants one:
        the file itself when plain, else a decrypted copy in ``{home}/tmp`` (mode 0600),
        removed on leaving."""
        if not is_sealed(path):
            yield path
            return
        folder = self.home / TMP
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix="plain-", suffix=path.suffix)
        copy = Path(name)
        try:
            with os.fdopen(fd, "wb") as out, self.open(path) as src:
                while piece := src.read(PIECE):
                    out.write(piece)
            yield copy
        finally:
            copy.unlink(missing_ok=True)

    def read_bytes(self, path: Path) -> bytes:
        with self.open(path) as fh:
            return fh.read()

    def read_at(self, path: Path, offset: int, count: int, *, sealed: bool) -> bytes:
        """``count`` plaintext bytes at ``offset`` (a stored tile): one ``pread`` of a plain
        file; for a sealed one, through its :class:`~preservation.crypt.SealedReader` (kept
        open per file version), the two or three chunks that hold them, each checked — or
        taken from the bounded cache of chunks decrypted lately (:class:`ChunkCache`)."""
        if not sealed:
            fd = os.open(path, os.O_RDONLY)
            try:
                return os.pread(fd, count, offset)
            finally:
                os.close(fd)
        st = os.stat(path)
        version = (str(path), st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            found = self._readers.get(version)
            if found is not None:
                self._readers.move_to_end(version)
        if found is None:
            raw = open(path, "rb", buffering=0)  # noqa: SIM115 - kept open with its reader
            try:
                fresh = _CachingReader(raw, self.data_key(path), name=path.name,
                                       cache=self.chunks, ident=version)
            except BaseException:
                raw.close()
                raise
            found = (threading.Lock(), fresh)
            with self._lock:
                self._readers[version] = found
                while len(self._readers) > READERS_KEPT:
                    # not closed here: a thread may be reading it; its file closes when the
                    # last reference goes
                    self._readers.popitem(last=False)
        lock, reader = found
        out = bytearray(count)
        with lock:
            reader.seek(offset)
            got = reader.readinto(out)
        return bytes(out[:got])

    def vips_image(self, path: Path, **options) -> pyvips.Image:
        """The image at ``path`` for libvips (``page=``, ``revalidate=`` … as for
        ``new_from_file``): from the file itself when plain, else through a custom source
        over the plaintext reader, read on demand (libvips reads only the tiles it needs)."""
        if not is_sealed(path):
            return pyvips.Image.new_from_file(str(path), **options)
        options.pop("revalidate", None)  # a new source is read afresh anyway
        return image_from_stream(self.open(path), **options)


class ChunkCache:
    """Chunks of sealed derivatives decrypted lately, bounded in bytes (an LRU, per process):
    for sealed pyramids what the operating system's page cache is for plain ones. Only what
    the image API served is in it (public images), and only in memory. The image API's cache
    of rendered answers is the same LRU (:class:`iiif.image_api.RenderedImages`)."""

    def __init__(self, max_bytes: int = CHUNKS_KEPT_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return data

    def put(self, key: tuple, data: bytes) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = data
            self._bytes += len(data)
            while self._bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._bytes -= len(old)


class _CachingReader(crypt.SealedReader):
    """A :class:`~preservation.crypt.SealedReader` that looks in a :class:`ChunkCache` before
    it decrypts a chunk (``ident`` names the file version: a remade file is another)."""

    def __init__(self, raw, key: bytes, *, name: str, cache: ChunkCache, ident: tuple) -> None:
        super().__init__(raw, key, name=name)
        self._shared, self._ident = cache, ident

    def _plain_chunk(self, index: int) -> bytes:
        key = (self._ident, index)
        plain = self._shared.get(key)
        if plain is None:
            plain = super()._plain_chunk(index)
            self._shared.put(key, plain)
        return plain


def reader_source(stream: BinaryIO) -> pyvips.SourceCustom:
    """A libvips source reading ``stream`` (seekable), safe to use from libvips' threads."""
    lock = threading.Lock()
    source = pyvips.SourceCustom()

    def on_read(size: int) -> bytes:
        with lock:
            try:
                return stream.read(size)
            except (crypt.DecryptionError, OSError) as exc:
                # an exception cannot cross libvips: it reads an end of file, fails to
                # decode, and the caller gets a pyvips.Error (and remakes the derivative)
                log.warning("lantai: %s", exc)
                return b""

    def on_seek(offset: int, whence: int) -> int:
        with lock:
            return stream.seek(offset, whence)

    source.on_read(on_read)
    source.on_seek(on_seek)
    return source


def image_from_stream(stream: BinaryIO, **options) -> pyvips.Image:
    """An image libvips decodes from ``stream`` (seekable, plaintext), read on demand."""
    source = reader_source(stream)
    try:
        image = pyvips.Image.new_from_source(source, "", **options)
    except BaseException:
        stream.close()
        raise
    # pyvips keeps the source (and so its callbacks and the stream they read) with the
    # image and every image made from it: it lives as long as libvips may read it
    return image


def seal_site(home: Path | str) -> int:
    """Seal in place every derivative of the site at ``home`` that is not sealed yet, when
    its files are encrypted (a site made before issue 14, after ``lantai files migrate
    --encrypt``); how many were sealed. Derivatives are regenerable, so deleting them would
    do too, but remaking 355,800 pyramids takes days and sealing them minutes."""
    files = DerivativeFiles.for_site(home)
    if not files.sealing:
        return 0
    done = 0
    for path in sorted((Path(home) / DERIVATIVES).glob("*/*")):
        if path.name.startswith(".") or not path.is_file() or path.name in UNSEALED:
            continue
        done += files.seal_existing(path)
    return done


def raw_is_clear(path: Path) -> bool:
    """Whether the raw bytes at ``path`` start like an image or a JSON file (for checks:
    a sealed derivative never does)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    return head.startswith((b"\xff\xd8", b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+",
                            b"{", b"\x89PNG"))


__all__ = ["CHUNK", "ChunkCache", "DerivativeFiles", "image_from_stream", "is_sealed",
           "keyring_name", "raw_is_clear", "reader_source", "seal_site"]
