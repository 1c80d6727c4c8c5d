"""Reading a site's working store as staff do: objects, the tree, permissions.

No method here writes, so the same :class:`Reads` serves the repository opened for writing
and the API's read-only view. During a bulk ingest the reads go through :class:`IngestCache`
first (containers do not change while it runs and thousands of objects go into each).
"""

from __future__ import annotations

from collections.abc import Iterator

from pyoxigraph import Literal, NamedNode

from ontology.terms import value
from repo import access as access_rules
from repo.errors import NotFound
from repo.objects import ContentObject, lt_node, read_object
from repo.publication import NEVER_PUBLIC_TYPES
from repo.security import User, allowed
from repo.site import Site
from repo.values import check_iri, check_text


class IngestCache:
    """What a bulk ingest keeps while it runs (off otherwise): objects by IRI, IRIs by path,
    roles, public status and inherited context per container, and which (user, container)
    may be added to. Reads, builds and the ingest share one."""

    def __init__(self) -> None:
        self.clear()

    def clear(self, *, active: bool = False) -> None:
        """Empty every cache; ``active`` turns caching on (an ingest starts), else off."""
        self.objects: dict[str, ContentObject] | None = {} if active else None  # by IRI
        self.paths: dict[str, str] = {}
        self.roles: dict[tuple[str, str], set[str]] = {}
        self.inside: dict[str, bool] = {}
        self.contexts: dict[str, dict] = {}
        self.may_add: set[tuple[str, str | None]] = set()


    def running(self) -> dict[str, ContentObject]:
        """The objects of the ingest under way (outside one, a bug: RuntimeError)."""
        if self.objects is None:
            raise RuntimeError("no bulk ingest is running")
        return self.objects


