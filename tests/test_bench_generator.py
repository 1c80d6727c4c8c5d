"""The benchmark's synthetic archive: deterministic, ingestible, and the size it says it is."""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from pathlib import Path

import pytest
from pyoxigraph import DefaultGraph, NamedNode, Store

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ is not installed

from bench.synthetic import (
    CATEGORIES,
    FULL,
    Counts,
    SyntheticArchive,
    export_descriptions,
)
from ontology.profile import vocabulary_codes
from repo.repository import Repository

SCALE = 0.0005
BASE = "https://archive.example.edu"
RICO_IDENTIFIER = NamedNode("https://www.ica.org/standards/RiC/ontology#identifier")


@pytest.fixture(scope="module")
def objects():
    return list(SyntheticArchive(SCALE))


def test_deterministic(objects):
    assert list(SyntheticArchive(SCALE)) == objects
    assert list(SyntheticArchive(SCALE, seed=7)) != objects


def test_counts_at_full_scale_are_the_real_archive():
    c = Counts.at(1.0)
    assert (c.units, c.teaching, c.pages, c.documents, c.av) == (
        315_000, 125_000, 355_800, 37_300, 1_394)
    assert sum(c.by_category.values()) == c.units
    assert set(c.by_category) == set(vocabulary_codes()["category"]) == set(CATEGORIES)


@pytest.mark.parametrize("scale", [SCALE, 0.002])
def test_counts_scale(scale):
    archive = SyntheticArchive(scale)
    objs = list(archive)
    assert len(objs) == len(archive) == archive.counts.objects
    by_type = Counter(o.type for o in objs)
    mimes = Counter(o.fields.get("mime") for o in objs if o.type == "instantiation")
    assert by_type["file"] + by_type["item"] == round(FULL["units"] * scale)
    assert mimes["image/jpeg"] == round(FULL["pages"] * scale)
    assert mimes["application/pdf"] == round(FULL["documents"] * scale)
    assert mimes["audio/ogg"] + mimes["video/mp4"] == round(FULL["av"] * scale)
    teaching = sum(1 for o in objs if o.type in ("file", "item") and o.fields["category"] == "JX")
    assert teaching == round(FULL["teaching"] * scale)
    assert by_type["person"] == archive.counts.persons
    assert by_type["corporatebody"] == archive.counts.corporate_bodies
    assert by_type["place"] == archive.counts.places
    years = {int(o.fields["begin"][:4]) for o in objs if o.type in ("file", "item")}
    assert min(years) >= 1896 and max(years) <= 2025
    # parents come before their children
    seen = {""}
    for o in objs:
        assert o.parent.rstrip("/") in seen, o
        seen.add(o.parent.rstrip("/") + "/" + o.slug)


def test_ingests_into_a_site(tmp_path, objects):
    clock = lambda: dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)  # noqa: E731
    repo, _ = Repository.init(tmp_path / "site", BASE, clock=clock)
    try:
        created = repo.ingest(repo.user("admin"), iter(objects), message="bench", batch_size=150)
        assert len(created) == len(objects)
        # reference codes: one per file and item, all distinct
        codes = [q.object.value for q in repo.working.quads_for_pattern(
            None, RICO_IDENTIFIER, None, None) if not q.object.value.startswith("sha256:")]
        units = sum(1 for o in objects if o.type in ("file", "item"))
        assert len(codes) == len(set(codes)) == units + 1 + len(CATEGORIES)
        # personal records never reach the publication dataset
        personal = [repo.resolve(o.parent.rstrip("/") + "/" + o.slug) for o in objects
                    if o.access == "personal"]
        assert personal
        assert not any(repo.public.contains_named_graph(NamedNode(i)) for i in personal)
        # the anchor's input: exactly the description graphs
        nq = tmp_path / "descriptions.nq"
        n = export_descriptions(repo.working, nq)
        graphs = {q.graph_name for q in repo.working if q.graph_name != repo.mgmt}
        assert len(graphs) == len(objects)
        raw = Store()
        raw.bulk_load(path=str(nq))
        assert len(raw) == n == sum(1 for q in repo.working if q.graph_name != repo.mgmt)
        # no management fact (the working store's default graph) went out with them
        assert not list(raw.quads_for_pattern(None, None, None, DefaultGraph()))
    finally:
        repo.close()


def test_generated_codes_ingest(tmp_path):
    """With ``codes="generated"`` the repository numbers files and items, all distinct."""
    archive = SyntheticArchive(SCALE, codes="generated")
    assert not any("refcode" in o.fields for o in archive if o.type in ("file", "item"))
    repo, _ = Repository.init(tmp_path / "site", BASE)
    try:
        repo.ingest(repo.user("admin"), archive, message="bench")
        codes = [q.object.value for q in repo.working.quads_for_pattern(
            None, RICO_IDENTIFIER, None, None) if not q.object.value.startswith("sha256:")]
        assert len(codes) == len(set(codes)) == archive.counts.units + 1 + len(CATEGORIES)
    finally:
        repo.close()
