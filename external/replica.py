"""``lantai engine replica DEST``: the home of a web worker on another machine.

A replica home has what the public surfaces read besides the publication (which they read
from the engine, ``publication_endpoint``): the settings, the **public catalog** (tantivy:
segment files never change once written, and ``meta.json`` names the live ones, so the
segments are copied first and ``meta.json`` last — a reader never meets a segment that is
not there yet), the **derivatives** (pyramids, thumbnails, OCR: files named by the
original's digest, never changed in place) and, on a site whose files are sealed, the
**derivative rows of the keyring** and the key id (the master key itself is not copied: give
it to the worker as to any process of the site, ``LANTAI_KEY_FILE``). Nothing else: no
working store, no staff catalog, no users, no requests, no originals — the replica serves
the public surfaces only (publisher/app.py) and its ``/staff``, ``/api``, ``/requests`` and
``/verify`` answer 404 (the reverse proxy sends them to the main machine).

Run again to refresh a replica (only what changed is copied; catalog segments and
derivatives the site no longer has are removed after the new ``meta.json`` is in place).
``docs/deploy.md`` gives the equivalent ``rsync`` lines for a copy to another machine.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from repo.config import read_settings
from repo.durable import write_atomically
from repo.errors import LantaiError

CATALOG = Path("catalog") / "public"
DERIVATIVES = Path("derivatives")
KEY_ID = Path("preservation") / "key-id"
KEYRING = Path("preservation") / "keyring.sqlite3"
DERIVATIVE_ROWS = "derivative:%"  # the keyring rows of derivatives (iiif.derivative_files)


@dataclass
class ReplicaReport:
    copied: int = 0  # files written
    kept: int = 0  # files already there, the same
    removed: int = 0  # files the site no longer has
    made: int = 0  # public images whose derivatives were made first (a replica has no originals)


def make_replica(home: Path, dest: Path) -> ReplicaReport:
    """Make or refresh the replica home ``dest`` of the site at ``home``."""
    home, dest = Path(home), Path(dest)
    settings = read_settings(home)
    if not settings.publication_endpoint:
        raise LantaiError("the site has no publication_endpoint: a replica reads the "
                          "publication from an engine (docs/deploy.md)")
    if (dest / "working").exists():
        raise LantaiError(f"{dest} is a site with a working store, not a replica")
    if dest.resolve() == home.resolve() or dest.resolve().is_relative_to(home.resolve()):
        raise LantaiError(f"{dest} is inside the site: give a folder outside it")
    report = ReplicaReport()
    report.made = _make_public_derivatives(home)
    dest.mkdir(parents=True, exist_ok=True)
    _copy_file(home / "lantai.toml", dest / "lantai.toml", report)
    _copy_catalog(home / CATALOG, dest / CATALOG, report)
    _copy_tree(home / DERIVATIVES, dest / DERIVATIVES, report)
    if (home / KEY_ID).exists():
        _copy_file(home / KEY_ID, dest / KEY_ID, report)
    if (home / KEYRING).exists():
        _copy_keyring(home / KEYRING, dest / KEYRING)
        report.copied += 1
    return report


_PUBLIC_IMAGES = """
PREFIX rico: <https://www.ica.org/standards/RiC/ontology#>
PREFIX dcterms: <http://purl.org/dc/terms/>
SELECT DISTINCT ?digest WHERE { GRAPH ?i {
  ?i dcterms:format ?mime ; rico:identifier ?digest . FILTER(STRSTARTS(STR(?mime), "image/"))
} }"""


def _make_public_derivatives(home: Path) -> int:
    """Make the pyramids of every public image that has none yet (the main machine makes
    them lazily on a first request; a replica cannot: it has no originals)."""
    from pyoxigraph import Store

    from iiif import derivatives

    store = Store.read_only(str(home / "publication"))
    made = 0
    for row in store.query(_PUBLIC_IMAGES):  # type: ignore[union-attr]
        digest = row[0].value
        try:
            folder = derivatives.derivatives_folder(home, digest)
        except LantaiError:
            continue
        if not (folder / derivatives.PYRAMID).is_file():
            try:
                derivatives.ensure_image_derivatives(home, digest)
                made += 1
            except derivatives.DerivativeError as exc:
                raise LantaiError(f"replica: the derivatives of {digest}: {exc}") from None
    return made


def _same(src: Path, dst: Path) -> bool:
    return dst.exists() and filecmp.cmp(src, dst, shallow=True)


def _copy_file(src: Path, dst: Path, report: ReplicaReport) -> None:
    if _same(src, dst):
        report.kept += 1
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(dst, src.read_bytes())
    shutil.copystat(src, dst)
    report.copied += 1


def _copy_catalog(src: Path, dst: Path, report: ReplicaReport) -> None:
    """Segments first, ``meta.json`` (which names the live segments) last, then what the
    new ``meta.json`` no longer names."""
    if not src.is_dir():
        raise LantaiError(f"{src}: no public catalog (lantai reindex --public makes it)")
    meta = (src / "meta.json").read_bytes()  # the live segments, as of now
    for entry in sorted(src.iterdir()):
        if entry.is_file() and entry.name != "meta.json" and not entry.name.startswith("."):
            with contextlib.suppress(FileNotFoundError):  # merged away meanwhile: not live
                _copy_file(entry, dst / entry.name, report)
    dst.mkdir(parents=True, exist_ok=True)
    write_atomically(dst / "meta.json", meta)
    report.copied += 1
    names = {e.name for e in src.iterdir()}
    for entry in dst.iterdir():
        if entry.is_file() and entry.name not in names and entry.name != "meta.json":
            entry.unlink()
            report.removed += 1


def _copy_tree(src: Path, dst: Path, report: ReplicaReport) -> None:
    if not src.is_dir():
        return
    for folder, _dirs, files in os.walk(src):
        rel = Path(folder).relative_to(src)
        for name in files:
            if name.startswith("."):  # a temporary file being written
                continue
            with contextlib.suppress(FileNotFoundError):
                _copy_file(Path(folder) / name, dst / rel / name, report)
    for folder, _dirs, files in os.walk(dst, topdown=False):
        rel = Path(folder).relative_to(dst)
        for name in files:
            if not (src / rel / name).exists():
                (Path(folder) / name).unlink()
                report.removed += 1
        if folder != str(dst) and not (src / rel).exists():
            with contextlib.suppress(OSError):
                Path(folder).rmdir()


def _copy_keyring(src: Path, dst: Path) -> None:
    """The keyring's derivative rows only (wrapped under the site's key), in a new file put
    in place atomically: a replica holds no data key of an original."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".new")
    tmp.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    target = sqlite3.connect(tmp)
    try:
        schema = [row[0] for row in source.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL")]
        for sql in schema:
            target.execute(sql)
        rows = source.execute("SELECT name, wrapped, kek FROM data_keys WHERE name LIKE ?",
                              (DERIVATIVE_ROWS,)).fetchall()
        target.executemany("INSERT INTO data_keys (name, wrapped, kek) VALUES (?, ?, ?)", rows)
        target.commit()
    finally:
        source.close()
        target.close()
    os.replace(tmp, dst)


def replica_command():  # -> click.Command (made here so that importing this module is cheap)
    """``lantai engine replica DEST`` (registered by repo/cli.py on ``lantai engine``)."""
    import click

    from repo.cli_support import Context, fail

    @click.command("replica")
    @click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
    @click.pass_obj
    def replica(ctx: Context, dest: Path) -> None:
        """Make or refresh DEST, the home of a web worker on another machine: settings,
        public catalog, derivatives (no working store; the publication is read from
        publication_endpoint). See docs/deploy.md."""
        try:
            report = make_replica(ctx.home, dest)
        except (LantaiError, OSError, sqlite3.Error) as exc:
            fail(exc if isinstance(exc, LantaiError) else LantaiError(f"replica: {exc}"))
        click.echo(f"replica {dest}: {report.copied} files copied, {report.kept} unchanged, "
                   f"{report.removed} removed ({report.made} images' derivatives made first)")

    return replica
