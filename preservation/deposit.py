"""After each changeset, the files of the records it touched go into their OCFL objects.

Files arrive before the changeset that names them (``FileStore.put`` stages them in
``{home}/preservation/staging``); once the descriptions are committed, this listener gives
each record that holds files (the parent of instantiations with a ``digest``) an OCFL object
whose id is the record's IRI (:mod:`preservation.ocfl`), holding:

- ``<instantiation slug>/content.<ext>``: the stored bytes as they are (sealed when the
  site's files are encrypted), the extension from the media type (no original file name is
  kept: a name may say more than the description that is allowed to say it);
- ``lantai/files.json``: per instantiation its IRI, plaintext digest, size, media type,
  logical path, whether it is sealed and the name of its data key in the keyring. No
  description text and no personal data: those live in the stores, behind their rules.

A new version is written only when something changed (a file added, replaced or removed);
old versions keep the old files. A record that is deleted keeps its object as it was
(preservation does not forget). Staged bytes are *moved* into the object (hard link, then
unlink after the version is committed) and ``FileStore.deposited`` records where they went;
bytes already deposited in another object are copied. A deposit that fails loses nothing:
the staged copy stays, a marker says so, and the next changeset (or ``lantai files
deposit``) tries again. During a bulk ingest the records are gathered and deposited once at
the end, one version per record, not one per file.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyoxigraph import Literal, NamedNode

from preservation.ocfl import StorageRoot
from repo.durable import fsync_dir
from repo.errors import NotFound

log = logging.getLogger("lantai.preservation")

RICO = "https://www.ica.org/standards/RiC/ontology#"
IDENTIFIER = RICO + "identifier"
FORMAT = "http://purl.org/dc/terms/format"
FILES_JSON = "lantai/files.json"
FILES_JSON_FORMAT = "https://lantai.example/ocfl/files/1"  # names this file's layout
PENDING = Path("preservation") / "deposit-pending"  # a deposit failed: retry staged files
LEGACY_NAMES = ("sha256", "tmp", "ingesting")  # what files/ held before it was OCFL
AUTO_MIGRATE = True  # ``lantai files migrate`` turns it off to migrate with its own options
_EXTENSIONS = {"image/jpeg": ".jpg", "image/tiff": ".tif", "audio/mpeg": ".mp3",
               "text/plain": ".txt", "text/vtt": ".vtt", "video/mp4": ".mp4",
               "audio/mp4": ".m4a", "application/pdf": ".pdf"}


@dataclass(frozen=True)
class FileEntry:
    """One instantiation of a record and the file it names."""

    iri: str
    slug: str
    digest: str  # sha256:<hex> of the plaintext
    mime: str

    @property
    def logical_path(self) -> str:
        ext = _EXTENSIONS.get(self.mime) or mimetypes.guess_extension(self.mime or "") or ".bin"
        return f"{self.slug}/content{ext}"


@dataclass
class DepositReport:
    """What :func:`deposit` did."""

    records: int = 0  # records looked at
    versions: int = 0  # new OCFL versions written
    deposited: int = 0  # files moved from staging (or the old layout) into an object
    missing: list[str] = field(default_factory=list)  # digests named but stored nowhere
    failed: dict[str, str] = field(default_factory=dict)  # record → one-line reason


def storage_root(home: Path) -> StorageRoot:
    """The site's OCFL root (created when ``files/`` is empty or holds only the old layout)."""
    return StorageRoot(Path(home) / "files", work=Path(home) / "tmp" / "ocfl",
                       tolerate=LEGACY_NAMES)


def _entry(obj: Any) -> FileEntry | None:
    if obj is None or obj.type_name != "instantiation" or obj.deleted:
        return None
    digest = mime = ""
    node = obj.node
    for q in obj.description:
        if q.subject != node or not isinstance(q.object, Literal):
            continue
        if q.predicate.value == IDENTIFIER and q.object.value.startswith("sha256:"):
            digest = q.object.value
        elif q.predicate.value == FORMAT:
            mime = q.object.value
    return FileEntry(obj.iri, obj.slug, digest, mime) if digest else None


def record_files(repository: Any, record: str) -> list[FileEntry] | None:
    """The files a record holds now (its live instantiations with a digest), in order;
    None when the record is gone (deleted or never there): its object stays as it was."""
    obj = repository.load(record)
    if obj is None or obj.deleted:
        return None
    entries = [_entry(repository.load(kid)) for kid in repository.child_iris(record)]
    return [e for e in entries if e is not None]


def records_touched(repository: Any, iris: Iterable[str]) -> set[str]:
    """The records whose files a changeset over ``iris`` may have changed: the record of each
    instantiation touched (for a deleted one, the record it was deleted from), and the record
    whose object holds a file an instantiation names now (it may have moved elsewhere)."""
    prefix = f"{repository.base}/id/instantiation/"
    records: set[str] = set()
    for iri in iris:
        if not iri.startswith(prefix):
            continue
        obj = repository.load(iri)
        if obj is None:
            continue
        if obj.deleted:
            former = obj.mgmt.get("deletedFrom") or []
            records.update(t.value for t in former if isinstance(t, NamedNode))
            continue
        if obj.parent and obj.parent != repository.root_iri:
            records.add(obj.parent)
    return records


