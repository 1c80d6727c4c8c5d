"""The Repository: the one door for every read by staff and every write.

Each operation resolves its target (a path like ``/xjtu/oral-history`` or an IRI), checks the
user's permission (global role + local roles inherited down the tree + Owner, against the
object's workflow state), builds the new state of each object it touches, validates it
against the profile, and commits one changeset: the working store in one transaction, then
the publication dataset and the listeners (the catalog), with a journal in between so that a
crash is finished or forgotten on the next open, never half-applied.
"""

from __future__ import annotations

import datetime as dt
import threading
import traceback
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

from pyoxigraph import Literal, NamedNode, Quad, Store

from ontology.namespaces import LT, RICO, XSD
from ontology.terms import solutions
from preservation import audit, checkpoints
from repo import exposure
from repo.accounts import Accounts, require_manager
from repo.building import SLUG, Builder
from repo.config import Settings, check_base, read_settings, write_settings
from repo.errors import Conflict, Forbidden, Invalid, LantaiError, WorkflowError
from repo.gone import GoneRegister
from repo.ingest import BulkIngest, NewObject
from repo.objects import (
    ContentObject,
    lt_node,
    xsd_int,
)
from repo.projection import Publication
from repo.reads import IngestCache, Reads
from repo.revisions import (
    Changes,
    Changeset,
    changeset_iri,
    encode_patch,
    new_changeset_id,
)
from repo.security import (
    SYSTEM,
    User,
    allowed,
    check_username,
)
from repo.site import Site, StoreHandle
from repo.store import (
    Journal,
    announce,
    apply_update,
    compact,
    migrate_management_graph,
)
from repo.sweep import sweep
from repo.validation import check as validate
from repo.values import (
    Assignment,
    assignments_from_mapping,
)
from repo.versions import DiffLine, Versions
from repo.workflow import TRANSITIONS
from repo.worklists import Worklists


def release_frames(tb: TracebackType | None) -> None:
    """Drop the local variables of a traceback's finished frames (the stores they hold)."""
    if tb is not None:
        traceback.clear_frames(tb)


Listener = Callable[["Repository", set[str]], None]


