"""PREMIS-style preservation events (issue 14, item 5): kept per object, failures listed until
cleared, exported as PREMIS 3 RDF that parses and says what happened — and never published."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyoxigraph as ox
import pytest

from preservation import events
from preservation.events import EVENT_TYPES, EventLog, export, type_iri

OBJ = "https://archive.example.org/id/file/F001"
OTHER = "https://archive.example.org/id/file/F002"
DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
def log(tmp_path):
    log = EventLog.for_site(tmp_path)
    yield log
    log.close()


def test_events_are_kept_per_object_with_the_real_vocabulary(log):
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    log.record("ingestion", "success", object_id=OBJ, path="a/page.tif", digest=DIGEST,
               user="admin", at=t0)
    log.record("fixity", "success", object_id=OBJ, detail="3 files", run="r1",
               at=t0 + timedelta(days=1))
    log.record("fixity", "success", object_id=OTHER, run="r1", at=t0 + timedelta(days=1))
    events = log.for_object(OBJ)
    assert [e.type for e in events] == [EVENT_TYPES + "ing", EVENT_TYPES + "fix"]
    assert [e.kind for e in events] == ["ingestion", "fixity"]
    assert events[0].user == "admin" and events[0].agent.startswith("Lantai ")
    assert events[0].path == "a/page.tif" and events[0].digest == DIGEST
    assert type_iri("repair") == EVENT_TYPES + "rec"  # LoC: rep is replication
    with pytest.raises(ValueError):
        log.record("fixity", "maybe", object_id=OBJ)
    with pytest.raises(ValueError):
        type_iri("polishing")


def test_open_failures_are_those_of_the_latest_check_until_repaired(log):
    t = datetime(2026, 12, 1, tzinfo=UTC)
    log.record("fixity", "failure", object_id=OBJ, path="a", run="r1", at=t)
    log.record("fixity", "failure", object_id=OTHER, path="b", run="r1", at=t)
    assert {(e.object, e.path) for e in log.open_failures()} == {(OBJ, "a"), (OTHER, "b")}
    # the next run finds OBJ healthy, OTHER still damaged (a new failure, counted once)
    log.record("fixity", "success", object_id=OBJ, run="r2", at=t + timedelta(days=7))
    log.record("fixity", "failure", object_id=OTHER, path="b", run="r2",
               at=t + timedelta(days=7))
    assert [(e.object, e.run) for e in log.open_failures()] == [(OTHER, "r2")]
    # a repair clears it
    log.record("repair", "success", object_id=OTHER, path="b", at=t + timedelta(days=8))
    assert log.open_failures() == []
    # every failure stays in the history
    assert len(log.failures(since=t)) == 3
    assert log.failures(since=t + timedelta(days=2))[0].run == "r2"
    assert log.last_run() == {"run": "r2", "at": (t + timedelta(days=7)).isoformat(
        timespec="microseconds"), "objects": 2, "failures": 1}


def test_premis_export_parses_and_says_what_happened(log):
    log.record("fixity", "failure", object_id=OBJ, path="a/page.tif", digest=DIGEST,
               detail="a/page.tif: changed", user="admin", run="r1")
    events = log.for_object(OBJ)
    store = ox.Store()
    store.load(export(events, "turtle"), format=ox.RdfFormat.TURTLE)
    rows = list(store.query("""
        PREFIX premis: <http://www.loc.gov/premis/rdf/v3/>
        PREFIX prov: <http://www.w3.org/ns/prov#>
        SELECT ?type ?outcome ?note ?name ?hash WHERE {
          ?e a premis:Event, ?type ; premis:outcome ?outcome ; premis:outcomeNote ?note ;
             prov:used <%s>, ?file .
          ?file a premis:File ; premis:originalName ?name ; premis:fixity/rdf:value ?hash .
          FILTER(?type != premis:Event)
        }""".replace("rdf:value", "<http://www.w3.org/1999/02/22-rdf-syntax-ns#value>") % OBJ))
    assert len(rows) == 1
    row = rows[0]
    assert row["type"].value == EVENT_TYPES + "fix"
    assert row["outcome"].value == "http://id.loc.gov/vocabulary/preservation/eventOutcome/fai"
    assert row["name"].value == "a/page.tif" and row["hash"].value == "ab" * 32
    doc = json.loads(export(events, "jsonld"))
    other = ox.Store()
    other.load(json.dumps(doc).encode(), format=ox.RdfFormat.JSON_LD)
    assert len(other) == len(store)
    with pytest.raises(ValueError):
        export(events, "xml")


def test_events_never_reach_a_store(site):
    """The events file is beside the stores: after a check is recorded and the publication
    rebuilt, neither the working store nor the publication dataset holds a word of it."""
    objects = sorted(site.iris.values())
    log = EventLog.for_site(site.home)
    log.record("fixity", "failure", object_id=objects[0], path="secret/name.tif", run="r1")
    log.close()
    site.repo.rebuild_publication()
    working, public = site.snapshot()
    assert working
    for line in working + public:
        assert "secret/name.tif" not in line
        assert "premis" not in line and "id.loc.gov/vocabulary/preservation" not in line


def test_the_one_call_api_other_parts_use(tmp_path):
    """``lantai repair`` records its repairs with ``events.record(home, event_type=…)``."""
    made = events.record(tmp_path, event_type="repair", outcome="success", object_id=OBJ,
                         file="v1/content/a/page.tif", digest=DIGEST,
                         detail="restored from restic snapshot 1a2b")
    assert made.type == EVENT_TYPES + "rec"
    assert events.for_object(tmp_path, OBJ) == [made]
    events.record(tmp_path, event_type="fixity", outcome="failure", object_id=OBJ)
    assert [e.kind for e in events.failures(tmp_path)] == ["fixity"]


def test_failures_on_the_dashboard_and_events_pages_for_managers_only(site):
    from staff_support import signed_in
    from test_staff_workflow import make_app

    object_id = sorted(site.iris.values())[0]
    log = EventLog.for_site(site.home)
    log.record("fixity", "failure", object_id=object_id, path="img1/page-1.tif",
               detail=f"{object_id} img1/page-1.tif: truncated (10 of 20 bytes)",
               digest=DIGEST, run="r1")
    log.record("fixity", "success", object_id=OTHER, detail="3 files", run="r1")
    log.close()
    app = make_app(site)
    manager = signed_in(app, "manager")
    page = manager.get("/staff/?lang=en").get_data(as_text=True)
    assert 'id="fixity-heading"' in page and "img1/page-1.tif" in page
    assert "truncated (10 of 20 bytes)" in page and "2 object(s), 1 failure(s)" in page
    overview = manager.get("/staff/preservation/?lang=en")
    assert overview.status_code == 200 and "img1/page-1.tif" in overview.get_data(as_text=True)
    events_page = manager.get("/staff/preservation/events", query_string={"object": object_id})
    assert events_page.status_code == 200 and "fixity" in events_page.get_data(as_text=True)
    turtle = manager.get("/staff/preservation/events",
                         query_string={"object": object_id, "format": "turtle"})
    assert turtle.mimetype == "text/turtle"
    graph = ox.Store()
    graph.load(turtle.get_data(), format=ox.RdfFormat.TURTLE)
    assert any("img1/page-1.tif" in str(q) for q in graph)
    assert manager.get("/staff/preservation/events",
                       query_string={"object": object_id, "format": "xml"}).status_code == 422
    assert manager.get("/staff/preservation/events").status_code == 422
    assert manager.post("/staff/preservation/").status_code == 405
    editor = signed_in(app, "editor")
    assert "fixity-heading" not in editor.get("/staff/?lang=en").get_data(as_text=True)
    assert editor.get("/staff/preservation/").status_code == 403
    assert editor.get("/staff/preservation/events",
                      query_string={"object": object_id}).status_code == 403