def records_naming(repository: Any, digests: Iterable[str]) -> set[str]:
    """The records of the live instantiations that name any of ``digests``."""
    records: set[str] = set()
    for digest in digests:
        query = f"SELECT DISTINCT ?i WHERE {{ GRAPH ?i {{ ?i <{IDENTIFIER}> {Literal(digest)} }} }}"
        for row in repository.working.query(query):
            records |= records_touched(repository, [row["i"].value])
    return records


def records_holding_files(repository: Any) -> set[str]:
    """Every record that holds a file (a live instantiation with a digest)."""
    query = (f"SELECT DISTINCT ?i WHERE {{ GRAPH ?i {{ ?i <{IDENTIFIER}> ?d "
             'FILTER(STRSTARTS(STR(?d), "sha256:")) } }')
    iris = [row["i"].value for row in repository.working.query(query)]
    return records_touched(repository, iris)


class Depositor:
    """Puts records' files into their OCFL objects (one per site, kept by the listener)."""

    def __init__(self, home: Path, settings: Any = None, *, store: Any = None) -> None:
        self.home = Path(home)
        self.settings = settings
        self.root = storage_root(self.home)
        self._store = store
        self._own_store = store is None

    @property
    def store(self) -> Any:
        if self._store is None:
            from repo.files import FileStore

            self._store = FileStore.for_site(self.home, self.settings)
        return self._store

    def close(self) -> None:
        if self._own_store and self._store is not None:
            self._store.close()
            self._store = None

    # ------------------------------------------------------------------ one record
    def deposit_record(self, repository: Any, record: str, report: DepositReport) -> None:
        entries = record_files(repository, record)
        report.records += 1
        if entries is None:
            return
        if not entries and not self.root.has_object(record):
            return
        inventory = self.root.inventory(record)
        current = self.root.logical_state(record) if inventory else {}
        by_content = {}  # content path → OCFL digest, for files already in this object
        for digest, paths in (inventory or {}).get("manifest", {}).items():
            for path in paths:
                by_content[path] = digest
        listed = self._listed(record) if inventory else {}
        files: dict[str, Path] = {}
        hints: dict[str, str] = {}
        arriving: dict[str, str] = {}  # logical path → plaintext digest to mark deposited
        listing = []
        keep: set[str] = set()
        moving: set[str] = set()  # staged files: moved (linked, then unlinked) into place
        obj_dir = self.root.object_path(record)
        for entry in entries:
            logical = entry.logical_path
            try:
                info = self.store.info(entry.digest)
            except NotFound:
                # stored nowhere the index knows: in this object already (a crash between the
                # version and the index), or lost (reported, and the object keeps what it has)
                if logical in current and listed.get(logical, {}).get("digest") == entry.digest:
                    keep.add(logical)
                    listing.append(listed[logical])
                    arriving[logical] = entry.digest
                else:
                    report.missing.append(entry.digest)
                continue
            row = {"instantiation": entry.iri, "digest": entry.digest, "size": info.size,
                   "mediaType": entry.mime, "path": logical, "sealed": info.sealed,
                   "keyringName": info.keyring_name}
            listing.append(row)
            if info.object_id == record and info.content_path is not None:
                rel = str((self.root.root / info.content_path).relative_to(obj_dir))
                ocfl_digest = by_content.get(rel)
                if ocfl_digest is not None:
                    if current.get(logical) != ocfl_digest:
                        files[logical] = obj_dir / rel
                        hints[logical] = ocfl_digest
                    else:
                        keep.add(logical)
                    continue
            files[logical] = self.store.stored_path(entry.digest)
            if info.object_id is None:
                arriving[logical] = entry.digest
                if info.content_path is None:  # staged (else the old layout: copied)
                    moving.add(logical)
        wanted = {e.logical_path for e in entries} | {FILES_JSON}
        remove = [p for p in current if p not in wanted]
        listing_file = self._listing_file(record, listing)
        try:
            head = self.root.head(record)
            new_head = self.root.add_version(
                record, {**files, FILES_JSON: listing_file}, remove=remove, digests=hints,
                message=f"Lantai deposit: files of {record}",
                user=("Lantai", f"{repository.base}/"), move=moving)
        finally:
            listing_file.unlink(missing_ok=True)
        if new_head != head:
            report.versions += 1
        for logical, digest in arriving.items():
            try:
                path = self.root.content_path(record, logical)
            except NotFound:
                continue
            self.store.deposited(digest, record, path)
            report.deposited += 1

    def _listed(self, record: str) -> dict[str, dict]:
        """What the object's ``lantai/files.json`` says, by logical path."""
        try:
            data = json.loads(self.root.content_path(record, FILES_JSON).read_bytes())
        except (NotFound, OSError, ValueError):
            return {}
        return {row["path"]: row for row in data.get("files", []) if "path" in row}

    def _listing_file(self, record: str, listing: list[dict]) -> Path:
        data = {"format": FILES_JSON_FORMAT, "object": record,
                "files": sorted(listing, key=lambda r: r["path"])}
        work = self.root.work
        work.mkdir(parents=True, exist_ok=True)
        path = work / f"files-{secrets.token_hex(6)}.json"
        path.write_bytes(json.dumps(data, indent=1, ensure_ascii=False).encode() + b"\n")
        return path

    # ------------------------------------------------------------------ many records
    def deposit(self, repository: Any, records: Iterable[str], *,
                progress: Callable[[int], None] | None = None) -> DepositReport:
        """Deposit the files of ``records``; a record that fails is reported, not raised.
        A marker stands while it runs and stays after a failure, so that the next changeset
        (or the next open, after a kill) deposits every staged file a record names."""
        report = DepositReport()
        records = sorted(records)
        if not records:
            return report
        earlier = self.pending()
        self._mark_pending()  # until done: a kill -9 midway is retried on the next open
        for record in records:
            try:
                self.deposit_record(repository, record, report)
            except Exception as exc:  # one record's failure must not stop the rest
                report.failed[record] = f"{type(exc).__name__}: {exc}"
            if progress:
                progress(1)
        for record, reason in report.failed.items():
            log.warning("deposit of %s failed (its files stay in staging): %s", record, reason)
        if not report.failed and not earlier:
            self._unmark_pending()
        return report

    def retry(self, repository: Any) -> DepositReport:
        """Deposit every record that names a staged file (``lantai files deposit``)."""
        report = self.deposit(repository, records_naming(repository, self.store.staged()))
        if not report.failed:
            self._unmark_pending()
        return report

    def pending(self) -> bool:
        return (self.home / PENDING).exists()

    def _unmark_pending(self) -> None:
        marker = self.home / PENDING
        if marker.exists():
            marker.unlink()
            fsync_dir(marker.parent)

    def _mark_pending(self) -> None:
        marker = self.home / PENDING
        marker.parent.mkdir(parents=True, exist_ok=True)
        if not marker.exists():
            marker.write_bytes(b"")
            fsync_dir(marker.parent)