class Repository:
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
        self.reads = reads = Reads(site, self.cache)
        self.builder = Builder(site, reads, self.cache)
        self.ingesting_files = self.builder.ingesting_files
        self.bulk = BulkIngest(site, reads, self.builder, self.cache, self.journal,
                               self.listeners, self._lock, self)
        self.ingest, self._roll_back = self.bulk.ingest, self.bulk.roll_back
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
        self.set_totp, self.account_list, self.local_roles = (
            accounts.set_totp, accounts.account_list, accounts.local_roles)
        self.authenticate, self.user_for_token, self.account_history = (
            accounts.authenticate, accounts.user_for_token, accounts.account_history)
        self._save_user = accounts._save_user
        self.versions = versions = Versions(site, reads, self._commit, self._lock)
        self.history, self._history, self.state_at = (
            versions.history, versions._history, versions.state_at)
        self.diff, self.revert = versions.diff, versions.revert
        self.undelete, self.last_published = versions.undelete, versions.last_published
        self.worklists = worklists = Worklists(site, reads, self._staff_catalog)
        self.review_queue, self.recent_changes, self.drafts = (
            worklists.review_queue, worklists.recent_changes, worklists.drafts)
        self.embargoes_opening, self.deleted_inside = (
            worklists.embargoes_opening, worklists.deleted_inside)
        self.publication = publication = Publication(site, reads, self.gone, self._lock)
        self.project, self._in_publication = publication.project, publication.in_publication
        self._publish_affected = publication.publish_affected
        self._rebuild = publication.rebuild
        if not site.writable:
            return
        try:  # an open that fails (recovery, the catalog) lets go of the stores
            migrate_management_graph(site.working, self.base)
            from repo import catalog

            catalog.attach(self)
            from preservation import deposit

            deposit.attach(self)  # files go into OCFL after each changeset (issue 14)
            if self.settings.publication_endpoint:  # the publication to an external engine
                from external import mirror  # (issue 15; imported only then: requests)

                mirror.attach(self)
            self.recover()
            checkpoints.chain_on_open(site.home, site.base, site.working, site.mgmt)
            sweep(site.home, site.working)  # files a killed media ingest left (after recover)
        except BaseException:
            site.close()
            raise

    def _staff_catalog(self):
        """The staff catalog of the site (None if it has none yet): worklists read it."""
        from repo.catalog import Catalog
        from repo.catalog.index import CatalogIndex
        from repo.catalog.maintenance import catalog_path

        if not CatalogIndex.usable(catalog_path(self.home, False)):
            return None
        return Catalog.open(self.home, public=False, repository=self)

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
        settings = Settings(base=check_base(base), embargo_years=embargo_years,
                            files_encrypted=True)
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

    # ------------------------------------------------------------------ operations
    def create(self, user: User, parent: str, type_name: str,
               fields: dict | list[Assignment] | None = None, *, slug: str | None = None,
               key: str | None = None, access: str | None = None, until: str | None = None,
               personal_fields: Iterable[str] = (), message: str = "") -> ContentObject:
        """Create an object in ``parent`` (a path, an IRI or ``/``)."""
        with self._lock:
            obj = self.builder.build_new(
                user, parent, type_name, fields, slug=slug, key=key, access=access, until=until,
                personal_fields=personal_fields)
            self._commit(user, "create", message or f"create {obj.path}", {obj.iri: (None, obj)})
            return self.reads.stored(obj.iri)

    def refcode_for(self, user: User, ref: str, fields: dict | list[Assignment] | None = None,
                    *, new_type: str | None = None) -> str | None:
        """The reference code (档号) a write of ``fields`` would store, written nowhere: the
        given code normalised and checked against the record's context (Invalid or Conflict,
        as the write would raise), or, with none given, the number the repository would
        give a new file or item (None: it would give none). ``ref`` is the object edited, or
        with ``new_type`` the container a new object goes into. The staff forms ask this as
        the archivist types; a fresh builder keeps the numbering of one question to itself."""
        builder = Builder(self.site, self.reads, IngestCache())
        sets = assignments_from_mapping(fields) if isinstance(fields, dict) else list(fields or [])
        if new_type is None:
            obj = self._editable(user, ref).copy()
            builder.apply_assignments(obj, sets, replace=True, user=user)
        else:
            builder._type(new_type)
            parent_iri = self.resolve(ref)
            container = self.load(parent_iri) if parent_iri != self.root_iri else None
            builder._check_may_add(user, container, ref)
            obj = ContentObject("urn:lantai:unsaved", {
                "type": [Literal(new_type)], "parent": [NamedNode(parent_iri)]})
            builder.apply_assignments(obj, sets, replace=False, user=user)
        parent = self.load(obj.parent) if obj.parent and obj.parent != self.root_iri else None
        builder.check_refcode(obj, parent)
        return builder.field_value(obj, "refcode")

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
                self.builder.unset(new, unset)
            self.builder.apply_assignments(new, sets, replace=True, user=user)
            self.builder.apply_assignments(new, list(add or []), replace=False, user=user)
            if new.mgmt.get("accessByDefault"):  # the default rule follows the record's dates
                self.builder.set_access_facts(new, None, None, default=True)
            new.description.update(Quad(s, p, o, new.node) for s, p, o in statements)
            if new.description == obj.description:
                raise Invalid(f"{obj.path}: nothing to change")
            self._commit(user, "edit", message or f"edit {obj.path}", {obj.iri: (obj, new)})
            return self.reads.stored(obj.iri)

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
                new.mgmt["position"] = [xsd_int(self.reads.next_position(target_iri))]
            if position is not None:
                new.mgmt["position"] = [xsd_int(position)]
            self.builder.with_structure(new, parent)
            changes: Changes = {obj.iri: (obj, new)}
            for d in self.descendant_iris(obj.iri):  # paths are an index: keep it in step
                dobj = self.reads.stored(d)
                dnew = dobj.copy()
                dnew.mgmt["path"] = [Literal(new_path + dobj.path[len(obj.path):])]
                changes[d] = (dobj, dnew)
            self._commit(user, "move", message or f"move {obj.path} to {new_path}", changes,
                         bookkeeping=[obj.iri])
            return self.reads.stored(obj.iri)

    def reorder(self, user: User, ref: str, index: int, *, message: str = "") -> ContentObject:
        """Place an object at ``index`` among its siblings (0 first; past the end, last),
        in one changeset that changes as few siblings' positions as it must (positions are
        sort keys: a gap is used, else the next siblings move on by one until one is free).
        The right to move the object is needed; a sibling whose published order changes
        (exhibits, sections, page scans) gets a revision and needs the right to modify it."""
        with self._lock:
            obj = self._editable(user, ref, "delete")
            parent_iri = obj.parent or self.root_iri
            parent = self.load(parent_iri) if parent_iri != self.root_iri else None
            if not allowed("add", parent.state if parent else "private",
                           self.roles_on(user, parent)):
                raise Forbidden(f"{user.name} may not reorder {parent.path if parent else '/'}")
            others = [(pos, iri) for pos, iri in self.reads.child_positions(parent_iri)
                      if iri != obj.iri]
            index = max(0, min(index, len(others)))
            if not others:
                raise Invalid(f"{obj.path} has no siblings to be ordered among")
            if index == 0:
                wanted = {obj.iri: others[0][0] - 1}
            else:
                wanted = {obj.iri: others[index - 1][0] + 1}
                cur = wanted[obj.iri]
                for pos, iri in others[index:]:  # ripple until a gap
                    if pos > cur:
                        break
                    cur += 1
                    wanted[iri] = cur
            changes: Changes = {}
            revised = [obj.iri]
            for iri, pos in wanted.items():
                before = obj if iri == obj.iri else self.reads.stored(iri)
                if before.position == pos:
                    continue
                after = before.copy()
                after.mgmt["position"] = [xsd_int(pos)]
                self.builder.with_structure(after, parent)
                if iri != obj.iri and after.description != before.description:
                    if not allowed("modify", before.state, self.roles_on(user, before)):
                        raise Forbidden(f"{user.name} may not modify {before.path} "
                                        f"({before.state}), whose place would change")
                    revised.append(iri)
                changes[iri] = (before, after)
            if not changes:
                raise Invalid(f"{obj.path} is already there")
            self._commit(user, "move", message or f"reorder {obj.path} to {index + 1}", changes,
                         bookkeeping=revised)
            return self.reads.stored(obj.iri)

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
                    cited, first = self.reads.stored(iri), citing[0].split("#", 1)[0]
                    raise Conflict(f"{cited.path} is linked from {len(citing)} object(s), "
                                   f"e.g. {self.reads.stored(first).path}; "
                                   "remove those links first")
            changes: Changes = {}
            for iri in [obj.iri, *kids]:
                o = self.reads.stored(iri)
                if iri != obj.iri and not allowed("delete", o.state, self.roles_on(user, o)):
                    raise Forbidden(f"{user.name} may not delete {o.path} ({o.state})")
                gone = ContentObject(iri, {k: list(v) for k, v in o.mgmt.items()
                                           if k in ("type", "owner", "changedIn")})
                gone.mgmt["deletedIn"] = [Literal("pending")]  # replaced by the changeset IRI
                if o.parent:  # an index: what was deleted here, to undelete it from there
                    gone.mgmt["deletedFrom"] = [NamedNode(o.parent)]
                gone.mgmt["deletedPath"] = [Literal(o.path)]  # and what it was called
                gone.mgmt["deletedTitle"] = [
                    q.object for q in o.description if q.subject == o.node
                    and q.predicate.value in (RICO + "title", RICO + "name")][:8]
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
            targets = [obj] + ([self.reads.stored(i) for i in self.descendant_iris(obj.iri)]
                               if recursive else [])
            changes: Changes = {}
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
            return [self.reads.stored(i) for i in changes]

    def set_access(self, user: User, ref: str, level: str | None = None, *,
                   until: str | None = None, personal: Iterable[str] = (),
                   not_personal: Iterable[str] = (), message: str = "") -> ContentObject:
        """Change the access rule and/or the fields marked personal."""
        with self._lock:
            obj = self.get(user, ref)
            roles = self.roles_on(user, obj)
            if not any(allowed(p, obj.state, roles) for p in ("restrict", "open")):
                raise Forbidden(f"{user.name} may not change access to {obj.path}")
            new = obj.copy()
            if level is not None:
                self.builder.set_access_facts(new, level, until)
            for name in personal:
                self.builder.mark_personal(new, name)
            for name in not_personal:
                new.mgmt["personalField"] = [v for v in new.mgmt.get("personalField", [])
                                             if v.value != name]
            if new.mgmt == obj.mgmt:
                raise Invalid(f"{obj.path}: access is already so")
            permission = "open" if self._opens(obj, new) else "restrict"
            if not allowed(permission, obj.state, roles):
                raise Forbidden(f"{user.name} may not {permission} access to {obj.path}")
            what = level or "personal fields"
            self._commit(user, "access", message or f"access {what} {obj.path}",
                         {obj.iri: (obj, new)})
            return self.reads.stored(obj.iri)

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
        due = [obj for row in solutions(self.working.query(query))
               if (obj := self.load(row["o"].value)) is not None and not obj.deleted]
        if not due:
            return []
        with self._lock:
            changes: Changes = {}
            for obj in due:
                new = obj.copy()
                self.builder.set_access_facts(new, "open", None)
                changes[obj.iri] = (obj, new)
            self._commit(SYSTEM, "release",
                         f"automatic release: embargo ended on or before {today}", changes)
        return [o.iri for o in due]

    # ------------------------------------------------------------------ committing
    def _commit(self, user: User, action: str, message: str,
                changes: dict[str, tuple[ContentObject | None, ContentObject]],
                *, bookkeeping: list[str] | None = None) -> Changeset:
        """Validate, record and apply one changeset; then project it for the public.

        ``bookkeeping`` limits which objects get a revision (a move re-indexes the paths
        of everything inside, which is not a change of those objects).
        """
        self.site.require_writable()
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
        self.builder.new_codes = {}
        for iri, (before, after) in changes.items():
            if after.deleted or iri not in revised:
                continue
            self.builder.check_file_identity(user, before, after)
            validate(after, self._class_in(changes), vocab_base=self.base)
            parent = self.load(after.parent) if after.parent and after.parent != self.root_iri \
                else None
            self.builder.check_refcode(after, parent)
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
        unlinked, linked, head = audit.link(self.working, self.mgmt, cs)  # the hash chain
        removed |= unlinked
        added |= linked
        was_public = {iri: self._in_publication(iri) for iri in changes}
        entry = self.journal.begin(cs_id, {"changeset": cs_id, "objects": list(changes)})
        try:
            apply_update(self.working, removed, added)
        except BaseException:
            self.journal.end(entry)  # one transaction that failed: nothing was written
            raise
        projected = self._publish_affected(changes, was_public)
        announce(self.site.public, self.home, cs_id)
        for listener in self.listeners:
            listener(self, set(changes) | projected)
        self.journal.end(entry)
        checkpoints.checkpoint_if_due(self.home, self.base, self.settings.audit_checkpoint_every,
                                      head)
        return cs

    def _class_in(self, changes: dict) -> Callable[[str], str | None]:
        def class_of(iri: str) -> str | None:
            if iri in changes:
                after = changes[iri][1]
                return None if after.deleted else after.type.rdf_class
            return self.class_of(iri)
        return class_of

    def rebuild_publication(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Recompute the whole publication dataset (``lantai publish --rebuild``). The
        dataset is emptied first, so a rebuild killed half-way left a publication missing
        most of the public records, and nothing on the next open noticed: a journal entry
        now says a rebuild is under way, and :meth:`recover` runs it again to the end."""
        self.site.require_writable()
        entry = self.journal.begin(f"rebuild-{uuid.uuid4().hex}", {"rebuild": True})
        count = self._rebuild(progress)
        self._rebuilt()
        self.journal.end(entry)
        return count

    def optimize_publication(self) -> float:
        """Compact the publication store (``lantai publish --optimize``); the seconds it took.
        Readers in other processes keep working (:func:`repo.store.compact`)."""
        self.site.require_writable()
        with self._lock:
            return compact(self.site.public, self.home)

    def _rebuilt(self) -> None:
        """Tell the listeners that care (``rebuilt(repository)``: the external engine's
        mirror) that the whole publication dataset was recomputed."""
        for listener in self.listeners:
            rebuilt = getattr(listener, "rebuilt", None)
            if rebuilt is not None:
                rebuilt(self)

    def recover(self) -> list[str]:
        """Finish what a crash interrupted: re-project objects of journalled changesets,
        run again a rebuild of the publication that did not finish."""
        done = []
        rebuilds = []
        def marked(cs_id: str) -> bool:
            return next(self.working.quads_for_pattern(changeset_iri(cs_id), None, None,
                                                       self.mgmt), None) is not None

        for path, entry in self.journal.pending():
            if entry.get("rebuild"):
                rebuilds.append(path)  # last, from the working store as recovery left it
                continue
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
                announce(self.site.public, self.home, f"recovered-{entry['changeset']}")
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
                announce(self.site.public, self.home, f"recovered-{entry['changeset']}")
                for listener in self.listeners:
                    listener(self, set(objects))
            else:
                announce(self.site.public, self.home, f"recovered-{entry['changeset']}")
            self.journal.end(path)
        if rebuilds:
            self._rebuild(None)
            self._rebuilt()
            for path in rebuilds:
                self.journal.end(path)
        return done

    # ------------------------------------------------------------------ export
    def export_rdf(self, user: User, *, public: bool, fmt: str) -> bytes:
        """Descriptions as Turtle, N-Quads or JSON-LD (the working store needs a Manager)."""
        from repo.exporters.rdf import FORMATS, serialize_quads

        if fmt not in FORMATS:
            raise Invalid(f"format {fmt!r}: one of {', '.join(FORMATS)}")
        if public:
            quads = list(self.public)
        else:
            require_manager(user)
            quads = [q for q in self.working if q.graph_name != self.mgmt]
        return serialize_quads(quads, fmt)


__all__ = ["DiffLine", "LantaiError", "NewObject", "Repository"]
