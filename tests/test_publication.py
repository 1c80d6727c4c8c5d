"""The publication dataset: kept right by every write, equal to a full rebuild, and never
holding management data, users, secrets or anything of a closed record."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from pyoxigraph import Literal, NamedNode, Quad, RdfFormat, parse
from support import FILE, FONDS, ITEM, PERSON, SERIES, Site, dump, new_site

from ontology.namespaces import LT, RICO
from ontology.profile import load_profile
from repo.errors import LantaiError

PERSONAL_PATHS = {f.path for t in load_profile().types.values() for f in t.fields.values()
                  if f.personal}


def graphs(site: Site) -> set[str]:
    return {q.graph_name.value for q in site.repo.public}


def public_values(site: Site, iri: str) -> set[str]:
    return {q.object.value for q in site.repo.public.quads_for_pattern(None, None, None,
                                                                        NamedNode(iri))}


def expected_public(site: Site) -> set[str]:
    """Which objects should be public, worked out here from each object's own facts: published
    and open, and so is every container above it (folders need only be open)."""
    repo = site.repo
    out = set()
    for q in repo.working.quads_for_pattern(None, NamedNode(LT + "type"), None, repo.mgmt):
        obj = repo.load(q.subject.value)
        if obj.deleted or obj.type_name == "folder":
            continue
        if obj.state != "published" or obj.access != "open":
            continue
        if all(a.access == "open" and (a.state == "published" or a.type_name == "folder")
               for a in repo.ancestors(obj)):
            out.add(obj.iri)
    return out


def check_publication(site: Site, secrets: tuple[str, ...] = ()) -> None:
    """Every invariant of the publication dataset, against an oracle and a rebuild."""
    repo = site.repo
    public = expected_public(site)
    quads = list(repo.public)
    assert graphs(site) <= public
    # objects with an empty public view would be absent; every public object has its type
    assert public <= graphs(site)
    text = "\n".join(str(q) for q in quads)
    for q in quads:
        g = q.graph_name
        assert isinstance(g, NamedNode) and g.value in public, q
        assert g != repo.mgmt
        for term in (q.subject, q.predicate, q.object):
            assert not (isinstance(term, NamedNode) and term.value.startswith(LT)), q
            if isinstance(term, NamedNode) and repo.is_repository_object(term.value):
                assert term.value in public, f"link to a non-public object: {q}"
        if q.subject.value == g.value:
            assert q.predicate.value not in PERSONAL_PATHS, q
            obj = repo.load(g.value)
            marked = {obj.type.fields[n].path for n in obj.personal_fields}
            assert q.predicate.value not in marked, q
    for needle in ("urn:lantai:user", "urn:lantai:changeset", "scrypt$", LT, "/graph/",
                   *secrets):
        assert needle not in text, needle
    before = sorted(str(q) for q in quads)
    repo.rebuild_publication()
    assert dump(repo.public) == before, "the publication dataset differs from a rebuild"


# ---------------------------------------------------------------------- single operations
def test_publish_withdraw_and_edit_keep_the_dataset_right(site):
    repo, admin = site.repo, site.admin
    check_publication(site)
    assert graphs(site) == set()
    repo.transition(admin, FONDS, "publish")
    repo.transition(admin, SERIES, "publish")
    shown = {site.iris[FONDS], site.iris[SERIES]}
    assert graphs(site) == shown
    repo.transition(admin, FILE, "publish")
    assert graphs(site) == shown | {site.iris[FILE]}
    repo.transition(admin, ITEM, "submit")
    assert site.iris[ITEM] not in graphs(site)  # pending is not published
    repo.transition(site.role("Reviewer"), ITEM, "publish")
    assert site.iris[ITEM] in graphs(site)
    check_publication(site)
    repo.edit(site.role("Editor"), ITEM, set={"title@en": "Corrected title"})
    values = public_values(site, site.iris[ITEM])
    assert "Corrected title" in values and "Register, page one" not in values
    check_publication(site)
    # an edit of a record that is not public leaves the dataset alone
    before = dump(repo.public)
    repo.edit(admin, "/xjtu/admin", set={"title@en": "Administration (changed)"})
    assert dump(repo.public) == before
    repo.transition(site.role("Reviewer"), ITEM, "withdraw")
    assert graphs(site) == shown | {site.iris[FILE]}
    check_publication(site)


def test_automatic_release_enters_the_dataset(site):
    repo, admin = site.repo, site.admin
    rec = repo.create(admin, FILE, "item", {"title": {"zh": "档案", "en": "Record"},
                                            "begin": "2001-06-30"}, slug="late")
    assert rec.access == "embargoed" and rec.opening_date == dt.date(2026, 6, 30)
    repo.transition(admin, FONDS, "publish", recursive=True)
    assert rec.iri not in graphs(site)
    site.clock.set(dt.date(2026, 7, 1))
    assert repo.release_due() == [rec.iri]
    assert rec.iri in graphs(site)
    check_publication(site)


def test_move_into_and_out_of_a_closed_container(site):
    repo, admin = site.repo, site.admin
    closed = repo.create(admin, SERIES, "series", {"title": {"zh": "限制", "en": "Closed"}},
                         slug="closed")
    repo.transition(admin, FONDS, "publish", recursive=True)
    repo.set_access(admin, closed.path, "restricted")
    moved = {site.iris[FILE], site.iris[ITEM]}
    assert moved <= graphs(site)
    repo.move(admin, FILE, closed.path)
    assert not moved & graphs(site)
    check_publication(site)
    repo.move(admin, closed.path + "/register-1957", SERIES)
    assert moved <= graphs(site)
    check_publication(site)


def test_deleting_a_public_object_removes_it_and_links_to_it(site):
    repo, admin = site.repo, site.admin
    repo.transition(admin, FONDS, "publish", recursive=True)
    repo.transition(admin, PERSON, "publish")
    assert site.iris[PERSON] in public_values(site, site.iris[ITEM])
    repo.edit(admin, ITEM, unset=["subject"])  # (a linked object cannot be deleted)
    repo.delete(admin, PERSON)
    assert site.iris[PERSON] not in "\n".join(dump(repo.public))
    repo.delete(admin, FILE, recursive=True)
    assert graphs(site) == {site.iris[FONDS], site.iris[SERIES], site.iris["/xjtu/admin"]}
    check_publication(site)


def test_public_export_is_the_publication_dataset(site):
    repo, admin = site.repo, site.admin
    repo.transition(admin, FONDS, "publish", recursive=True)
    data = repo.export_rdf(site.role("Reader"), public=True, fmt="nq")
    exported = sorted(str(q) for q in parse(input=data, format=RdfFormat.N_QUADS))
    assert exported == dump(repo.public)


def test_rebuild_is_idempotent_and_counts_public_objects(site):
    repo, admin = site.repo, site.admin
    repo.transition(admin, FONDS, "publish", recursive=True)
    assert repo.rebuild_publication() == 5
    first = dump(repo.public)
    assert repo.rebuild_publication() == 5
    assert dump(repo.public) == first


# ---------------------------------------------------------------------- a long random run
CANARY = "XJ-CANARY-"


class RandomRun:
    """About 200 random operations by a Manager, as an archive's working week might go."""

    def __init__(self, site: Site, seed: int) -> None:
        self.site, self.repo = site, site.repo
        self.rnd = random.Random(seed)
        self.admin = site.admin
        self.n = 0
        self.ok = self.failed = 0
        self.secrets: set[str] = set()
        self.sealed: set[str] = set()  # personal records holding a canary: never opened

    def live(self, *types: str) -> list:
        out = []
        for q in self.repo.working.quads_for_pattern(None, NamedNode(LT + "type"), None,
                                                      self.repo.mgmt):
            obj = self.repo.load(q.subject.value)
            if not obj.deleted and (not types or obj.type_name in types):
                out.append(obj)
        return sorted(out, key=lambda o: o.created)  # deterministic for a seed

    def pick(self, *types: str):
        objs = self.live(*types)
        return self.rnd.choice(objs) if objs else None

    def title(self) -> dict:
        self.n += 1
        return {"zh": f"档案{self.n}号", "en": f"Record number {self.n}"}

    # operations -----------------------------------------------------------------
    def create(self) -> None:
        kind = self.rnd.choice(["item", "item", "file", "series", "person"])
        year = self.rnd.choice(["1957", "1988", "2001", "2010", "2024"])
        if kind == "person":
            self.repo.create(self.admin, "/agents", "person",
                             {"name": self.title(), "birthDate": f"{year}-01-0{self.n % 9 + 1}"},
                             key=f"p{self.n}")
            return
        parents = {"item": ("file", "series"), "file": ("series",), "series": ("fonds",)}[kind]
        parent = self.pick(*parents)
        fields = {"title": self.title(), "begin": year}
        person = self.pick("person")
        if person is not None and self.rnd.random() < 0.5:
            fields["subject"] = person.iri
        kw = {}
        if kind == "item" and self.rnd.random() < 0.2:
            secret = f"{CANARY}{self.n:04d}"
            fields["scope"] = {"zh": f"学号 {secret}"}
            kw["access"] = "personal"
            self.secrets.add(secret)
            obj = self.repo.create(self.admin, parent.iri, kind, fields, key=f"r{self.n}", **kw)
            self.sealed.add(obj.iri)
            return
        if kind == "item" and self.rnd.random() < 0.2:
            secret = f"{CANARY}{self.n:04d}"
            fields["note"] = {"zh": f"家庭住址 {secret}"}
            self.secrets.add(secret)
            obj = self.repo.create(self.admin, parent.iri, kind, fields, key=f"r{self.n}",
                                   personal_fields=["note"])
            self.sealed.add(obj.iri)
            return
        obj = self.repo.create(self.admin, parent.iri, kind, fields, key=f"r{self.n}")
        if self.rnd.random() < 0.5:
            self.repo.transition(self.admin, obj.iri, "publish")

    def edit(self) -> None:
        obj = self.pick("fonds", "series", "file", "item", "person")
        name = "name" if obj.type_name == "person" else "title"
        self.repo.edit(self.admin, obj.iri, set={f"{name}@en": f"Edited {self.rnd.random():.6f}"})

    def transition(self) -> None:
        obj = self.pick()
        action = self.rnd.choice({
            "private": ["submit", "publish", "publish", "withdraw"],  # withdraw: refused
            "pending": ["publish", "publish", "reject", "retract"],
            "published": ["withdraw", "publish"],  # publish: refused, or recursive below
        }[obj.state])
        self.repo.transition(self.admin, obj.iri, action,
                             recursive=self.rnd.random() < 0.3)

    def access(self) -> None:
        obj = self.pick("series", "file", "item", "person", "place")
        if obj.iri in self.sealed:
            return
        level = self.rnd.choice(["open", "open", "restricted", "personal", "embargoed"])
        until = None
        if level == "embargoed":
            until = (self.site.clock.today() + dt.timedelta(days=self.rnd.randint(1, 400)))
            until = until.isoformat()
        self.repo.set_access(self.admin, obj.iri, level, until=until)

    def mark(self) -> None:
        obj = self.pick("person", "item", "file")
        if obj.iri in self.sealed:
            return
        field = self.rnd.choice(["history", "title", "name", "begin"])
        if self.rnd.random() < 0.5:
            self.repo.set_access(self.admin, obj.iri, personal=[field])
        else:
            self.repo.set_access(self.admin, obj.iri, not_personal=[field])

    def move(self) -> None:
        obj = self.pick("item", "file")
        target = self.pick("file", "series") if obj.type_name == "item" else self.pick("series")
        self.repo.move(self.admin, obj.iri, target.iri)

    def delete(self) -> None:
        obj = self.pick("item", "file", "person")
        self.repo.delete(self.admin, obj.iri, recursive=True)

    def revert(self) -> None:
        obj = self.rnd.choice([o for o in self.live_and_dead() if o.revision > 1])
        self.repo.revert(self.admin, obj.iri, self.rnd.randint(1, obj.revision - 1))

    def live_and_dead(self) -> list:
        return [self.repo.load(q.subject.value) for q in self.repo.working.quads_for_pattern(
            None, NamedNode(LT + "type"), None, self.repo.mgmt)]

    def time_passes(self) -> None:
        self.site.clock.advance(days=self.rnd.randint(1, 120))
        self.repo.release_due()

    def step(self) -> None:
        op = self.rnd.choices(
            [self.create, self.edit, self.transition, self.access, self.mark, self.move,
             self.delete, self.revert, self.time_passes],
            weights=[30, 12, 25, 12, 5, 6, 4, 6, 5])[0]
        try:
            op()
            self.ok += 1
        except LantaiError:
            self.failed += 1


