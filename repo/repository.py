"""The Repository: the one door for every read by staff and every write.

Each operation resolves its target (a path like ``/xjtu/oral-history`` or an IRI), checks the
user's permission (global role + local roles inherited down the tree + Owner, against the
object's workflow state), builds the new state of each object it touches, validates it
against the profile, and commits one changeset: the working store in one transaction, then
the publication dataset and the listeners (the catalog), with a journal in between so that a
crash is finished or forgotten on the next open, never half-applied.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import secrets
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from types import TracebackType

from pyoxigraph import DefaultGraph, Literal, NamedNode, Quad, RdfFormat, Store, serialize

from ontology.namespaces import LT, RDF_TYPE, RICO, SCHEMA, XSD
from ontology.profile import ContentType
from repo import access as access_rules
from repo import exposure, file_identity, refcodes
from repo.accounts import Accounts, require_manager
from repo.config import Settings, check_base, read_settings, write_settings
from repo.errors import Conflict, Forbidden, Invalid, LantaiError, NotFound, WorkflowError
from repo.gone import GoneRegister
from repo.ingest import BulkIngest, NewObject
from repo.objects import (
    ACCESS_LEVELS,
    STRUCTURAL,
    ContentObject,
    lt_node,
    user_iri,
    xsd_int,
)
from repo.ordering import keep_order
from repo.projection import Publication
from repo.reads import IngestCache, Reads
from repo.revisions import (
    Changeset,
    changeset_iri,
    encode_patch,
    new_changeset_id,
)
from repo.security import (
    STAFF,
    SYSTEM,
    User,
    allowed,
    check_username,
    sees_everything,
)
from repo.site import ReadOnly, Site, StoreHandle
from repo.store import (
    Journal,
    apply_update,
    bump_generation,
    migrate_management_graph,
)
from repo.sweep import sweep
from repo.validation import check as validate
from repo.values import (
    Assignment,
    assignments_from_mapping,
    display,
    to_term,
)
from repo.versions import DiffLine, Versions
from repo.workflow import INITIAL_STATE, TRANSITIONS

SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_KEY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case

IDENTIFIER = NamedNode(RICO + "identifier")


@cache
def _predicate(path: str) -> NamedNode:
    """The predicate of a field (a few dozen: made once, not once per value)."""
    return NamedNode(path)


def release_frames(tb: TracebackType | None) -> None:
    """Drop the local variables of a traceback's finished frames (the stores they hold)."""
    if tb is not None:
        traceback.clear_frames(tb)


Listener = Callable[["Repository", set[str]], None]