class DepositListener:
    """The repository listener (see :func:`attach`); ingest-aware, so that a bulk ingest
    deposits each record once, at its end."""

    def __init__(self, home: Path, settings: Any = None) -> None:
        self.depositor = Depositor(home, settings)
        self._ingesting = False
        self._waiting: set[str] = set()

    def __call__(self, repository: Any, iris: set[str]) -> None:
        if self._ingesting:
            return
        records = records_touched(repository, iris)
        if records:
            self.depositor.deposit(repository, records)
        if self.depositor.pending():
            self.depositor.retry(repository)

    def ingest_batch(self, repository: Any, objs: list, description_nq: str,
                     management_nt: str, public_nq: str) -> None:
        self._ingesting = True
        for obj in objs:
            if _entry(obj) is not None and obj.parent:
                self._waiting.add(obj.parent)

    def ingest_written(self, repository: Any, iris: list[str]) -> None:
        pass

    def ingest_end(self, repository: Any) -> None:
        waiting, self._waiting, self._ingesting = self._waiting, set(), False
        if waiting:
            self.depositor.deposit(repository, waiting)

    def ingest_abort(self, repository: Any) -> None:
        self._waiting, self._ingesting = set(), False

    def close(self) -> None:
        self.depositor.close()


def attach(repository: Any) -> None:
    """Give a writable repository its deposit listener (once), after migrating a site that
    still has the layout before OCFL (``files/sha256``) and finishing the versions a crash
    interrupted."""
    if any(isinstance(x, DepositListener) for x in repository.listeners):
        return
    home = Path(repository.home)
    repaired = storage_root(home).recover()  # what a crash left half-way (ocfl.py)
    if repaired:
        log.warning("OCFL objects finished after a crash: %s", ", ".join(repaired))
    if AUTO_MIGRATE and (home / "files" / "sha256").is_dir():
        from preservation.migrate import migrate

        report = migrate(repository)
        if not report.ok:
            log.warning("the files of %s were not all migrated into OCFL (damaged %d, "
                        "missing %d, failed %d): run lantai files migrate", home,
                        len(report.damaged), len(report.missing), len(report.failed))
    listener = DepositListener(home, repository.settings)
    repository.listeners.append(listener)
    if listener.depositor.pending():  # a deposit that failed or was killed: again now
        listener.depositor.retry(repository)

__all__ = ["DepositListener", "DepositReport", "Depositor", "FileEntry", "attach",
           "record_files", "records_holding_files", "records_naming", "records_touched",
           "storage_root"]
