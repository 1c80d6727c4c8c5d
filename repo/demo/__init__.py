"""The demo archive: a small, bilingual, fictional university archive to try Lantai with.

The archive is *data*, in ``archive.yaml`` next to this file, so that an archivist can read
and extend it without reading Python; this module only turns that file into repository
operations. Everything goes through the :class:`~repo.repository.Repository` like any other
import (permissions, validation, revisions, the publication dataset): the demo is also a
realistic end-to-end test of the write path, and what it shows is what real data would do.

- The media (page scans, recordings, WebVTT transcripts) are the committed files of
  ``media/``; they are stored content-addressed in the site's :class:`~repo.files.FileStore`
  and described as instantiations whose MIME type, size and duration come from
  ``media/MANIFEST.json`` (its SHA-256 is checked, so a damaged checkout is noticed).
- Loading is idempotent: objects whose path exists are left alone, so loading twice creates
  nothing the second time, and an extended ``archive.yaml`` adds only what is new.
- Objects are created with one bulk :meth:`~repo.repository.Repository.ingest` (parents
  first: ``archive.yaml`` lists them in that order), which keeps ``lantai demo`` fast; the few
  objects whose entry has a ``workflow`` are then moved through real transitions by the demo
  users, so their history shows a contributor submitting and a reviewer publishing.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from ontology.profile import load_profile
from repo.building import KEY, SLUG
from repo.errors import Forbidden, Invalid, NotFound
from repo.files import FileStore
from repo.objects import ACCESS_LEVELS, STATES
from repo.repository import NewObject, Repository
from repo.security import User
from repo.workflow import TRANSITIONS

DEMO_DIR = Path(__file__).resolve().parent
ARCHIVE_YAML = DEMO_DIR / "archive.yaml"
MEDIA_DIR = DEMO_DIR / "media"
MANIFEST = MEDIA_DIR / "MANIFEST.json"
CANARY = re.compile(r"CANARY-[A-Z]+-\d+")
MESSAGE = "demo: load the demo archive"
BATCH_SIZE = 40  # a few batches, so that the progress bar moves; one batch is not faster

Progress = Callable[[int, int], None]
_ENTRY_KEYS = {"path", "type", "key", "fields", "access", "until", "personal_fields", "state",
               "workflow", "media"}
_MEDIA_KEYS = {"file", "title", "language", "derivedFrom", "note"}
_TRANSCRIPT = re.compile(r"^(?P<stem>.+)\.(?P<lang>[a-z]{2,3})\.vtt$")


@dataclass(frozen=True)
class DemoObject:
    """One object of the demo archive, as ``archive.yaml`` (or its ``media`` list) gives it."""

    path: str
    type: str
    fields: dict[str, Any]
    key: str
    access: str | None = None
    until: str | None = None
    personal_fields: tuple[str, ...] = ()
    state: str = "published"
    workflow: tuple[tuple[str, str | None], ...] = ()  # (action, user or None)
    media_file: str | None = None  # for instantiations: the file of media/ to store

    @property
    def parent(self) -> str:
        parent = str(PurePosixPath(self.path).parent)
        return parent if parent != "." else "/"

    @property
    def slug(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def kind(self) -> str:
        return load_profile().type(self.type).kind


@dataclass(frozen=True)
class DemoUser:
    """A demo account; ``agent`` is the path of the Person the user is (for personal data)."""

    name: str
    roles: tuple[str, ...] = ()
    fullname: str = ""
    agent: str | None = None


@dataclass
class DemoArchive:
    objects: list[DemoObject] = field(default_factory=list)
    users: list[DemoUser] = field(default_factory=list)

    def by_path(self) -> dict[str, DemoObject]:
        return {o.path: o for o in self.objects}


# ---------------------------------------------------------------------- reading the data
@cache
def manifest() -> dict[str, dict]:
    """``media/MANIFEST.json`` by file name: sha256, bytes, mime, width/height or duration."""
    entries = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return {e["file"]: e for e in entries}


def canaries(path: Path = ARCHIVE_YAML) -> list[str]:
    """Every ``CANARY-…`` value of the demo: strings that must never reach a public surface.

    Leak tests (the publication dataset here; SPARQL, pages, dumps and IIIF elsewhere) take
    them from here, so a canary added to ``archive.yaml`` is checked everywhere at once.
    """
    return sorted(set(CANARY.findall(path.read_text(encoding="utf-8"))))


def read_archive(path: Path = ARCHIVE_YAML) -> DemoArchive:
    """Parse and check ``archive.yaml``; media lists become instantiation objects.

    Mistakes are reported with the entry's path, before anything is written: an archivist
    editing the file should get "/xjtu/xs/x: unknown type 'iten'", not a stack trace halfway
    through a load.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise Invalid(f"{path.name}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("objects"), list):
        raise Invalid(f"{path.name}: expected a mapping with an 'objects' list")
    defaults = data.get("defaults") or {}
    default_state = str(defaults.get("state", "private"))
    archive = DemoArchive()
    for n, entry in enumerate(data["objects"], start=1):
        where = f"{path.name}: entry {n}"
        if not isinstance(entry, dict):
            raise Invalid(f"{where}: expected a mapping")
        obj = _object(entry, default_state, where)
        archive.objects.append(obj)
        archive.objects += _media_objects(obj, entry.get("media") or [], f"{path.name}: {obj.path}")
    for entry in data.get("users") or []:
        if not isinstance(entry, dict) or not entry.get("name"):
            raise Invalid(f"{path.name}: users: each user needs a 'name'")
        archive.users.append(DemoUser(name=str(entry["name"]),
                                      roles=tuple(str(r) for r in entry.get("roles") or ()),
                                      fullname=str(entry.get("fullname") or ""),
                                      agent=entry.get("agent")))
    _check_archive(archive, path.name)
    return archive


def _object(entry: dict, default_state: str, where: str) -> DemoObject:
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise Invalid(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    obj_path = entry.get("path")
    if not isinstance(obj_path, str) or not obj_path.startswith("/") or obj_path.endswith("/"):
        raise Invalid(f"{where}: 'path' must look like /a/b")
    where = f"{where.split(':')[0]}: {obj_path}"
    type_name = str(entry.get("type", ""))
    if type_name not in load_profile().types:
        raise Invalid(f"{where}: unknown type {type_name!r}")
    if not SLUG.match(PurePosixPath(obj_path).name):
        raise Invalid(f"{where}: the last segment is not a valid name "
                      "(lowercase letters, digits, '.', '-' or '_')")
    state = str(entry.get("state", default_state))
    workflow = tuple(_transition(t, where) for t in entry.get("workflow") or ())
    if workflow:
        if "state" in entry:
            raise Invalid(f"{where}: give 'state' or 'workflow', not both")
        state = "private"  # the workflow starts where every new object starts
    if state not in STATES:
        raise Invalid(f"{where}: state {state!r}: one of {', '.join(STATES)}")
    access = entry.get("access")
    if access is not None and access not in ACCESS_LEVELS:
        raise Invalid(f"{where}: access {access!r}: one of {', '.join(ACCESS_LEVELS)}")
    key = str(entry.get("key") or PurePosixPath(obj_path).name.replace(".", "-"))
    if not KEY.match(key):
        raise Invalid(f"{where}: key {key!r}: lowercase letters, digits, '-' or '_'")
    return DemoObject(
        path=obj_path, type=type_name, fields=_fields(entry.get("fields") or {}, where), key=key,
        access=access, until=_text(entry["until"]) if entry.get("until") else None,
        personal_fields=tuple(entry.get("personal_fields") or ()), state=state,
        workflow=workflow)


def _transition(spec: object, where: str) -> tuple[str, str | None]:
    """``"publish by reviewer"`` → ``("publish", "reviewer")``."""
    action, _, by = str(spec).partition(" by ")
    action = action.strip()
    if action not in TRANSITIONS:
        raise Invalid(f"{where}: workflow step {spec!r}: no transition {action!r}")
    return action, by.strip() or None


def _text(value: object) -> str:
    """A YAML scalar as the string an archivist meant (YAML reads 1956-08-05 as a date)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _fields(fields: object, where: str) -> dict[str, Any]:
    """Check the shape of ``fields`` and turn scalars into strings."""
    if not isinstance(fields, dict):
        raise Invalid(f"{where}: 'fields' must be a mapping")
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, dict):
            for lang, text in value.items():
                if text is None or isinstance(text, dict | list):
                    raise Invalid(f"{where}: {name}@{lang}: no text (a comma inside {{…}}? "
                                  "put the text in quotes)")
            out[name] = {str(lang): _text(text) for lang, text in value.items()}
        elif isinstance(value, list):
            out[name] = [_text(v) for v in value]
        elif value is None:
            raise Invalid(f"{where}: {name}: no value")
        else:
            out[name] = _text(value)
    return out


def _media_objects(item: DemoObject, media: list, where: str) -> list[DemoObject]:
    """Instantiations for the files of an entry's ``media`` list, in order.

    Conventions save typing and keep transcripts right: ``oh-01.zh.vtt`` is a transcript in
    Chinese derived from ``oh-01.ogg`` of the same list; pages are titled in order.
    """
    specs = [m if isinstance(m, dict) else {"file": m} for m in media]
    files = [str(s.get("file", "")) for s in specs]
    images = [f for f in files if manifest().get(f, {}).get("mime", "").startswith("image/")]
    out = []
    for spec, name in zip(specs, files, strict=True):
        unknown = set(spec) - _MEDIA_KEYS
        if unknown:
            raise Invalid(f"{where}: media {name}: unknown key(s) {', '.join(sorted(unknown))}")
        info = manifest().get(name)
        if info is None or not (MEDIA_DIR / name).is_file():
            raise Invalid(f"{where}: media {name!r} is not in repo/demo/media/MANIFEST.json")
        slug = name.lower()
        fields: dict[str, Any] = {"mime": info["mime"]}
        if info.get("width") and info.get("height"):
            fields["width"], fields["height"] = str(info["width"]), str(info["height"])
        if info.get("duration"):
            fields["extent"] = iso_duration(float(info["duration"]))
        m = _TRANSCRIPT.match(name)
        lang = spec.get("language") or (m.group("lang") if m else None)
        if lang:
            fields["language"] = [str(lang)]
        source = spec.get("derivedFrom")
        if source is None and m:
            source = next((f for f in files if f != name and PurePosixPath(f).stem == m["stem"]
                           and manifest()[f]["mime"].split("/")[0] in ("audio", "video")), None)
        if source is not None:
            fields["derivedFrom"] = [f"{item.path}/{str(source).lower()}"]
        title = spec.get("title") or _default_title(info["mime"], lang, name, images)
        if title:
            fields["title"] = title
        if spec.get("note"):
            fields["note"] = spec["note"]
        out.append(DemoObject(
            path=f"{item.path}/{slug}", type="instantiation", fields=_fields(fields, where),
            key=slug.replace(".", "-"), state=item.state, media_file=name))
    return out


def _default_title(mime: str, lang: str | None, name: str, images: list[str]) -> dict | None:
    if mime.startswith("audio/"):
        return {"zh": "录音", "en": "Sound recording"}
    if mime.startswith("video/"):
        return {"zh": "录像", "en": "Video recording"}
    if mime == "text/vtt":
        language = {"zh": ("中文", "Chinese"), "en": ("英文", "English")}.get(lang or "")
        if language:
            return {"zh": f"文字稿（{language[0]}）", "en": f"Transcript ({language[1]})"}
        return {"zh": "文字稿", "en": "Transcript"}
    if mime.startswith("image/"):
        if len(images) > 1:
            n = images.index(name) + 1
            return {"zh": f"第{n}页", "en": f"Page {n}"}
        return {"zh": "扫描件", "en": "Scan"}
    return None


def iso_duration(seconds: float) -> str:
    """23.614 → ``PT23.614S`` (ISO 8601, what IIIF canvases and schema.org read)."""
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return f"PT{text}S"


def _check_archive(archive: DemoArchive, name: str) -> None:
    """Whole-file rules: unique paths, keys and reference codes; parents before children.

    Reference codes are checked here because a bulk ingest checks them against the store,
    not against the other objects of the same batch.
    """
    seen: set[str] = set()
    keys: dict[tuple[str, str], str] = {}
    codes: dict[str, str] = {}
    for obj in archive.objects:
        if obj.path in seen:
            raise Invalid(f"{name}: {obj.path} appears twice")
        if obj.parent != "/" and obj.parent not in seen:
            raise Invalid(f"{name}: {obj.path} comes before its parent {obj.parent}")
        seen.add(obj.path)
        other = keys.setdefault((obj.kind, obj.key), obj.path)
        if other != obj.path:
            raise Invalid(f"{name}: {obj.path} and {other} have the same key {obj.key!r}; "
                          "give one of them a 'key'")
        code = obj.fields.get("refcode")
        if code:
            other = codes.setdefault(code, obj.path)
            if other != obj.path:
                raise Invalid(f"{name}: {obj.path} and {other} share the reference code {code}")
    users = {u.name for u in archive.users}
    for obj in archive.objects:
        for action, by in obj.workflow:
            if by is not None and by not in users:
                raise Invalid(f"{name}: {obj.path}: '{action} by {by}': no demo user {by!r}")


# ---------------------------------------------------------------------- loading
def load_demo(repo: Repository, user: User, progress: Progress | None = None, *,
              archive: DemoArchive | None = None) -> int:
    """Load the demo archive into ``repo`` as ``user`` (a Manager); return how many objects
    were created (0 when everything is there already).
    """
    if "Manager" not in user.roles:
        raise Forbidden(f"{user.name} is not a Manager: the demo creates published records "
                        "and user accounts (run it as a Manager, e.g. --user admin)")
    archive = archive or read_archive()
    todo = [o for o in archive.objects if not _exists(repo, o.path)]
    total = len(todo)
    if progress:
        progress(0, total)
    created: list[str] = []
    if todo:
        planned = {o.path for o in todo}
        for obj in todo:
            if obj.parent != "/" and obj.parent not in planned and not _exists(repo, obj.parent):
                raise NotFound(f"{obj.path}: its parent {obj.parent} does not exist")
        with FileStore.for_site(repo.home) as files:  # sealed on an encrypted site
            digests = _store_media(files, todo)
        specs = [_new_object(repo, obj, digests) for obj in todo]
        done = 0

        def step(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(min(done, total), total)

        created = repo.ingest(user, specs, message=MESSAGE, batch_size=BATCH_SIZE, progress=step)
    _ensure_users(repo, user, archive.users)
    _run_workflows(repo, user, archive)
    return len(created)


def _exists(repo: Repository, path: str) -> bool:
    try:
        repo.resolve(path)
    except NotFound:
        return False
    return True


def _store_media(files: FileStore, objects: list[DemoObject]) -> dict[str, str]:
    """Store the media the new instantiations need; check each against the manifest."""
    digests: dict[str, str] = {}
    for obj in objects:
        name = obj.media_file
        if name is None or name in digests:
            continue
        digest = files.put(MEDIA_DIR / name)
        expected = f"sha256:{manifest()[name]['sha256']}"
        if digest != expected:
            raise Invalid(f"repo/demo/media/{name} does not match MANIFEST.json "
                          f"({digest} ≠ {expected}): restore it from git")
        digests[name] = digest
    return digests


def _new_object(repo: Repository, obj: DemoObject, digests: dict[str, str]) -> NewObject:
    fields = dict(obj.fields)
    if obj.media_file is not None:
        fields["digest"] = digests[obj.media_file]
    key: str | None = obj.key
    if repo.load(repo.iri_for(obj.kind, obj.key)) is not None:
        key = None  # the key is taken (e.g. a deleted demo object): IRIs are never reused
    return NewObject(parent=obj.parent, type=obj.type, fields=fields, slug=obj.slug, key=key,
                     access=obj.access, until=obj.until, state=obj.state,
                     personal_fields=obj.personal_fields)


def _ensure_users(repo: Repository, actor: User, users: list[DemoUser]) -> None:
    """Create the demo accounts that do not exist yet (existing ones are left as they are)."""
    existing = {u.name for u in repo.users()}
    for u in users:
        if u.name in existing:
            continue
        agent = u.agent if u.agent and _exists(repo, u.agent) else None
        repo.add_user(actor, u.name, roles=u.roles, fullname=u.fullname, agent=agent)


def _run_workflows(repo: Repository, actor: User, archive: DemoArchive) -> None:
    """Take the transitions of entries with a ``workflow``, acting as the users it names.

    Only objects still as the demo created them (private, revision 1) are moved, so a second
    load does nothing and a load interrupted after the ingest finishes the job next time.
    Transitions are recursive, so a record's scans and recordings follow it.
    """
    for obj in archive.objects:
        if not obj.workflow:
            continue
        try:
            current = repo.load(repo.resolve(obj.path))
        except NotFound:
            continue
        if current is None or current.state != "private" or current.revision != 1:
            continue
        for action, by in obj.workflow:
            who = repo.user(by) if by else actor
            repo.transition(who, obj.path, action, recursive=True,
                            comment=f"demo: {action} {obj.path}")


__all__ = ["ARCHIVE_YAML", "MEDIA_DIR", "DemoArchive", "DemoObject", "DemoUser", "canaries",
           "iso_duration", "load_demo", "manifest", "read_archive"]