def test_rebuild_equals_the_incremental_dataset_after_a_long_random_run(tmp_path):
    seed = 2025
    site = new_site(tmp_path / "random")
    try:
        repo = site.repo
        repo.add_user(site.admin, "secretive", roles=["Reader"], password="canary-password-123",
                      token=True)
        repo.transition(site.admin, "/xjtu", "publish", recursive=True)
        run = RandomRun(site, seed)
        seen: set[str] = set()
        for n in range(1, 201):
            run.step()
            seen |= graphs(site)
            if n % 40 == 0:
                check_publication(site, (*run.secrets, "canary-password-123"))
        # the run did real work: most operations succeeded, many objects were public
        assert run.ok >= 120, (run.ok, run.failed)
        assert len(seen) >= 8, len(seen)
        assert run.secrets, "the run wrote canaries"
        # a last check after the store is closed and opened again
        secrets = tuple(run.secrets)
        del run, repo
        site.reopen()
        check_publication(site, secrets)
    finally:
        site.close()


def test_the_invariant_check_catches_a_stray_statement(site):
    """check_publication can fail: a quad of a private object smuggled in is caught."""
    repo = site.repo
    repo.transition(site.admin, FONDS, "publish", recursive=True)
    check_publication(site)
    item = NamedNode(site.iris[ITEM])
    repo.public.add(Quad(item, NamedNode(RICO + "birthDate"), Literal("1935"), item))
    with pytest.raises(AssertionError):
        check_publication(site)
    repo.rebuild_publication()
    check_publication(site)
    person = NamedNode(site.iris[PERSON])
    repo.public.add(Quad(person, NamedNode(RICO + "name"), Literal("张三"), person))
    with pytest.raises(AssertionError):
        check_publication(site)
