"""Worklists: what needs a user's attention, in bounded lists that stay fast on a big site.

The staff dashboard and review queue read these (so could the CLI): the review queue
(pending objects the user may publish or reject), the user's drafts, recent changes, embargoes
opening soon, and the objects deleted inside a container (to undelete them). Each list reads
the management graph through its indexes and stops after ``limit`` rows: nothing loads every
child of a folder or every revision of the site. Who may see or review an object is decided
by :class:`~repo.reads.Reads` (roles, local roles, can_view) and the workflow's transition
roles, never here.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyoxigraph import Literal, NamedNode

from ontology.namespaces import LT, PROV, RDFS, XSD
from ontology.terms import solutions, value
from repo.objects import ContentObject, lt_node, user_iri
from repo.reads import Reads
from repo.security import User
from repo.site import Site
from repo.workflow import TRANSITIONS

if TYPE_CHECKING:
    from repo.catalog.search import Catalog


def _string(text: str) -> str:
    """A SPARQL string literal (paths and names are checked text, but quote them anyway)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _id_time(cs_id: str) -> str:
    """ISO time of a changeset from its id (which starts with it)."""
    t = cs_id.split("-", 1)[0]
    return f"{t[:4]}-{t[4:6]}-{t[6:8]}T{t[9:11]}:{t[11:13]}:{t[13:15]}"


@dataclass(frozen=True)
class Pending:
    """An object waiting for review, since the time of its last change."""

    obj: ContentObject
    since: str


@dataclass(frozen=True)
class Change:
    """One recent changeset, with the first objects it touched that the user may view."""

    id: str
    time: str
    author: str
    action: str
    message: str
    objects: tuple[ContentObject, ...]
    more: int  # how many other objects it touched (visible or not)


@dataclass(frozen=True)
class Opening:
    """An embargoed object and the day its embargo ends."""

    obj: ContentObject
    opens: dt.date


@dataclass(frozen=True)
class Deleted:
    """A deleted object (a tombstone) as it was called, and when it was deleted."""

    obj: ContentObject
    path: str
    titles: dict[str, str]  # language → title
    time: str

    def title(self, lang: str) -> str:
        return self.titles.get(lang) or next(iter(self.titles.values()), "") or \
            self.path.rsplit("/", 1)[-1]


