"""Import and export in the staff workspace (``/staff/import``, ``/staff/export/<path>``):
the importers and exporters the CLI runs, as the signed-in user, with the CLI's one-line
errors naming the uploaded file; exports hold only what the user may view.

Real fixtures (tests/fixtures/ead), the real app and stores.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pyoxigraph import Dataset, RdfFormat, parse
from staff_support import set_password, signed_in
from support import read_only_snapshot

from publisher.app import create_app

FIXTURES = Path(__file__).parent / "fixtures" / "ead"
HOSTILE = FIXTURES / "hostile"


@pytest.fixture
def app(site):
    for name in ("editor", "reader", "nobody", "manager"):
        set_password(site.repo, name)
    # an account that may view one series only (a local role; every staff role views all)
    site.repo.grant(site.admin, "nobody", "Reader", on="/xjtu/students")
    home = site.home
    site.close()
    return create_app(home)


def upload(staff, path: Path, kind: str = "ead", into: str = "/xjtu", name: str | None = None,
           data: bytes | None = None):
    staff.get("/staff/import")
    return staff.post("/staff/import", {
        "kind": kind, "into": into,
        "file": (io.BytesIO(data if data is not None else path.read_bytes()),
                 name or path.name)}, content_type="multipart/form-data")


def test_the_import_page_has_a_labelled_form(app):
    staff = signed_in(app, "editor")
    html = staff.get("/staff/import").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and 'name="csrf_token"' in html
    for control in ("kind-ead", "kind-eac", "import-file", "import-into"):
        assert f'<label for="{control}">' in html
    assert "/staff/import" in staff.get("/staff/").get_data(as_text=True)  # in the menu


def test_an_ead_file_is_imported_and_the_result_shown(app):
    staff = signed_in(app, "manager")
    resp = upload(staff, FIXTURES / "bilingual-zh-en.xml")
    assert resp.status_code == 201, resp.get_data(as_text=True)[-1500:]
    html = resp.get_data(as_text=True)
    assert "Imported bilingual-zh-en.xml" in html
    assert "component(s)" in html and "/xjtu/" in html


@pytest.mark.parametrize("name,line,words", [
    ("xxe.xml", 2, "entity expansion is refused (XXE / billion laughs)"),
    ("billion-laughs.xml", 2, "entities"),
    ("not-ead.xml", 2, "not an EAD 2002 finding aid"),
    ("truncated.xml", 9, ""),
])
def test_hostile_or_wrong_files_get_the_clis_one_line_error_and_change_nothing(
        app, name, line, words):
    staff = signed_in(app, "manager")
    home = app.config["LANTAI_HOME"]
    before = read_only_snapshot(home)
    resp = upload(staff, HOSTILE / name)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert f"{name}:{line}: " in html and words in html
    assert "staff/uploads" not in html  # the staged path is not shown
    assert read_only_snapshot(home) == before
    assert not any((home / "staff" / "uploads").iterdir())


def test_a_file_that_is_not_xml_is_refused(app):
    staff = signed_in(app, "manager")
    resp = upload(staff, Path("x"), name="finding-aid.xml", data=b"%PDF-1.4 not xml")
    assert resp.status_code == 422
    assert "finding-aid.xml:1: not an XML file" in resp.get_data(as_text=True)


def test_an_eac_record_is_imported(app):
    staff = signed_in(app, "manager")
    resp = upload(staff, FIXTURES / "eac" / "zh-person.xml", kind="eac")
    assert resp.status_code == 201, resp.get_data(as_text=True)[-1500:]
    assert "/agents/" in resp.get_data(as_text=True)


def test_a_reader_may_not_import(app):
    staff = signed_in(app, "reader")
    home = app.config["LANTAI_HOME"]
    before = read_only_snapshot(home)
    resp = upload(staff, FIXTURES / "bilingual-zh-en.xml")
    assert resp.status_code == 403
    assert read_only_snapshot(home) == before


def test_import_without_csrf_token_is_400(app):
    staff = signed_in(app, "manager")
    resp = staff.post("/staff/import", {"kind": "ead", "file": (
        io.BytesIO((FIXTURES / "bilingual-zh-en.xml").read_bytes()), "a.xml")},
        csrf=False, content_type="multipart/form-data")
    assert resp.status_code == 400


def test_export_ead_and_rdf_of_a_subtree(app):
    staff = signed_in(app, "manager")
    page = staff.get("/staff/export/xjtu/students")
    assert page.status_code == 200
    assert "format=ead" in page.get_data(as_text=True)
    ead = staff.get("/staff/export/xjtu/students?format=ead")
    assert ead.status_code == 200 and ead.mimetype == "application/xml"
    assert b"<ead " in ead.data and b"0421-XS" in ead.data
    assert ead.headers["Content-Disposition"] == 'attachment; filename="students.xml"'
    for fmt, rdf in (("nq", RdfFormat.N_QUADS), ("ttl", RdfFormat.TURTLE),
                     ("jsonld", RdfFormat.JSON_LD)):
        resp = staff.get(f"/staff/export/xjtu/students?format={fmt}")
        assert resp.status_code == 200, fmt
        assert 'attachment; filename="students.' in resp.headers["Content-Disposition"]
        quads = list(parse(resp.data, format=rdf))
        assert quads, fmt
    nq = Dataset(parse(staff.get("/staff/export/xjtu/students?format=nq").data,
                       format=RdfFormat.N_QUADS))
    graphs = {q.graph_name.value for q in nq}
    assert len(graphs) == 3  # the series, the file, the item: one graph each
    assert staff.get("/staff/export/xjtu/students?format=exe").status_code == 400


def test_export_holds_only_what_the_user_may_view(app):
    manager = signed_in(app, "manager")
    everything = manager.get("/staff/export/xjtu?format=nq").data
    assert b"/xjtu" in everything or b"0421" in everything
    one_series = signed_in(app, "nobody")
    assert one_series.get("/staff/export/xjtu?format=nq").status_code == 404
    assert one_series.get("/staff/export/xjtu/admin?format=ead").status_code == 404
    mine = one_series.get("/staff/export/xjtu/students?format=nq")
    assert mine.status_code == 200
    graphs = {q.graph_name.value for q in parse(mine.data, format=RdfFormat.N_QUADS)}
    every = {q.graph_name.value for q in parse(everything, format=RdfFormat.N_QUADS)}
    assert len(graphs) == 3 and graphs < every  # not the fonds, not the other series


def test_the_cli_exports_the_same_subtree(app):
    """``lantai export rdf --under PATH``: the same operation as the workspace's download."""
    from support import run_lantai

    home = app.config["LANTAI_HOME"]
    cli = run_lantai(home, "export", "rdf", "--under", "/xjtu/students", "--format", "nq",
                     user="nobody").stdout.encode()
    web = signed_in(app, "nobody").get("/staff/export/xjtu/students?format=nq").data
    assert set(cli.splitlines()) == set(web.splitlines()) and cli
    hidden = run_lantai(home, "export", "rdf", "--under", "/xjtu", user="nobody", check=False)
    assert hidden.returncode == 3 and "/xjtu" in hidden.stderr
    both = run_lantai(home, "export", "rdf", "--under", "/xjtu", "--public", check=False)
    assert both.returncode == 2