class Repository(BulkIngest):
    """A Lantai site opened for work: the one door (DESIGN.md decision 3) in front of its
    parts, each with one job and given what it depends on: the :class:`~repo.site.Site`
    (settings, store handles), :class:`~repo.reads.Reads`, :class:`~repo.accounts.Accounts`.
    Use :meth:`open` or :meth:`init`; :meth:`read_only` for a view that cannot write."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.home, self.settings, self.base = site.home, site.settings, site.base
        self.root_iri, self.mgmt, self.profile = site.root_iri, site.mgmt, site.profile
        self.clock = site.clock
        self.journal = Journal(site.home / "journal")
        self.gone = GoneRegister(site.home)  # withdrawn IRIs, for 410 Gone
        self.listeners: list[Listener] = []
        self._lock = threading.RLock()
        self.cache = IngestCache()
        self._new_codes: dict[str, str] = {}  # reference codes given out in this operation
        self._code_hints: dict[str, int] = {}  # next free number per code prefix
        self._files_ingest = False  # inside ingesting_files(): file identity may be set
        self.reads = reads = Reads(site, self.cache)
        self.accounts = accounts = Accounts(site, reads, self._commit, self._lock)
        # the parts' public methods, as the repository's (callers keep one door)
        self.iri_for, self.is_repository_object = site.iri_for, site.is_repository_object
        self.load, self.resolve, self.get, self.children = (
            reads.load, reads.resolve, reads.get, reads.children)
        self.walk, self.ancestors, self.roles_on, self.can_view = (
            reads.walk, reads.ancestors, reads.roles_on, reads.can_view)
        self.child_iris, self.descendant_iris, self.class_of, self.is_public = (
            reads.child_iris, reads.descendant_iris, reads.class_of, reads.is_public)
        self._load_any, self._referrers, self._next_position = (
            reads.load_any, reads.referrers, reads.next_position)
        self.user, self.users, self.active_user, self.account_status = (
            accounts.user, accounts.users, accounts.active_user, accounts.account_status)
        self.add_user, self.grant, self.revoke, self.set_password = (
            accounts.add_user, accounts.grant, accounts.revoke, accounts.set_password)
        self.new_token, self.tokens, self.revoke_token = (
            accounts.new_token, accounts.tokens, accounts.revoke_token)
        self.disable, self.enable, self.remove = accounts.disable, accounts.enable, accounts.remove
        self.authenticate, self.user_for_token, self.account_history = (
            accounts.authenticate, accounts.user_for_token, accounts.account_history)
        self._save_user = accounts._save_user
        self.versions = versions = Versions(site, reads, self._commit, self._lock)
        self.history, self._history, self.state_at = (
            versions.history, versions._history, versions.state_at)
        self.diff, self.revert = versions.diff, versions.revert
        self.publication = publication = Publication(site, reads, self.gone, self._lock)
        self.project, self._in_publication = publication.project, publication.in_publication
        self._publish_affected = publication.publish_affected
        self.rebuild_publication = publication.rebuild
        if not site.writable:
            return
        try:  # an open that fails (recovery, the catalog) lets go of the stores
            migrate_management_graph(site.working, self.base)
            from repo import catalog

            catalog.attach(self)
            self.recover()
            sweep(site.home, site.working)  # files a killed media ingest left (after recover)
        except BaseException:
            site.close()
            raise

    @property
    def working(self) -> Store:
        """The working store (for one use: keep the repository, not the store)."""
        return self.site.working

    @property
    def public(self) -> Store:
        """The publication dataset (for one use, as :attr:`working`)."""
        return self.site.public

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, home: Path | str, *, clock: Callable[[], dt.datetime] | None = None,
             wait: float = 10.0) -> Repository:
        home = Path(home)
        return cls(Site.for_writing(home, read_settings(home), wait=wait, clock=clock))

    @classmethod
    def read_only(cls, home: Path, working: Store, public: StoreHandle) -> Repository:
        """The same parts over a snapshot of the working store, with nothing that writes:
        a write attempt raises :class:`~repo.site.ReadOnly`."""
        return cls(Site.for_reading(home, read_settings(home), working, public))

    @classmethod
    def init(cls, home: Path | str, base: str, *, embargo_years: int = 25,
             admin: str = "admin", admin_password: str | None = None,
             **kw) -> tuple[Repository, str]:
        """Create a site: settings, empty stores, a Manager account. Returns its API token."""
        home = Path(home)
        settings = Settings(base=check_base(base), embargo_years=embargo_years)
        if (home / "lantai.toml").exists():
            existing = read_settings(home)
            if existing.base != settings.base:
                raise Conflict(f"{home} is already a site with base {existing.base}")
            return cls(Site.for_writing(home, existing, **kw)), ""
        write_settings(home, settings)
        repo = cls(Site.for_writing(home, settings, **kw))
        token = repo._save_user(User(check_username(admin), {"Manager"}, "Administrator"),
                                password=admin_password, new_api_token=True)
        return repo, token or ""

    def close(self) -> None:
        """Finish and let the site go: listeners commit, both stores flush, and the
        repository drops its stores. pyoxigraph has no ``close()``: a store's lock goes with
        its last reference, and a closed repository that stayed referenced (a fixture, a
        script, a traceback) kept the site locked for every other process until the garbage
        collector met it. A closed repository cannot be used again; closing twice is fine."""
        if self.site.closed:
            return
        try:
            for listener in self.listeners:  # listeners that buffer (the catalog) finish here
                close = getattr(listener, "close", None)
                if close is not None:
                    close()
        finally:  # whatever a listener raised, the locks go now
            self.site.close()

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """Close, whatever was raised. Closing drops the repository's own references to its
        stores, but a failed write's traceback still holds the frames it went through, and a
        frame that was handed a store (``read_object(store, …)``, ``apply_update(store, …)``)
        kept it, and its lock, for as long as the exception lived (a web server logs it and
        the cycle waits for the collector): every later write answered 503 and every
        ``lantai`` command failed. So the traceback's finished frames are cleared too."""
        try:
            self.close()
        finally:
            release_frames(tb)

    @contextlib.contextmanager
    def ingesting_files(self) -> Iterator[None]:
        """Writes made inside may set the fields that name stored bytes (digest, mime…):
        for the code that stores those bytes itself (media ingest, the demo loader) and
        nothing else (repo/file_identity.py)."""
        before, self._files_ingest = self._files_ingest, True
        try:
            yield
        finally:
            self._files_ingest = before

    def _check_file_identity(self, user: User, before: ContentObject | None,
                             after: ContentObject) -> None:
        if self._files_ingest or after.deleted:
            return
        if before is not None and not before.deleted:
            file_identity.check_edit(before, after)
            return

        def may_publish(iri: str) -> bool:
            holder = self.load(iri)
            return (holder is None or holder.deleted or self.is_public(iri)
                    or allowed("open", holder.state, self.roles_on(user, holder)))

        file_identity.check_new(after, lambda q: file_identity.holders_in(self.working, q),
                                may_publish)

    # ------------------------------------------------------------------ building objects
    def _new_key(self) -> str:
        while True:
            key = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(10))
            if not any(self.load(self.iri_for(k, key)) for k in ("recordset", "record")):
                return key

    def _structural(self, obj: ContentObject, parent: ContentObject | None) -> set[Quad]:
        """Statements the tree implies: type, record set type, inclusion in the parent."""
        ctype, node, g = obj.type, obj.node, obj.node
        out = {Quad(node, RDF_TYPE, NamedNode(ctype.rdf_class), g)}
        if ctype.record_set_type:
            out.add(Quad(node, NamedNode(RICO + "hasRecordSetType"),
                         NamedNode(ctype.record_set_type), g))
        if parent is not None:
            pclass = parent.type.rdf_class
            record_like = ctype.rdf_class in (RICO + "RecordSet", RICO + "Record",
                                              RICO + "RecordResource")  # EAD otherlevel
            if record_like and pclass in (RICO + "RecordSet", RICO + "RecordResource"):
                out.add(Quad(node, NamedNode(RICO + "isDirectlyIncludedIn"), parent.node, g))
            elif ctype.name == "instantiation":
                out.add(Quad(node, NamedNode(RICO + "isOrWasDigitalInstantiationOf"),
                             parent.node, g))
            elif ctype.name == "section":
                out.add(Quad(node, NamedNode(SCHEMA + "isPartOf"), parent.node, g))
        if ctype.name in ("exhibit", "section", "instantiation") and obj.mgmt.get("position"):
            # their order among siblings, for the public pages (which see no management facts)
            # and, for instantiations, the order of the pages in a IIIF manifest
            out.add(Quad(node, NamedNode(SCHEMA + "position"), obj.mgmt["position"][0], g))
        return out

    def _with_structure(self, obj: ContentObject, parent: ContentObject | None) -> None:
        keep = {q for q in obj.description if not (
            q.subject == obj.node and q.predicate.value in STRUCTURAL)}
        obj.description = keep | self._structural(obj, parent)

    def _apply_assignments(self, obj: ContentObject, assignments: list[Assignment], *,
                           replace: bool, user: User | None = None) -> None:
        """Set (replace=True) or add values; for text fields only the given language.
        With ``user``, a link may name only an object the user may view."""
        ctype = obj.type
        terms: list[tuple] = []
        resolve = self.resolve if user is None else (lambda ref: self._resolve_visible(user, ref))
        for a in assignments:
            f, term = to_term(ctype, a, base=self.base, resolve=resolve)
            terms.append((f, a.lang, term))
        if replace and terms:
            replaced = {(f.path, lang.lower() if lang else None) for f, lang, _ in terms}
            whole = {path for path, lang in replaced if lang is None}
            obj.description = {q for q in obj.description if not (
                q.subject == obj.node and (
                    q.predicate.value in whole
                    or (q.predicate.value, getattr(q.object, "language", None)) in replaced))}
        node = obj.node
        obj.description.update(Quad(node, _predicate(f.path), term, node) for f, _, term in terms)
        for f in {f for f, _, _ in terms if f.ordered}:  # repo/ordering.py
            keep_order(obj, f, [t for g, _, t in terms if g is f], replace=replace)

    def _resolve_visible(self, user: User, ref: str) -> str:
        """Like :meth:`resolve`, but an object ``user`` may not view is answered exactly as
        one that does not exist (no IRI, no type, no "exists": issue 10, item 12). Staff
        roles view everything; the check costs nothing for them."""
        iri = self.resolve(ref)
        if iri == self.root_iri or set(user.roles) & STAFF:
            return iri
        obj = self.load(iri)
        if obj is not None and not self.can_view(user, obj):
            ref = ref.strip()
            raise NotFound(f"no object {ref}" if ref.startswith(("http://", "https://"))
                           else f"no object at {'/' + ref.strip('/')}")
        return iri

    def _unset(self, obj: ContentObject, names: list[str]) -> None:
        ctype = obj.type
        for spec in names:
            name, _, lang = spec.partition("@")
            f = ctype.fields.get(name)
            if f is None:
                raise Invalid(f"{ctype.name} has no field {name!r}")
            before = len(obj.description)
            obj.description = {q for q in obj.description if not (
                q.subject == obj.node and q.predicate.value == f.path
                and (not lang or getattr(q.object, "language", None) == lang.lower()))}
            if len(obj.description) == before:
                raise Invalid(f"{obj.path}: {spec} has no value to remove")
            if f.ordered:
                keep_order(obj, f, [], replace=False)

    def _field_value(self, obj: ContentObject, name: str) -> str | None:
        """A single-valued field's display value (a vocabulary code, a text, a date)."""
        f = obj.type.fields.get(name)
        if f is None:
            return None
        for q in obj.description:
            if q.predicate.value == f.path and q.subject.value == obj.iri:
                return display(q.object, self.base)
        return None

    def _context_of(self, container_iri: str | None) -> dict:
        """What a new object inherits from its container: the fonds code, the category and
        retention of the nearest container that has one (cached during an ingest)."""
        if container_iri is None or container_iri == self.root_iri:
            return {"fonds": None, "category": None, "retention": None}
        if self.cache.objects is not None and container_iri in self.cache.contexts:
            return self.cache.contexts[container_iri]
        c = self.load(container_iri)
        up = self._context_of(c.parent) if c is not None else self._context_of(None)
        ctx = dict(up)
        if c is not None:
            if c.type_name == "fonds":
                ctx["fonds"] = self._field_value(c, "refcode")
            ctx["category"] = self._field_value(c, "category") or up["category"]
            ctx["retention"] = self._field_value(c, "retention") or up["retention"]
        if self.cache.objects is not None:
            self.cache.contexts[container_iri] = ctx
        return ctx

    def _refcode_context(self, obj: ContentObject) -> dict:
        up = self._context_of(obj.parent)
        return {
            "fonds": up["fonds"],
            "category": self._field_value(obj, "category") or up["category"],
            "retention": self._field_value(obj, "retention") or up["retention"],
        }

    def _code_taken(self, code: str, iri: str) -> bool:
        """Is the reference code used by another object (stored, or earlier in this ingest)?"""
        owner = self._new_codes.get(code)
        if owner is not None and owner != iri:
            return True
        return any(q.subject.value != iri for q in
                   self.working.quads_for_pattern(None, IDENTIFIER, Literal(code), None))

    def _check_refcode(self, obj: ContentObject, parent: ContentObject | None) -> None:
        """Validate a given reference code, or number a new file or item."""
        if "refcode" not in obj.type.fields:
            return
        ctx = self._refcode_context(obj)
        code = self._field_value(obj, "refcode")
        if code is None:
            if obj.type_name not in ("file", "item") or not ctx["fonds"]:
                return
            year = (self._field_value(obj, "begin") or self._field_value(obj, "date") or "")[:4]
            if not (ctx["category"] and ctx["retention"] and re.fullmatch(r"\d{4}", year)):
                return
            parent_code = None
            if parent is not None and parent.type_name == "file":
                pc = self._field_value(parent, "refcode")
                parent_code = refcodes.parse(pc) if pc else None
            code = refcodes.next_code(parent_code=parent_code, fonds=ctx["fonds"],
                                      category=ctx["category"], year=year,
                                      retention=ctx["retention"],
                                      taken=lambda c: self._code_taken(c, obj.iri),
                                      in_file=parent_code is not None, hints=self._code_hints)
            obj.description.add(Quad(obj.node, IDENTIFIER, Literal(code), obj.node))
            self._new_codes[code] = obj.iri
            return
        rc = refcodes.check(code, type_name=obj.type_name, **ctx)
        normalised = str(rc)
        if normalised != code:
            obj.description.discard(Quad(obj.node, IDENTIFIER, Literal(code), obj.node))
            obj.description.add(Quad(obj.node, IDENTIFIER, Literal(normalised), obj.node))
        if self._code_taken(normalised, obj.iri):
            raise Conflict(f"reference code {normalised} is already used by another object")
        self._new_codes[normalised] = obj.iri

    # ------------------------------------------------------------------ operations
    def create(self, user: User, parent: str, type_name: str,
               fields: dict | list[Assignment] | None = None, *, slug: str | None = None,
               key: str | None = None, access: str | None = None, until: str | None = None,
               personal_fields: Iterable[str] = (), message: str = "") -> ContentObject:
        """Create an object in ``parent`` (a path, an IRI or ``/``)."""
        with self._lock:
            obj = self._build_new(user, parent, type_name, fields, slug=slug, key=key,
                                  access=access, until=until, personal_fields=personal_fields)
            self._commit(user, "create", message or f"create {obj.path}", {obj.iri: (None, obj)})
            return self.load(obj.iri)

    def _build_new(self, user: User, parent_ref: str, type_name: str,
                   fields: dict | list[Assignment] | None, *, slug: str | None,
                   key: str | None, access: str | None, until: str | None,
                   personal_fields: Iterable[str] = (), position: int | None = None,
                   taken_paths: set[str] | None = None,
                   statements: Iterable[tuple] = ()) -> ContentObject:
        ctype = self._type(type_name)
        parent_iri = self.resolve(parent_ref)
        parent = self.load(parent_iri) if parent_iri != self.root_iri else None
        container = parent.type_name if parent else "root"
        if container not in ctype.allowed_in:
            raise Invalid(f"a {type_name} cannot be placed in a {container} "
                          f"(allowed in: {', '.join(sorted(ctype.allowed_in))})")
        self._check_may_add(user, parent, parent_ref)
        if key is not None and not sees_everything(user.roles):  # else 409 is an oracle
            raise Forbidden("giving a key needs a site-wide role that sees every object "
                            "(leave the key out and one is made)")
        if key is not None and not KEY.match(key):
            raise Invalid(f"key {key!r}: lowercase letters, digits, '-' or '_'")
        key = key or self._new_key()
        iri = self.iri_for(ctype.kind, key)
        if self.load(iri) is not None:
            raise Conflict(f"{iri} exists or existed: IRIs are never reused")
        obj = ContentObject(iri)
        obj.mgmt["type"] = [Literal(type_name)]
        obj.mgmt["position"] = [xsd_int(position if position is not None
                                        else self._next_position(parent_iri))]
        assignments = (assignments_from_mapping(fields) if isinstance(fields, dict)
                       else list(fields or []))
        # a new object: its description is what the tree implies, then the given values
        # (nothing to replace: no field has a structural path)
        obj.description = self._structural(obj, parent)
        self._apply_assignments(obj, assignments, replace=False, user=user)
        if statements:  # an importer's: the tree's own statements are the tree's to make
            obj.description.update(Quad(s, p, o, obj.node) for s, p, o in statements)
            self._with_structure(obj, parent)
        slug = slug or self._slug_for(obj, key)
        if not SLUG.match(slug):
            raise Invalid(f"name {slug!r}: lowercase letters, digits, '.', '-' or '_' (≤ 64)")
        path = (parent.path if parent else "") + "/" + slug
        if (taken_paths is not None and path in taken_paths) or next(
                self.working.quads_for_pattern(None, lt_node("path"), Literal(path), self.mgmt),
                None):
            raise Conflict(f"{path} exists already")
        if taken_paths is not None:
            taken_paths.add(path)
        obj.mgmt.update({
            "parent": [NamedNode(parent_iri)], "slug": [Literal(slug)], "path": [Literal(path)],
            "state": [lt_node(INITIAL_STATE)], "owner": [user_iri(user.name)],
        })
        self._set_access_facts(obj, access, until, default=True)
        for name in personal_fields:
            self._mark_personal(obj, name)
        return obj

    def _check_may_add(self, user: User, parent: ContentObject | None, parent_ref: str) -> None:
        """May ``user`` add to ``parent``? During an ingest the answer is kept per container
        (containers do not change while it runs; thousands of objects go into each)."""
        key = (user.name, parent.iri if parent else None)
        if self.cache.objects is not None and key in self.cache.may_add:
            return
        if parent is not None and (parent.deleted or not self.can_view(user, parent)):
            raise NotFound(f"no object at {parent_ref}")
        if not allowed("add", parent.state if parent else "private", self.roles_on(user, parent)):
            raise Forbidden(f"{user.name} may not add to {parent.path if parent else '/'}")
        if self.cache.objects is not None:
            self.cache.may_add.add(key)

    def _slug_for(self, obj: ContentObject, key: str) -> str:
        code = self._field_value(obj, "refcode")
        if code:
            return re.sub(r"[^a-z0-9]+", "-", code.lower()).strip("-")[:64] or key
        for name in ("title", "name"):
            for text, lang in obj.fields().get(name, []):
                if lang == "en":
                    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48].strip("-")
                    if s:
                        return s
        return key

    def _next_position(self, parent_iri: str) -> int:
        best = -1
        for q in self.working.quads_for_pattern(None, lt_node("parent"), NamedNode(parent_iri),
                                                self.mgmt):
            pos = next(self.working.quads_for_pattern(q.subject, lt_node("position"), None,
                                                      self.mgmt), None)
            if pos is not None:
                best = max(best, int(pos.object.value))
        return best + 1

    def _type(self, name: str) -> ContentType:
        try:
            return self.profile.type(name)
        except KeyError as exc:
            raise Invalid(str(exc.args[0])) from None

    def _set_access_facts(self, obj: ContentObject, level: str | None, until: str | None,
                          *, default: bool = False) -> None:
        today = self.clock().date()
        opening: dt.date | None = None
        obj.mgmt.pop("accessByDefault", None)
        if level is None and default:
            level, opening = access_rules.default_rule(obj, today, self.settings.embargo_years)
            if obj.type_name in access_rules.EMBARGO_BY_DEFAULT:
                obj.mgmt["accessByDefault"] = [Literal("true",
                                                       datatype=NamedNode(XSD + "boolean"))]
        if level not in ACCESS_LEVELS:
            raise Invalid(f"access {level!r}: one of {', '.join(ACCESS_LEVELS)}")
        if until is not None:
            if level != "embargoed":
                raise Invalid("--until goes with embargoed")
            try:
                opening = dt.date.fromisoformat(until)
            except ValueError:
                raise Invalid(f"--until {until!r} is not a date (YYYY-MM-DD)") from None
        elif level == "embargoed" and opening is None:
            formed = access_rules.latest_date(obj) or today
            opening = access_rules.add_years(formed, self.settings.embargo_years)
        obj.mgmt["access"] = [NamedNode(f"{self.base}/vocab/access/{level}")]
        if opening is not None and level == "embargoed":
            obj.mgmt["openingDate"] = [Literal(opening.isoformat(),
                                               datatype=NamedNode(XSD + "date"))]
        else:
            obj.mgmt.pop("openingDate", None)

    def _mark_personal(self, obj: ContentObject, name: str) -> None:
        if name not in obj.type.fields:
            raise Invalid(f"{obj.type_name} has no field {name!r} to mark personal")
        values = obj.mgmt.setdefault("personalField", [])
        if Literal(name) not in values:
            values.append(Literal(name))

    def _editable(self, user: User, ref: str, permission: str = "modify") -> ContentObject:
        obj = self.get(user, ref)
        if not allowed(permission, obj.state, self.roles_on(user, obj)):
            raise Forbidden(f"{user.name} may not {permission} {obj.path} ({obj.state})")
        return obj

    def edit(self, user: User, ref: str, *, set: list[Assignment] | dict | None = None,
             add: list[Assignment] | None = None, unset: list[str] | None = None,
             expected_revision: int | None = None, message: str = "",
             statements: Iterable[tuple] = ()) -> ContentObject:
        """Change the description. With ``expected_revision``, a stale edit is a Conflict.

        ``statements`` are added as they are (see :class:`NewObject`; importers use them)."""
        with self._lock:
            obj = self._editable(user, ref)
            if expected_revision is not None and obj.revision != expected_revision:
                raise Conflict(f"{obj.path} changed since revision {expected_revision} "
                               f"(now {obj.revision}); reload and edit again")
            new = obj.copy()
            sets = assignments_from_mapping(set) if isinstance(set, dict) else list(set or [])
            if unset:
                self._unset(new, unset)
            self._apply_assignments(new, sets, replace=True, user=user)
            self._apply_assignments(new, list(add or []), replace=False, user=user)
            if new.mgmt.get("accessByDefault"):  # the default rule follows the record's dates
                self._set_access_facts(new, None, None, default=True)
            new.description.update(Quad(s, p, o, new.node) for s, p, o in statements)
            if new.description == obj.description:
                raise Invalid(f"{obj.path}: nothing to change")
            self._commit(user, "edit", message or f"edit {obj.path}", {obj.iri: (obj, new)})
            return self.load(obj.iri)

    def move(self, user: User, ref: str, target: str, *, slug: str | None = None,
             position: int | None = None, message: str = "") -> ContentObject:
        """Move (and/or rename) an object; its IRI does not change, its path does."""
        with self._lock:
            obj = self._editable(user, ref, "delete")
            target_iri = self.resolve(target)
            parent = self.load(target_iri) if target_iri != self.root_iri else None
            if target_iri == obj.iri or target_iri in self.descendant_iris(obj.iri):
                raise Invalid(f"cannot move {obj.path} into itself")
            container = parent.type_name if parent else "root"
            if container not in obj.type.allowed_in:
                raise Invalid(f"a {obj.type_name} cannot be placed in a {container}")
            if not allowed("add", parent.state if parent else "private",
                           self.roles_on(user, parent)):
                raise Forbidden(f"{user.name} may not add to {parent.path if parent else '/'}")
            slug = slug or obj.slug
            if not SLUG.match(slug):
                raise Invalid(f"name {slug!r}: lowercase letters, digits, '.', '-' or '_'")
            new_path = (parent.path if parent else "") + "/" + slug
            if new_path != obj.path and next(self.working.quads_for_pattern(
                    None, lt_node("path"), Literal(new_path), self.mgmt), None):
                raise Conflict(f"{new_path} exists already")
            exposure.check_move(self.reads, user, obj, target_iri, new_path)
            new = obj.copy()
            new.mgmt["parent"] = [NamedNode(target_iri)]
            new.mgmt["slug"] = [Literal(slug)]
            new.mgmt["path"] = [Literal(new_path)]
            if target_iri != obj.parent:
                new.mgmt["position"] = [xsd_int(self._next_position(target_iri))]
            if position is not None:
                new.mgmt["position"] = [xsd_int(position)]
            self._with_structure(new, parent)
            changes = {obj.iri: (obj, new)}
            for d in self.descendant_iris(obj.iri):  # paths are an index: keep it in step
                dobj = self.load(d)
                dnew = dobj.copy()
                dnew.mgmt["path"] = [Literal(new_path + dobj.path[len(obj.path):])]
                changes[d] = (dobj, dnew)
            self._commit(user, "move", message or f"move {obj.path} to {new_path}", changes,
                         bookkeeping=[obj.iri])
            return self.load(obj.iri)

    def delete(self, user: User, ref: str, *, recursive: bool = False,
               message: str = "") -> list[str]:
        """Delete (leaving a tombstone: the IRI is never reused and answers 410 later)."""
        with self._lock:
            obj = self._editable(user, ref, "delete")
            kids = self.descendant_iris(obj.iri)
            if kids and not recursive:
                raise Invalid(f"{obj.path} has {len(kids)} object(s) inside; use --recursive")
            doomed = {obj.iri, *kids}
            for iri in doomed:
                citing = [r for r in self._referrers(iri) if r.split("#", 1)[0] not in doomed]
                if citing:
                    cited = self.load(iri)
                    raise Conflict(f"{cited.path} is linked from {len(citing)} object(s), "
                                   f"e.g. {self.load(citing[0].split('#', 1)[0]).path}; "
                                   "remove those links first")
            changes = {}
            for iri in [obj.iri, *kids]:
                o = self.load(iri)
                if iri != obj.iri and not allowed("delete", o.state, self.roles_on(user, o)):
                    raise Forbidden(f"{user.name} may not delete {o.path} ({o.state})")
                gone = ContentObject(iri, {k: list(v) for k, v in o.mgmt.items()
                                           if k in ("type", "owner", "changedIn")})
                gone.mgmt["deletedIn"] = [Literal("pending")]  # replaced by the changeset IRI
                changes[iri] = (o, gone)
            self._commit(user, "delete", message or f"delete {obj.path}", changes)
            return list(changes)

    def transition(self, user: User, ref: str, action: str, *, comment: str = "",
                   recursive: bool = False) -> list[ContentObject]:
        """Take a workflow transition on an object (and, recursively, those inside)."""
        t = TRANSITIONS.get(action)
        if t is None:
            raise WorkflowError(f"no transition {action!r} (transitions: {', '.join(TRANSITIONS)})")
        with self._lock:
            obj = self.get(user, ref)
            targets = [obj] + ([self.load(i) for i in self.descendant_iris(obj.iri)]
                               if recursive else [])
            changes = {}
            for o in targets:
                if o.state not in t.source:
                    if o is obj and not recursive:
                        raise WorkflowError(f"{o.path} is {o.state}: cannot {action} "
                                            f"(only from {', '.join(t.source)})")
                    continue
                if not (self.roles_on(user, o) & t.roles):
                    if o is obj:
                        raise Forbidden(f"{user.name} may not {action} {o.path}")
                    continue
                new = o.copy()
                new.mgmt["state"] = [lt_node(t.target)]
                changes[o.iri] = (o, new)
            if not changes:
                raise WorkflowError(f"nothing under {obj.path} can be {action}ed")
            self._commit(user, action, comment or f"{action} {obj.path}", changes)
            return [self.load(i) for i in changes]

    def set_access(self, user: User, ref: str, level: str | None = None, *,
                   until: str | None = None, personal: Iterable[str] = (),
                   not_personal: Iterable[str] = (), message: str = "") -> ContentObject:
        """Change the access rule and/or the fields marked personal."""
        with self._lock:
            obj = self.get(user, ref)
            new = obj.copy()
            if level is not None:
                self._set_access_facts(new, level, until)
            for name in personal:
                self._mark_personal(new, name)
            for name in not_personal:
                new.mgmt["personalField"] = [v for v in new.mgmt.get("personalField", [])
                                             if v.value != name]
            if new.mgmt == obj.mgmt:
                raise Invalid(f"{obj.path}: access is already so")
            permission = "open" if self._opens(obj, new) else "restrict"
            if not allowed(permission, obj.state, self.roles_on(user, obj)):
                raise Forbidden(f"{user.name} may not {permission} access to {obj.path}")
            what = level or "personal fields"
            self._commit(user, "access", message or f"access {what} {obj.path}",
                         {obj.iri: (obj, new)})
            return self.load(obj.iri)

    @staticmethod
    def _opens(old: ContentObject, new: ContentObject) -> bool:
        """Does the change let the public see more than before?"""
        rank = {"open": 0, "embargoed": 1, "personal": 2, "restricted": 2}
        if rank[new.access] < rank[old.access]:
            return True
        if new.access == old.access == "embargoed" and (new.opening_date or dt.date.max) < (
                old.opening_date or dt.date.max):
            return True
        return bool(old.personal_fields - new.personal_fields)

    def release_due(self, *, today: dt.date | None = None) -> list[str]:
        """Open every embargoed object whose opening date has come (one changeset)."""
        today = today or self.clock().date()
        query = f"""SELECT ?o WHERE {{
            ?o <{LT}access> <{self.base}/vocab/access/embargoed> ; <{LT}openingDate> ?d .
            FILTER(?d <= "{today.isoformat()}"^^<{XSD}date>) }}"""
        due = [obj for row in self.working.query(query)
               if (obj := self.load(row["o"].value)) is not None and not obj.deleted]
        if not due:
            return []
        with self._lock:
            changes = {}
            for obj in due:
                new = obj.copy()
                self._set_access_facts(new, "open", None)
                changes[obj.iri] = (obj, new)
            self._commit(SYSTEM, "release",
                         f"automatic release: embargo ended on or before {today}", changes)
        return [o.iri for o in due]

    # ------------------------------------------------------------------ committing
    def require_writable(self) -> None:
        if not self.site.writable:
            raise ReadOnly("the read-only view of the repository cannot write")

    def _commit(self, user: User, action: str, message: str,
                changes: dict[str, tuple[ContentObject | None, ContentObject]],
                *, bookkeeping: list[str] | None = None) -> Changeset:
        """Validate, record and apply one changeset; then project it for the public.

        ``bookkeeping`` limits which objects get a revision (a move re-indexes the paths
        of everything inside, which is not a change of those objects).
        """
        self.require_writable()
        now = self.clock()
        cs_id = new_changeset_id(now)
        cs_node = changeset_iri(cs_id)
        revised = set(changes) if bookkeeping is None else set(bookkeeping)
        for iri, (before, after) in changes.items():
            if iri not in revised:
                continue
            after.mgmt["changedIn"] = [*(before.mgmt.get("changedIn", []) if before else []),
                                       cs_node]
            if after.mgmt.get("deletedIn"):
                after.mgmt["deletedIn"] = [cs_node]
        self._new_codes = {}
        for iri, (before, after) in changes.items():
            if after.deleted or iri not in revised:
                continue
            self._check_file_identity(user, before, after)
            validate(after, self._class_in(changes), vocab_base=self.base)
            parent = self.load(after.parent) if after.parent and after.parent != self.root_iri \
                else None
            self._check_refcode(after, parent)
        removed: set[Quad] = set()
        added: set[Quad] = set()
        patch_removed: set[Quad] = set()
        patch_added: set[Quad] = set()
        for iri, (before, after) in changes.items():
            old = before.all_quads(self.mgmt) if before else set()
            new = after.all_quads(self.mgmt)
            removed |= old - new
            added |= new - old
            if before is not None and iri in revised:
                t_old, t_new = before.tracked_quads(self.mgmt), after.tracked_quads(self.mgmt)
                patch_removed |= t_old - t_new
                patch_added |= t_new - t_old
        cs = Changeset(cs_id, user.name, now.isoformat(timespec="microseconds"), message, action,
                       encode_patch(patch_removed, patch_added))
        added |= set(cs.quads(self.mgmt))
        was_public = {iri: self._in_publication(iri) for iri in changes}
        entry = self.journal.begin(cs_id, {"changeset": cs_id, "objects": list(changes)})
        try:
            apply_update(self.working, removed, added)
        except BaseException:
            self.journal.end(entry)  # one transaction that failed: nothing was written
            raise
        projected = self._publish_affected(changes, was_public)
        bump_generation(self.home, cs_id)
        for listener in self.listeners:
            listener(self, set(changes) | projected)
        self.journal.end(entry)
        return cs

    def _class_in(self, changes: dict) -> Callable[[str], str | None]:
        def class_of(iri: str) -> str | None:
            if iri in changes:
                after = changes[iri][1]
                return None if after.deleted else after.type.rdf_class
            return self.class_of(iri)
        return class_of

    def recover(self) -> list[str]:
        """Finish what a crash interrupted: re-project objects of journalled changesets."""
        done = []
        def marked(cs_id: str) -> bool:
            return next(self.working.quads_for_pattern(changeset_iri(cs_id), None, None,
                                                       self.mgmt), None) is not None

        for path, entry in self.journal.pending():
            # a batch of an ingest counts only if the whole ingest completed
            applied = marked(entry["changeset"]) and (
                not entry.get("part_of") or marked(entry["part_of"]))
            if applied:
                if entry.get("objects_log"):
                    (self.journal.folder / entry["objects_log"]).unlink(missing_ok=True)
                for iri in entry.get("objects", []):
                    self.project(iri)
                    for d in self.descendant_iris(iri):
                        self.project(d)
                    for r in self._referrers(iri):
                        self.project(r)
                for listener in self.listeners:
                    listener(self, set(entry.get("objects", [])))
                done.append(entry["changeset"])
            elif entry.get("bulk"):
                objects = list(entry.get("objects", []))
                if entry.get("objects_log"):
                    log = self.journal.folder / entry["objects_log"]
                    if log.exists():
                        objects += log.read_text(encoding="utf-8").split()
                    log.unlink(missing_ok=True)
                self._roll_back(objects)
                for listener in self.listeners:
                    listener(self, set(objects))
            bump_generation(self.home, f"recovered-{entry['changeset']}")
            self.journal.end(path)
        return done

    # ------------------------------------------------------------------ export
    def export_rdf(self, user: User, *, public: bool, fmt: str) -> bytes:
        """Descriptions as Turtle, N-Quads or JSON-LD (the working store needs a Manager)."""
        formats = {"ttl": RdfFormat.TURTLE, "nq": RdfFormat.N_QUADS, "jsonld": RdfFormat.JSON_LD,
                   "trig": RdfFormat.TRIG, "nt": RdfFormat.N_TRIPLES}
        if fmt not in formats:
            raise Invalid(f"format {fmt!r}: one of {', '.join(formats)}")
        if public:
            store = self.public
            quads = list(store)
        else:
            require_manager(user)
            quads = [q for q in self.working if q.graph_name != self.mgmt]
        if formats[fmt].supports_datasets:
            return serialize(sorted(quads, key=str), format=formats[fmt]) or b""
        tmp = Store()
        tmp.extend(Quad(q.subject, q.predicate, q.object) for q in quads)
        prefixes = {"rico": RICO, "schema": SCHEMA, "xsd": XSD}
        return tmp.dump(format=formats[fmt], from_graph=DefaultGraph(),
                        prefixes=prefixes if fmt == "ttl" else None) or b""


__all__ = ["DiffLine", "LantaiError", "NewObject", "Repository"]
