"""The API's reader: the same parts as the repository over a read-only snapshot of the
working store, with nothing that writes (issue 10 item 18).

It was a subclass that skipped ``__init__`` and re-created attributes by hand: a write it did
not think of (a bulk ingest, a rebuild of the publication) met a missing attribute or wrote
into the public dataset; now every write is refused with one clear error (``ReadOnly``) and
the view leaves nothing on disk."""

from __future__ import annotations

import shutil

import pytest
from support import Site

from publisher.app import create_app
from repo.ingest import NewObject


def api_reader(site: Site):
    """The API's read-only repository for one request (the writer closed, as between
    requests), in the app context it lives in."""
    site.close()
    app = create_app(site.home)
    ctx = app.test_request_context("/")
    ctx.push()
    return app.extensions["lantai.api"].reader(), ctx


def test_the_api_reader_reads_as_the_repository_does(site: Site):
    admin = site.admin
    paths = [o.path for _, o in site.repo.walk(admin)]
    view, ctx = api_reader(site)
    try:
        assert [o.path for _, o in view.walk(view.user("admin"))] == paths
        assert view.user("manager").roles == {"Manager"}
        assert [r.number for r in view.history(view.user("admin"), "/xjtu")] == [1]
        reader = view.user("reader")
        assert view.can_view(reader, view.get(reader, "/agents/xian"))
    finally:
        ctx.pop()


def test_every_write_through_the_api_reader_is_refused(site: Site):
    view, ctx = api_reader(site)
    shutil.rmtree(site.home / "journal", ignore_errors=True)
    admin = view.user("admin")
    working = sorted(str(q) for q in view.working)
    public = sorted(str(q) for q in view.public)
    try:
        writes = {
            "create": lambda: view.create(admin, "/", "folder", {"title": {"en": "X"}}),
            "edit": lambda: view.edit(admin, "/xjtu", set={"title": {"en": "Y"}}),
            "add_user": lambda: view.add_user(admin, "someone", roles=["Reader"]),
            "grant": lambda: view.grant(admin, "reader", "Editor", on="/xjtu"),
            "ingest": lambda: view.ingest(
                admin, [NewObject("/", "folder", {"title": {"en": "Z"}})], message="bulk"),
            "rebuild_publication": view.rebuild_publication,
        }
        for name, write in writes.items():
            with pytest.raises(RuntimeError) as raised:
                write()
            assert type(raised.value).__name__ == "ReadOnly", (name, raised.value)
            assert "read-only" in str(raised.value), name
            assert sorted(str(q) for q in view.working) == working, name
            assert sorted(str(q) for q in view.public) == public, name
        assert not (site.home / "journal").exists(), "not even an empty journal folder"
    finally:
        ctx.pop()