class Worklists:
    """Bounded lists for the dashboard (a part of :class:`repo.repository.Repository`)."""

    REVIEWING = TRANSITIONS["publish"].roles  # who may publish or reject a pending object

    def __init__(self, site: Site, reads: Reads,
                 catalog: Callable[[], Catalog | None] = lambda: None) -> None:
        self.site = site
        self.reads = reads
        self.catalog = catalog  # the staff catalog, when the site has one

    def _by_change(self, user: User, state: str, limit: int, **kw) -> list[str] | None:
        """The staff catalog's list (its index on the last change), or None when there is
        no complete catalog: then the caller reads the store (bounded, slower)."""
        catalog = self.catalog()
        if catalog is None:
            return None
        return catalog.by_change(user=user, state=state, limit=limit, **kw)

    def _select(self, query: str) -> Iterator[dict]:
        yield from solutions(self.site.working.query(f"PREFIX lt: <{LT}>\n{query}"))

    def _live(self, iris: Iterator[str]) -> Iterator[ContentObject]:
        for iri in iris:
            obj = self.reads.load(iri)
            if obj is not None and not obj.deleted:
                yield obj

    # ------------------------------------------------------------------ review queue
    def reviewable_paths(self, user: User) -> list[str] | None:
        """Paths under which ``user`` may review: None for everywhere (a site-wide
        Reviewer or Manager), else the containers where they hold such a local role."""
        if user.roles & self.REVIEWING:
            return None
        node = user_iri(user.name)
        paths = set()
        for role in sorted(self.REVIEWING):
            if role == "Owner":
                continue
            for q in self.site.working.quads_for_pattern(None, lt_node("local" + role), node,
                                                         self.site.mgmt):
                obj = self.reads.load(value(q.subject))
                if obj is not None and not obj.deleted and obj.path:
                    paths.add(obj.path)
        return sorted(paths)

    def review_queue(self, user: User, limit: int = 50) -> list[Pending]:
        """Pending objects ``user`` may publish or reject, oldest first (by their last
        change: the submission, or a reviewer's edit since)."""
        paths = self.reviewable_paths(user)
        if paths == []:
            return []
        within = None if paths is None else [self.reads.resolve(p) for p in paths]
        listed = self._by_change(user, "pending", limit * 2 + 10, within=within)
        if listed is not None:
            found = (self.reads.load(iri) for iri in listed)
            return [Pending(o, o.modified[:19]) for o in found
                    if o is not None and not o.deleted and o.state == "pending"
                    and self.reads.roles_on(user, o) & self.REVIEWING][:limit]
        working, mgmt, changed_in = self.site.working, self.site.mgmt, lt_node("changedIn")

        def candidates() -> Iterator[tuple[str, str]]:
            """(last changeset id, IRI) of every pending object in the paths (index reads
            only: the pending objects' own facts, no aggregate query)."""
            for q in working.quads_for_pattern(None, lt_node("state"), lt_node("pending"), mgmt):
                if paths is not None:
                    path = next(working.quads_for_pattern(q.subject, lt_node("path"), None,
                                                          mgmt), None)
                    p = value(path.object) if path is not None else ""
                    if not any(p == c or p.startswith(c + "/") for c in paths):
                        continue
                last = max((value(c.object) for c in working.quads_for_pattern(
                    q.subject, changed_in, None, mgmt)), default="")
                yield last.rsplit(":", 1)[-1], value(q.subject)

        out = []
        for last, iri in sorted(candidates()):
            obj = self.reads.load(iri)
            if obj is None or obj.deleted or obj.state != "pending":
                continue
            if not (self.reads.roles_on(user, obj) & self.REVIEWING):
                continue
            out.append(Pending(obj, _id_time(last)))
            if len(out) >= limit:
                break
        return out

    # ------------------------------------------------------------------ changes
    def _recent_changesets(self, limit: int, author: str | None = None) -> Iterator[dict]:
        by = f"; <{PROV}wasAttributedTo> <{user_iri(author).value}>" if author else ""
        return self._select(f"""SELECT ?cs ?t WHERE {{
            ?cs a lt:Changeset ; <{PROV}endedAtTime> ?t {by} }}
            ORDER BY DESC(?t) DESC(?cs) LIMIT {int(limit)}""")

    def _touched(self, cs: NamedNode, limit: int) -> tuple[list[str], int]:
        """Up to ``limit`` objects a changeset touched (accounts left out), and whether
        there were more (how many, up to 1000 counted)."""
        iris: list[str] = []
        n = 0
        for q in itertools.islice(self.site.working.quads_for_pattern(
                None, lt_node("changedIn"), cs, self.site.mgmt), 1000):
            if not self.site.is_repository_object(value(q.subject)):
                continue
            n += 1
            if len(iris) < limit:
                iris.append(value(q.subject))
        return iris, n

    def recent_changes(self, user: User, limit: int = 20, *, scan: int = 60,
                       per_change: int = 3) -> list[Change]:
        """The newest changesets that touched an object ``user`` may view (at most
        ``scan`` changesets are looked at), each with up to ``per_change`` such objects."""
        out = []
        for row in self._recent_changesets(scan):
            cs = row["cs"]
            iris, n = self._touched(cs, 1000)
            visible: list[ContentObject] = []
            for iri in iris[:max(per_change, 20)]:  # a few loads per change, however large
                obj = self.reads.load(iri)
                if obj is not None and self.reads.can_view(user, obj):
                    visible.append(obj)
                    if len(visible) >= per_change:
                        break
            if not visible:
                continue
            def fact(predicate: str, cs: NamedNode = cs) -> str:  # not the patch: it is long
                q = next(self.site.working.quads_for_pattern(cs, NamedNode(predicate), None,
                                                             self.site.mgmt), None)
                return value(q.object) if q is not None else ""
            out.append(Change(
                id=cs.value.rsplit(":", 1)[-1], time=value(row["t"]),
                author=fact(PROV + "wasAttributedTo").rsplit(":", 1)[-1],
                action=fact(LT + "action"), message=fact(RDFS + "comment"),
                objects=tuple(visible), more=n - len(visible)))
            if len(out) >= limit:
                break
        return out

    def drafts(self, user: User, limit: int = 20, *, scan: int = 40) -> list[ContentObject]:
        """Private objects ``user`` owns, most recently changed by them first (from their
        last ``scan`` changesets, each looked at for its first 20 objects)."""
        listed = self._by_change(user, "private", limit * 2 + 10, owner=user.name, newest=True)
        if listed is not None:
            found = (self.reads.load(iri) for iri in listed)
            return [o for o in found if o is not None and not o.deleted
                    and o.owner == user.name and o.state == "private"
                    and self.reads.can_view(user, o)][:limit]
        out: dict[str, ContentObject] = {}
        for row in self._recent_changesets(scan, author=user.name):
            iris, _ = self._touched(row["cs"], 20)
            for obj in self._live(iter(iris)):
                if obj.iri not in out and obj.owner == user.name and obj.state == "private" \
                        and self.reads.can_view(user, obj):
                    out[obj.iri] = obj
                    if len(out) >= limit:
                        return list(out.values())
        return list(out.values())

    # ------------------------------------------------------------------ access
    def embargoes_opening(self, user: User, today: dt.date, days: int = 90,
                          limit: int = 20) -> list[Opening]:
        """Embargoed objects ``user`` may view whose opening date is within ``days``
        from ``today``, soonest first."""
        date_type = NamedNode(XSD + "date")
        out = []
        for n in range(days + 1):  # one index lookup per day: no scan of every embargo
            day = today + dt.timedelta(days=n)
            found = self.site.working.quads_for_pattern(
                None, lt_node("openingDate"), Literal(day.isoformat(), datatype=date_type),
                self.site.mgmt)
            for iri in sorted(value(q.subject) for q in found):
                obj = self.reads.load(iri)
                if obj is None or obj.deleted or obj.access != "embargoed" \
                        or not self.reads.can_view(user, obj):
                    continue
                out.append(Opening(obj, day))
                if len(out) >= limit:
                    return out
        return out

    # ------------------------------------------------------------------ deleted
    def deleted_inside(self, user: User, ref: str, limit: int = 50) -> list[Deleted]:
        """Objects deleted from the container ``ref`` (``/``: the top) that ``user`` may
        restore, newest deletion first."""
        container = self.reads.resolve(ref)
        if container != self.site.root_iri:
            self.reads.get(user, ref)  # NotFound unless the container may be viewed
        found = []
        for q in self.site.working.quads_for_pattern(None, lt_node("deletedFrom"),
                                                     NamedNode(container), self.site.mgmt):
            obj = self.reads.load(value(q.subject))
            if obj is not None and obj.deleted:
                found.append(obj)
        def when(o: ContentObject) -> str:
            return max((v.value.rsplit(":", 1)[-1] for v in o.mgmt.get("deletedIn", [])),
                       default="")
        found.sort(key=when, reverse=True)
        out = []
        for obj in found:
            if self.reads.may_restore(user, obj):
                titles = {t.language or "": t.value for t in obj.mgmt.get("deletedTitle", [])
                          if isinstance(t, Literal)}
                path = next((v.value for v in obj.mgmt.get("deletedPath", [])), "")
                out.append(Deleted(obj, path, titles, _id_time(when(obj))))
                if len(out) >= limit:
                    break
        return out
