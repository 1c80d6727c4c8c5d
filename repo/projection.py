"""Publication: the public view of each object, projected into the publication dataset.

Public surfaces read the publication dataset only (DESIGN.md decision 2): publishing copies an
object's public view (repo/publication.py) into its graph there, withdrawing removes the graph
and records the IRI for 410 Gone. A change re-projects what it touched, what is inside a
container whose visibility changed, and what links to an object that appeared or went.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from pyoxigraph import NamedNode

from ontology.terms import value
from repo.gone import GoneRegister
from repo.objects import lt_node
from repo.publication import public_view
from repo.reads import Reads
from repo.revisions import Changes
from repo.site import Site
from repo.store import apply_update, compact


class Publication:
    """Keeps the publication dataset in line with the working store (a part of
    :class:`repo.repository.Repository`)."""

    def __init__(self, site: Site, reads: Reads, gone: GoneRegister,
                 lock: threading.RLock) -> None:
        self.site = site
        self.reads = reads
        self.gone = gone
        self.lock = lock

    def in_publication(self, iri: str) -> bool:
        return self.site.public.contains_named_graph(NamedNode(iri))

    def publish_affected(self, changes: Changes, was_public: dict[str, bool]) -> set[str]:
        """Re-project touched objects, what is inside changed containers, and referrers.

        Returns every IRI re-projected (listeners re-index them all)."""
        todo = list(changes)
        seen: set[str] = set()
        while todo:
            iri = todo.pop()
            if iri in seen:
                continue
            seen.add(iri)
            before = was_public[iri] if iri in was_public else self.in_publication(iri)
            now = self.project(iri)
            if before != now:
                todo.extend(self.reads.descendant_iris(iri))
                todo.extend(self.reads.referrers(iri))
            elif iri in changes:
                old, new = changes[iri]
                if old is not None and (old.access != new.access or old.parent != new.parent
                                        or old.state != new.state or new.deleted):
                    todo.extend(self.reads.descendant_iris(iri))
        return seen

    def project(self, iri: str) -> bool:
        """Bring ``iri``'s graph in the publication dataset in line; True if it is public."""
        node = NamedNode(iri)
        obj = self.reads.load(iri)
        view = public_view(obj, is_public=self.reads.is_public,
                           is_repository_object=self.site.is_repository_object) if obj else set()
        old = set(self.site.public.quads_for_pattern(None, None, None, node))
        if not view:
            if old or self.site.public.contains_named_graph(node):
                self.gone.withdrawn(iri)
                self.site.public.remove_graph(node)
            return False
        self.gone.published(iri)
        apply_update(self.site.public, old - view, view - old)
        return True

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Recompute the whole publication dataset from the working store."""
        self.site.require_writable()
        with self.lock:
            before = [g.value for g in self.site.public.named_graphs() if isinstance(g, NamedNode)]
            self.site.public.clear()
            iris = [value(q.subject) for q in self.site.working.quads_for_pattern(
                None, lt_node("type"), None, self.site.mgmt)]
            count = 0
            for n, iri in enumerate(iris, start=1):
                count += self.project(iri)
                if progress:
                    progress(n, len(iris))
            self.gone.rewrite(before, {g.value for g in self.site.public.named_graphs()
                                       if isinstance(g, NamedNode)})
            compact(self.site.public, self.site.home)  # announces the rebuilt dataset too
            return count
