"""EAD → repository → EAD keeps what a finding aid says, and the export is valid EAD 2002.

Both the original and our export are read with the importer's own reader, component by
component in document order, and compared on levels, hierarchy, order, titles in every
language, unitids, normalised dates, extents, notes, access points and digital object
links. The export is validated against the EAD 2002 W3C schema (from the neuxml package),
and exporting a re-import of the export gives the same bytes again.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from reference_data import reference_dir

from repo.exporters.ead import export_ead
from repo.exporters.schema import validate
from repo.importers import ead
from repo.importers.mapping import _merge
from repo.importers.run import import_ead


@pytest.fixture(scope="session")
def reference() -> Path:
    """../shared/reference: a failure under CI when missing (a skip elsewhere)."""
    return reference_dir()


FIXTURES = Path(__file__).parent / "fixtures" / "ead"
OWN = ["bilingual-zh-en.xml", "japanese.xml", "late-notes.xml", "internal.xml"]
ANF = ["FRAN_IR_054848.xml", "FRAN_IR_051211.xml", "FRAN_IR_041661.xml"]


def summary(path: Path) -> tuple[dict, list[dict]]:
    """What must survive the round trip, read with the importer's reader."""
    found = ead.scan(path)
    header, comps = None, []
    for rec in ead.read(path, found.late):
        if isinstance(rec, ead.Header):
            header = {"eadid": rec.eadid}
            continue
        notes = {}
        for element, texts in rec.notes.items():
            element = {"note": "odd"}.get(element, element)
            notes.setdefault(element, []).extend(texts)
        comps.append({
            "depth": rec.depth,
            "level": rec.level or "otherlevel",
            "otherlevel": rec.otherlevel,
            "titles": sorted((t.lang, t.value) for t in _merge(rec.titles, " ; ")),
            "unitids": sorted(rec.unitids),
            "normals": sorted({d.normal.text for d in rec.dates if d.normal}),
            "date texts": sorted({d.text for d in rec.dates if d.text}),
            "extents": sorted((t.lang, t.value) for t in rec.extents),
            "physloc": sorted(t.value for t in rec.physlocs),
            "containers": sorted(rec.containers),
            "languages": sorted(set(rec.languages)),
            "origination": sorted({(n.element, n.authfilenumber or n.text)
                                   for n in rec.origination}),
            "origination text": sorted(t.value for t in rec.origination_text),
            "repository": sorted({n.text for n in rec.repository}),
            "notes": {k: sorted((t.lang, t.value) for t in _merge(v, "\n\n"))
                      for k, v in sorted(notes.items())},
            "access": sorted({(n.element, n.authfilenumber or n.text) for n in rec.access}),
            "daos": [(d.kind, sorted(d.hrefs), d.title,
                      sorted((t.lang, t.value) for t in d.desc)) for d in rec.daos],
            "internal": bool(rec.internal or rec.internal_parts or rec.internal_notes),
            "internal texts": sorted(p for v in rec.internal_notes.values() for t in v
                                     for p in t.value.split("\n\n")),
        })
    return header, comps


def roundtrip(site, path: Path, into: str = "/") -> tuple[bytes, str]:
    report = import_ead(site.repo, site.admin, path, into=into)
    buf = io.BytesIO()
    n = export_ead(site.repo, site.admin, report.top, buf)
    assert n == report.components
    return buf.getvalue(), report.top


def check(site, path: Path, tmp_path: Path) -> None:
    data, _ = roundtrip(site, path)
    assert validate(data) == [], validate(data)[:5]
    exported = tmp_path / ("exported-" + path.name)
    exported.write_bytes(data)
    want_header, want = summary(path)
    got_header, got = summary(exported)
    assert got_header["eadid"] == want_header["eadid"]
    assert len(got) == len(want)
    for n, (w, g) in enumerate(zip(want, got, strict=True)):
        if not w["titles"]:
            g["titles"] = []  # a title we supplied for a type that needs one
            w["unitids"], g["unitids"] = sorted(w["unitids"]), sorted(g["unitids"])
        assert g == w, f"component {n} differs"
    # the export of the re-imported export is the export (stable)
    site.repo.create(site.admin, "/", "recordgrp", {"title": {"en": "Again"}},
                     slug="again-" + path.stem.lower().replace("_", "-"))
    again, _ = roundtrip(site, exported, into="/again-" + path.stem.lower().replace("_", "-"))
    assert again == data


@pytest.mark.parametrize("name", OWN)
def test_own_fixtures_round_trip(empty_site, tmp_path, name):
    check(empty_site, FIXTURES / name, tmp_path)


@pytest.mark.parametrize("name", ANF)
def test_archives_nationales_finding_aids_round_trip(empty_site, reference, tmp_path, name):
    check(empty_site, reference / "ead-samples" / "anf-input-ead" / name, tmp_path)


def test_bilingual_export_marks_languages_the_schema_valid_way(empty_site):
    data, _ = roundtrip(empty_site, FIXTURES / "bilingual-zh-en.xml")
    text = data.decode()
    assert '<ead xmlns="urn:isbn:1-931666-22-9"' in text
    assert "<unittitle>交通大学西迁档案</unittitle>" in text  # Chinese: the first langusage
    assert "<unittitle altrender=\"en\">Records of the Jiaotong University move to Xi'an" \
           "</unittitle>" in text
    assert 'xlink:href="https://archive.example.edu/scans/minutes-p2.tif"' in text
    assert '<language langcode="chi"/><language langcode="eng"/>' in text


def test_objects_created_in_lantai_export_too(site):
    """A fonds built by hand (not imported) exports as valid EAD with its fields."""
    buf = io.BytesIO()
    n = export_ead(site.repo, site.admin, "/xjtu", buf)
    assert n == 5
    assert validate(buf.getvalue()) == []
    text = buf.getvalue().decode()
    assert "<unitid>0421-XS·1957-Y-0001</unitid>" in text
    assert "<unittitle>西安交通大学全宗</unittitle>" in text
    assert '<unitdate normal="1957-09-01">' in text or 'normal="1957-09-01"' in text
    assert "<persname>张三</persname>" in text


def test_export_to_a_file_and_refuses_non_records(site, tmp_path):
    out = tmp_path / "xjtu.xml"
    assert export_ead(site.repo, site.admin, "/xjtu", out) == 5
    assert validate(out) == []
    from repo.errors import Invalid
    with pytest.raises(Invalid, match="person"):
        export_ead(site.repo, site.admin, "/agents/zhang-san", io.BytesIO())