class Reads:
    """Staff reads of the working store (no permission check in :meth:`load`, the rest
    checks what ``user`` may view)."""

    def __init__(self, site: Site, cache: IngestCache) -> None:
        self.site = site
        self.cache = cache

    def load(self, iri: str) -> ContentObject | None:
        """The object as stored (tombstones included), or None. No permission check."""
        objects = self.cache.objects
        if objects is not None and iri in objects:
            return objects[iri]
        obj = read_object(self.site.working, self.site.mgmt, iri)
        if obj is not None and objects is not None:
            objects[iri] = obj
        return obj

    def stored(self, iri: str) -> ContentObject:
        """The object just written (or known to be stored); NotFound if it is not."""
        obj = self.load(iri)
        if obj is None:
            raise NotFound(f"no object {iri}")
        return obj

    def resolve(self, ref: str) -> str:
        """A path (``/a/b``) or an IRI to the IRI of a live object (or the root)."""
        ref = ref.strip()
        if ref in ("", "/"):
            return self.site.root_iri
        if ref.startswith(("http://", "https://")):
            check_iri("object", ref)
            obj = self.load(ref)
            if obj is None or obj.deleted:
                raise NotFound(f"no object {ref}")
            return ref
        check_text("path", ref)
        path = "/" + ref.strip("/")
        if self.cache.objects is not None and path in self.cache.paths:
            return self.cache.paths[path]
        hit = self.at_path(path)
        if hit is None:
            raise NotFound(f"no object at {path}")
        return hit

    def at_path(self, path: str) -> str | None:
        """The IRI of the object stored at ``path``, if any (tombstones have no path)."""
        hit = next(self.site.working.quads_for_pattern(None, lt_node("path"), Literal(path),
                                                       self.site.mgmt), None)
        return value(hit.subject) if hit is not None else None

    def ancestors(self, obj: ContentObject) -> list[ContentObject]:
        """Containers above ``obj``, nearest first (the site root is not an object)."""
        out = []
        parent = obj.parent
        while parent and parent != self.site.root_iri:
            p = self.load(parent)
            if p is None:
                break
            out.append(p)
            parent = p.parent
        return out

    def _positions(self, parent_iri: str) -> Iterator[tuple[int | None, str]]:
        working, mgmt = self.site.working, self.site.mgmt
        for q in working.quads_for_pattern(None, lt_node("parent"), NamedNode(parent_iri), mgmt):
            pos = next(working.quads_for_pattern(q.subject, lt_node("position"), None, mgmt),
                       None)
            yield (int(value(pos.object)) if pos else None), value(q.subject)

    def child_positions(self, iri: str) -> list[tuple[int, str]]:
        """``(position, IRI)`` of the children, in their order (position, then IRI)."""
        return sorted((pos or 0, kid) for pos, kid in self._positions(iri))

    def child_iris(self, iri: str) -> list[str]:
        """Children in their order."""
        return [kid for _, kid in self.child_positions(iri)]

    def next_position(self, parent_iri: str) -> int:
        """The position a new child of ``parent_iri`` takes (after every stored one)."""
        return max((pos for pos, _ in self._positions(parent_iri) if pos is not None),
                   default=-1) + 1

    def descendant_iris(self, iri: str) -> list[str]:
        out, todo = [], [iri]
        while todo:
            kids = self.child_iris(todo.pop())
            out.extend(kids)
            todo.extend(kids)
        return out

    def referrers(self, iri: str) -> list[str]:
        """The description graphs (objects) that link to ``iri``, other than its own."""
        out = set()
        for q in self.site.working.quads_for_pattern(None, None, NamedNode(iri), None):
            g = q.graph_name
            if isinstance(g, NamedNode) and g.value != iri:
                out.add(g.value)
        return sorted(out)

    def roles_on(self, user: User, obj: ContentObject | None) -> set[str]:
        """Global roles, local roles on ``obj`` and its containers, and Owner."""
        roles = set(user.roles)
        if obj is None:
            return roles
        cache = self.cache
        if cache.objects is not None and obj.parent:  # an ingest: containers do not change
            key = (user.name, obj.parent)
            if key not in cache.roles:
                parent = self.load(obj.parent)
                cache.roles[key] = self.roles_on(user, parent) - {"Owner"} if parent else roles
            inherited = cache.roles[key] | obj.local_roles().get(user.name, set())
            return inherited | ({"Owner"} if obj.owner == user.name else set())
        for o in [obj, *self.ancestors(obj)]:
            roles |= o.local_roles().get(user.name, set())
        if obj.owner == user.name:
            roles.add("Owner")
        return roles

    def can_view(self, user: User, obj: ContentObject) -> bool:
        if allowed("view", obj.state, self.roles_on(user, obj)):
            return True
        # personal data: the person described may read their own record (and its scans)
        if user.agent:
            chain = [obj, *self.ancestors(obj)]
            for o in chain:
                if o.access in ("restricted", "embargoed"):
                    return False  # staff only, even for the person described
                if o.access == "personal":
                    return any(q.object.value == user.agent for q in o.description
                               if isinstance(q.object, NamedNode))
        return False

    def get(self, user: User, ref: str) -> ContentObject:
        iri = self.resolve(ref)
        obj = self.load(iri)
        if obj is None:
            raise NotFound(f"{ref} is the site root, not an object")
        if not self.can_view(user, obj):
            raise NotFound(f"no object at {ref}")  # do not confirm that it exists
        return obj

    def load_any(self, user: User, ref: str) -> ContentObject:
        """Like get, but deleted objects are found by IRI (to see their history, revert)."""
        if ref.startswith(("http://", "https://")):
            check_iri("object", ref)
            obj = self.load(ref)
            if obj is None:
                raise NotFound(f"no object {ref}")
            if obj.deleted:
                if not self.may_restore(user, obj):
                    raise NotFound(f"no object {ref}")
                return obj
        return self.get(user, ref)

    def may_restore(self, user: User, tombstone: ContentObject) -> bool:
        """May ``user`` see a deleted object's history and restore it? Its owner, or an
        Editor or Manager site-wide or of the container it was deleted from."""
        if tombstone.owner == user.name:
            return True
        where = tombstone.mgmt.get("deletedFrom")
        container = self.load(where[0].value) if where else None
        return bool(self.roles_on(user, container) & {"Editor", "Manager"})

    def children(self, user: User, ref: str = "/") -> list[ContentObject]:
        out = []
        for iri in self.child_iris(self.resolve(ref)):
            obj = self.load(iri)
            if obj is not None and self.can_view(user, obj):
                out.append(obj)
        return out

    def walk(self, user: User, ref: str = "/", depth: int | None = None
             ) -> Iterator[tuple[int, ContentObject]]:
        """Depth-first walk of what ``user`` may see, in tree order."""
        def visit(iri: str, level: int) -> Iterator[tuple[int, ContentObject]]:
            if depth is not None and level > depth:
                return
            for kid in self.child_iris(iri):
                obj = self.load(kid)
                if obj is None or not self.can_view(user, obj):
                    continue
                yield level, obj
                yield from visit(kid, level + 1)
        start = self.resolve(ref)
        if start != self.site.root_iri:
            obj = self.get(user, ref)
            yield 0, obj
            yield from visit(start, 1)
        else:
            yield from visit(start, 0)

    def class_of(self, iri: str) -> str | None:
        """The RiC-O class of a live repository object (for checking links)."""
        working, mgmt = self.site.working, self.site.mgmt
        t = next(working.quads_for_pattern(NamedNode(iri), lt_node("type"), None, mgmt), None)
        if t is None or next(working.quads_for_pattern(
                NamedNode(iri), lt_node("deletedIn"), None, mgmt), None):
            return None
        return self.site.profile.types[value(t.object)].rdf_class

    def inside_public(self, container_iri: str | None) -> bool:
        """Is every container from ``container_iri`` up open (and published, unless a
        folder)? Cached during an ingest, when containers do not change."""
        if container_iri is None or container_iri == self.site.root_iri:
            return True
        cache = self.cache
        if cache.objects is not None and container_iri in cache.inside:
            return cache.inside[container_iri]
        c = self.load(container_iri)
        ok = (c is not None and not c.deleted and access_rules.is_open(c)
              and (c.state == "published" or c.type_name in NEVER_PUBLIC_TYPES)
              and self.inside_public(c.parent))
        if cache.objects is not None:
            cache.inside[container_iri] = ok
        return ok

    def is_public(self, iri: str) -> bool:
        """Published and open, and so is every container above it (folders only need to
        be open: they organise, they are not published themselves). A node of an object's
        own graph (``{iri}#fragment``, e.g. an imported instantiation) goes with the object."""
        obj = self.load(iri.split("#", 1)[0])
        if obj is None or obj.deleted or obj.type_name in NEVER_PUBLIC_TYPES:
            return False
        if obj.state != "published" or not access_rules.is_open(obj):
            return False
        return self.inside_public(obj.parent)
