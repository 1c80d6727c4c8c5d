"""What a backup records about itself, and the checks a restore must pass to prove it.

At backup time :func:`record` reads the snapshot folder (not the live site, which goes on
changing) and writes down what a faithful restore must give back: the digest of each
Oxigraph store's quads as sorted N-Quads, the OCFL root's content files, the digests the
descriptions name, a few catalog queries and their counts, and one public record page.
After a restore :func:`prove` recomputes each on the new home and stops at the first
difference (:class:`ProofFailed`, exit 1). A restore is believed because it is checked, not
because restic said it finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests
from pyoxigraph import Store

from repo.errors import LantaiError

MANIFEST = "lantai-backup.json"
STORES = ("working", "publication")
CHUNK = 1 << 20
_DIGESTS = """SELECT DISTINCT ?d WHERE {
  GRAPH ?g { ?s <https://www.ica.org/standards/RiC/ontology#identifier> ?d }
  FILTER(STRSTARTS(STR(?d), "sha256:")) }"""


class ProofFailed(LantaiError):
    """The restored site differs from what was backed up (the first difference found)."""


# ---------------------------------------------------------------------- the stores
def store_digest(path: Path) -> tuple[str, int]:
    """SHA-256 of every quad of the store at ``path`` as sorted N-Quads lines, and how many.
    Opened read-only: the store is a checkpoint in the snapshot or a restored copy."""
    store = Store.read_only(str(path))
    try:
        lines = sorted(f"{q} .\n" for q in store)
    finally:
        del store
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8"))
    return h.hexdigest(), len(lines)


def named_digests(path: Path) -> list[str]:
    """The ``sha256:`` digests the descriptions in the working store at ``path`` name."""
    store = Store.read_only(str(path))
    try:
        return sorted({str(row["d"].value) for row in store.query(_DIGESTS)})  # type: ignore[union-attr]
    finally:
        del store


def public_record(path: Path, base: str) -> str | None:
    """The path (``/id/…``) of one object in the publication dataset, for the server check."""
    store = Store.read_only(str(path))
    try:
        for graph in store.named_graphs():
            iri = getattr(graph, "value", "")
            if iri.startswith(base + "/id/"):
                return iri[len(base):]
    finally:
        del store
    return None


# ---------------------------------------------------------------------- the OCFL root
def ocfl_objects(root: Path) -> Iterator[Path]:
    """Every OCFL object folder under the storage root (the folders with a ``0=ocfl_object``
    declaration), in path order."""
    if not (root / "0=ocfl_1.1").exists():
        return
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        if any(n.startswith("0=ocfl_object_") for n in names):
            dirs.clear()  # an object holds no other object
            yield Path(folder)


def file_sha(path: Path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def check_object(folder: Path) -> list[tuple[str, str]]:
    """The problems of one OCFL object: (content path, what is wrong), checked against the
    object's root inventory (and the inventory against its sidecar digest)."""
    inv_path = folder / "inventory.json"
    try:
        raw = inv_path.read_bytes()
        inventory = json.loads(raw)
    except (OSError, ValueError) as exc:
        return [("inventory.json", f"unreadable ({exc})")]
    algorithm = inventory.get("digestAlgorithm", "sha256")
    problems: list[tuple[str, str]] = []
    sidecar = folder / f"inventory.json.{algorithm}"
    try:
        recorded = sidecar.read_text(encoding="ascii").split()[0]
        if recorded != hashlib.new(algorithm, raw).hexdigest():
            problems.append(("inventory.json", "does not match its sidecar digest"))
    except (OSError, IndexError):
        problems.append((sidecar.name, "missing"))
    for digest, paths in sorted(inventory.get("manifest", {}).items()):
        for rel in paths:
            path = folder / rel
            if not path.is_file():
                problems.append((rel, "missing"))
            elif file_sha(path, algorithm) != digest:
                problems.append((rel, "content does not match the inventory"))
    return problems


def ocfl_content_count(root: Path) -> int:
    count = 0
    for folder in ocfl_objects(root):
        try:
            inventory = json.loads((folder / "inventory.json").read_bytes())
        except (OSError, ValueError):
            continue
        count += sum(len(p) for p in inventory.get("manifest", {}).values())
    return count


# ---------------------------------------------------------------------- the catalog
def catalog_answers(home: Path) -> dict[str, int]:
    """A few catalog questions and how many answers each gets: the size of the staff and
    public catalogs, everything public, and the words of the first public titles."""
    from repo.catalog import Catalog
    from repo.catalog.index import CatalogIndex
    from repo.catalog.maintenance import catalog_path

    answers: dict[str, int] = {}
    for public in (False, True):
        path = catalog_path(home, public)
        if CatalogIndex.usable(path):
            answers["count:" + ("public" if public else "staff")] = CatalogIndex.open(path).count()
    if "count:public" in answers:
        catalog = Catalog.open(home, public=True)
        results = catalog.search("", facets=False, size=3)
        answers["search:"] = results.total
        for hit in results.hits:
            title = hit.title_en or hit.title_zh
            words = [w for w in title.split() if len(w) > 2 and w.isalnum()]
            if words:
                answers["search:" + words[0]] = catalog.search(words[0], facets=False,
                                                               size=0).total
    return answers


# ---------------------------------------------------------------------- recording
def record(folder: Path, *, base: str) -> dict[str, Any]:
    """What the snapshot in ``folder`` holds, for :func:`prove` (written as ``MANIFEST``)."""
    stores = {}
    for name in STORES:
        digest, count = store_digest(folder / name)
        stores[name] = {"sha256": digest, "quads": count}
    return {
        "stores": stores,
        "ocfl_files": ocfl_content_count(folder / "files"),
        "named_files": named_digests(folder / "working"),
        "catalog": catalog_answers(folder),
        "record_page": public_record(folder / "publication", base),
    }


# ---------------------------------------------------------------------- proving
Say = Callable[[str], None]


def prove(home: Path, manifest: dict[str, Any], *, say: Say, serve: bool = True) -> None:
    """Check the restored site at ``home`` against the ``manifest`` its backup recorded;
    ``say`` each check that passes; raise :class:`ProofFailed` at the first that fails."""
    recorded = manifest["proof"]
    for name in STORES:
        want = recorded["stores"][name]
        digest, count = store_digest(home / name)
        if digest != want["sha256"]:
            raise ProofFailed(f"the {name} store differs from the backup's: {count} quads "
                              f"(sha256 {digest[:12]}…), recorded {want['quads']} "
                              f"(sha256 {want['sha256'][:12]}…)")
        say(f"{name} store: {count} quads, sorted N-Quads sha256 {digest[:16]}… as recorded")
    checked = 0
    for folder in ocfl_objects(home / "files"):
        problems = check_object(folder)
        if problems:
            rel, what = problems[0]
            raise ProofFailed(f"file {folder.relative_to(home)}/{rel}: {what}")
        inventory = json.loads((folder / "inventory.json").read_bytes())
        checked += sum(len(p) for p in inventory.get("manifest", {}).values())
    if checked != recorded["ocfl_files"]:
        raise ProofFailed(f"the OCFL root holds {checked} content files, the backup recorded "
                          f"{recorded['ocfl_files']}")
    say(f"OCFL root: {checked} content files check against their inventories")
    named = recorded["named_files"]
    store = open_file_store(home)
    for digest in named:
        if not store_verify(store, digest):
            raise ProofFailed(f"the file {digest} the descriptions name does not check "
                              "(missing, damaged, or it does not open with the key given)")
    say(f"files: {len(named)} named by the descriptions, each read in full and its "
        "digest checked (sealed ones opened with the key)")
    answers = catalog_answers(home)
    for question, count in recorded["catalog"].items():
        if answers.get(question) != count:
            raise ProofFailed(f"the catalog answers {question!r} with {answers.get(question)}, "
                              f"recorded {count}")
    say(f"catalog: {len(recorded['catalog'])} recorded queries give the same counts")
    if serve:
        check_server(home, recorded.get("record_page"), say=say)


def open_file_store(home: Path) -> Any:
    """The site's file store, read through the way the site's readers read it."""
    from repo import files

    return files.FileStore.for_site(home)


def store_verify(store: Any, digest: str) -> bool:
    try:
        return bool(store.verify(digest))
    except LantaiError:
        raise
    except Exception:
        return False


def check_server(home: Path, record_page: str | None, *, say: Say,
                 wait: float = 120) -> None:
    """Start ``lantai serve`` on the restored home on a free port; ``/`` and the recorded
    record page must answer 200."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("lantai")
    cmd = [str(exe) if exe.exists() else "lantai", "--home", str(home), "serve",
           "--port", str(port), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + wait
        while True:
            try:
                requests.get(url + "/healthz", timeout=5)
                break
            except requests.ConnectionError:
                if proc.poll() is not None:
                    tail = (proc.stderr.read() if proc.stderr else b"").decode(errors="replace")
                    raise ProofFailed("the server did not start on the restored site: "
                                      + (tail.strip().splitlines() or ["?"])[-1]) from None
                if time.monotonic() > deadline:
                    raise ProofFailed(f"the server did not answer within {wait:g} s") from None
                time.sleep(0.2)
        pages = ["/"] + ([record_page] if record_page else [])
        for page in pages:
            status = requests.get(url + page, timeout=30).status_code
            if status != 200:
                raise ProofFailed(f"the restored site's server answers {page} with {status}")
        say(f"server: `lantai serve` answers {' and '.join(pages)} with 200")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
