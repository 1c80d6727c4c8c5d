"""The management facts live in the working store's default graph; a site made when they
were a named graph (``{base}/graph/management``, before 2026-11-26) is moved on open, and
its revisions (whose patches name that graph) still read, compare and revert."""

from __future__ import annotations

from pyoxigraph import DefaultGraph, Literal, NamedNode, Quad, RdfFormat, Store, parse
from support import BASE, ITEM, PERSON

LEGACY = NamedNode(BASE + "/graph/management")
PATCH = NamedNode("https://w3id.org/lantai/ns#patch")


def _as_legacy_site(home) -> None:
    """Rewrite a closed site's working store as the older layout: management facts in a
    named graph, and patches that name it."""
    store = Store(str(home / "working"))
    for q in list(store.quads_for_pattern(None, None, None, DefaultGraph())):
        obj = q.object
        if q.predicate == PATCH:
            lines = []
            for line in obj.value.splitlines():
                sign, statement = line[:2], line[2:]
                parsed = next(iter(parse(input=statement.encode(), format=RdfFormat.N_QUADS)))
                if isinstance(parsed.graph_name, DefaultGraph):
                    statement = f"{statement[:-2]} {LEGACY} ."
                lines.append(sign + statement)
            obj = Literal("\n".join(lines))
        store.remove(q)
        store.add(Quad(q.subject, q.predicate, obj, LEGACY))
    store.flush()
    del store


def test_management_facts_are_in_the_default_graph(site):
    repo = site.repo
    item = site.iris[ITEM]
    facts = list(repo.working.quads_for_pattern(NamedNode(item), None, None, DefaultGraph()))
    assert {q.predicate.value.rsplit("#", 1)[1] for q in facts} >= {
        "type", "state", "access", "parent", "path", "position"}
    assert not repo.working.contains_named_graph(LEGACY)
    assert all(isinstance(g, NamedNode) and g.value.startswith(BASE + "/id/")
               for g in repo.working.named_graphs())


def test_an_older_site_is_moved_on_open_and_its_history_still_works(site):
    admin = site.admin
    site.repo.edit(admin, ITEM, set={"title@en": "Page one, corrected"}, message="title")
    site.repo.set_access(admin, ITEM, "restricted")
    site.repo.edit(admin, PERSON, set={"name@en": "Zhang San (1930-)"}, message="name")
    history = [(r.number, r.action, r.message) for r in site.repo.history(admin, ITEM)]
    diff = [str(line) for line in site.repo.diff(admin, ITEM, 1)]
    assert any("access" in line for line in diff)  # a management fact's change is in it
    before = site.snapshot()
    site.close()

    _as_legacy_site(site.home)
    legacy = Store.read_only(str(site.home / "working"))
    assert legacy.contains_named_graph(LEGACY)
    del legacy

    repo = site.reopen()
    assert not repo.working.contains_named_graph(LEGACY)
    assert [(r.number, r.action, r.message) for r in repo.history(admin, ITEM)] == history
    assert [str(line) for line in repo.diff(admin, ITEM, 1)] == diff
    assert repo.load(site.iris[ITEM]).access == "restricted"
    repo.revert(admin, ITEM, 1, message="back")  # undoes patches written the old way
    reverted = repo.load(site.iris[ITEM])
    assert "Page one, corrected" not in {v for v, _ in reverted.fields().get("title", [])}
    assert site.snapshot() != before  # the revert is a change
