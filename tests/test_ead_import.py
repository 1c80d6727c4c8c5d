"""EAD 2002 import: what a finding aid becomes in the repository.

Real stores in a temporary site; our own fixtures (bilingual Chinese/English, namespaced;
Japanese, un-namespaced with a DOCTYPE; notes after the dsc and levels that do not nest).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from pyoxigraph import Literal, NamedNode
from support import lantai_executable

from ontology.namespaces import RICO
from repo.importers.run import import_ead

FIXTURES = Path(__file__).parent / "fixtures" / "ead"
BILINGUAL = FIXTURES / "bilingual-zh-en.xml"


def values(obj, prop: str, subject: str | None = None) -> set:
    s = subject or obj.iri
    return {q.object for q in obj.description
            if q.subject.value == s and q.predicate.value == RICO + prop}


def texts(obj, prop: str, subject: str | None = None) -> dict[str, str]:
    return {v.language: v.value for v in values(obj, prop, subject) if isinstance(v, Literal)}


def test_bilingual_finding_aid(site):
    repo, admin = site.repo, site.admin
    report = import_ead(repo, admin, BILINGUAL)
    assert report.top == "/xjtu-ead-0001" and report.components == 7
    assert report.created == {"fonds": 1, "series": 2, "file": 2, "item": 2}
    top = repo.get(admin, report.top)
    assert texts(top, "title") == {"zh": "交通大学西迁档案",
                                   "en": "Records of the Jiaotong University move to Xi'an"}
    assert top.fields(repo.base)["refcode"] == ["XJ01"]  # a valid 档号 for a fonds
    assert {v.value for v in values(top, "beginningDate")} == {"1955"}
    assert {v.value for v in values(top, "endDate")} == {"1959"}
    assert texts(top, "scopeAndContent") == {
        "zh": "迁校决定、会议记录和师生名册。\n\n另有照片若干。",
        "en": "Decisions, minutes and registers of staff and students."}
    assert texts(top, "history")["en"].startswith("Founded in 1896")
    assert texts(top, "structure") == {"zh": "按年度和问题排列。"}
    assert texts(top, "conditionsOfAccess") == {"en": "Open for research."}
    assert texts(top, "conditionsOfUse") == {"zh": "引用请注明出处。"}
    assert texts(top, "generalDescription") == {"zh": "本目录为示例。"}
    assert {v.value for v in values(top, "hasOrHadAllMembersWithLanguage")} == {
        "http://id.loc.gov/vocabulary/iso639-2/chi", "http://id.loc.gov/vocabulary/iso639-2/eng"}
    i1 = top.iri + "#i1"
    assert texts(top, "instantiationExtent", i1) == {"zh": "12 卷", "en": "12 volumes"}
    assert texts(top, "history", i1) == {"zh": "1960年由学校办公室移交。"}  # custodhist
    assert texts(top, "generalDescription", top.iri + "#acqinfo-1")
    assert texts(top, "generalDescription", top.iri + "#otherfindaid-1")
    assert texts(top, "generalDescription", top.iri + "#relatedmaterial-1")
    fa = top.iri + "#findingaid"
    assert {v.value for v in values(top, "identifier", fa)} == {"XJTU-EAD-0001"}
    assert texts(top, "title", fa)["zh"] == "西迁档案目录"

    # order and hierarchy: the tree, as the finding aid has it
    paths = [(lvl, o.path, o.type_name) for lvl, o in repo.walk(admin, report.top)]
    assert [p[2] for p in paths] == ["fonds", "series", "file", "item", "item", "series",
                                     "file"]
    assert [p[0] for p in paths] == [0, 1, 2, 3, 3, 1, 2]
    file_ = repo.get(admin, paths[2][1])
    assert file_.fields(repo.base)["refcode"] == ["XJ01-XZ·1956-Y-0001"]
    assert {v.value for v in values(file_, "date") if not v.language} == {"1956-04-09"}
    assert values(file_, "isDirectlyIncludedIn") == {NamedNode(repo.resolve(paths[1][1]))}

    # unitids that are not 档号 stay identifiers of the instantiation, unchecked
    box = repo.get(admin, paths[6][1])
    assert "refcode" not in box.fields(repo.base)
    assert {v.value for v in values(box, "identifier", box.iri + "#i1")} == {"B-17"}

    # digital objects
    item = repo.get(admin, paths[3][1])
    dao = item.iri + "#dao-1"
    assert values(item, "isOrWasDigitalInstantiationOf", dao) == {NamedNode(item.iri)}
    assert {v.value for v in values(item, "identifier", dao)} == {
        "https://archive.example.edu/scans/notice-1956-p1.jpg"}
    minutes = repo.get(admin, paths[4][1])
    grp = minutes.iri + "#daogrp-1"
    assert len(values(minutes, "identifier", grp)) == 2
    assert texts(minutes, "generalDescription", grp) == {"zh": "会议记录扫描件"}


def test_agents_and_places_are_found_or_created_once(site):
    repo, admin = site.repo, site.admin
    import_ead(repo, admin, BILINGUAL)
    agents = {o.title("zh"): o for o in repo.children(admin, "/agents")}
    assert {"交通大学", "西安交通大学档案馆", "彭康", "上海交通大学", "钱氏家族"} <= set(agents)
    assert agents["彭康"].type_name == "person"
    assert agents["钱氏家族"].type_name == "family"
    assert agents["彭康"].fields(repo.base)["identifier"] == ["XJTU-P-007"]
    top = repo.get(admin, "/xjtu-ead-0001")
    assert site.iris["/agents/xian"] in top.fields(repo.base)["subject"]  # 西安 was there
    fields = top.fields(repo.base)
    assert fields["provenance"] == [agents["交通大学"].iri]
    assert fields["holder"] == [agents["西安交通大学档案馆"].iri]
    assert agents["彭康"].iri in fields["subject"]
    # the item names 彭康 again (same authority number): the same agent, not a new one
    item = next(o for _, o in repo.walk(admin, "/xjtu-ead-0001") if o.type_name == "item")
    assert item.fields(repo.base)["subject"] == [agents["彭康"].iri]
    # subjects, genres, occupations and functions are nodes of the record's graph
    assert texts(top, "name", top.iri + "#subject-1") == {"zh": "高等教育"}
    assert values(top, "isOrWasDocumentaryFormTypeOfSomeMembersOf", top.iri + "#genreform-1")
    # a second finding aid naming them finds them
    before = len(repo.children(admin, "/agents"))
    repo.create(admin, "/", "collection", {"title": {"en": "Copies"}}, slug="copies")
    import_ead(repo, admin, BILINGUAL, into="/copies")
    assert len(repo.children(admin, "/agents")) == before


def test_japanese_titles_and_levels(empty_site):
    repo, admin = empty_site.repo, empty_site.admin
    report = import_ead(repo, admin, FIXTURES / "japanese.xml")
    objs = [o for _, o in repo.walk(admin, report.top)]
    assert texts(objs[0], "title") == {"ja": "東京大学関係文書",
                                       "en": "Papers relating to the University of Tokyo"}
    assert texts(objs[2], "title") == {"ja": "ひらがなで書かれた手紙"}
    assert texts(objs[3], "title") == {"ja": "漢文書簡"}  # Han only: the langusage says ja
    assert [o.type_name for o in objs] == ["collection", "series", "item", "item",
                                           "otherlevel", "otherlevel"]
    assert texts(objs[5], "title") == {"en": "Miscellaneous"}
    person = repo.children(admin, "/agents")[0]
    assert person.fields(repo.base)["name"] == [("夏目漱石", "ja")]


def test_notes_after_the_children_and_levels_that_do_not_nest(empty_site):
    repo, admin = empty_site.repo, empty_site.admin
    report = import_ead(repo, admin, FIXTURES / "late-notes.xml")
    top = repo.get(admin, report.top)
    assert texts(top, "scopeAndContent") == {"en": "Written after the dsc."}
    assert texts(top, "name", top.iri + "#subject-1") == {"en": "Late subjects"}
    assert values(top, "beginningDate") == set()  # "1990/1980" ends before it begins
    file_ = repo.children(admin, report.top)[0]
    assert texts(file_, "scopeAndContent") == {"en": "A note after the children."}
    kids = repo.children(admin, file_.iri)
    assert [k.type_name for k in kids] == ["otherlevel", "item"]  # a series in a file
    assert any("series cannot be placed in a file" in w for w in report.warnings)
    assert texts(kids[1], "title") == {"zxx": "42"}  # supplied from the unitid


def test_unitid_that_is_a_refcode_elsewhere_stays_an_identifier(site):
    """XJ01 is free, 0421 is the test site's fonds: a second fonds 0421 may not take it."""
    repo, admin = site.repo, site.admin
    data = BILINGUAL.read_text(encoding="utf-8").replace("<unitid>XJ01</unitid>",
                                                         "<unitid>0421</unitid>")
    path = site.home / "dup.xml"
    path.write_text(data, encoding="utf-8")
    report = import_ead(repo, admin, path)
    top = repo.get(admin, report.top)
    assert "refcode" not in top.fields(repo.base)
    assert {v.value for v in values(top, "identifier", top.iri + "#i1")} == {"0421"}


def test_import_into_a_series_checks_the_fonds_of_codes(site):
    repo, admin = site.repo, site.admin
    report = import_ead(repo, admin, FIXTURES / "japanese.xml", into="/xjtu/students")
    assert report.top.startswith("/xjtu/students/")
    # EAD nests any level in any other: a collection may stand in a series
    assert repo.get(admin, report.top).type_name == "collection"
    assert report.warnings == []


def test_cli_import_and_export(site, tmp_path):
    site.close()
    env = {"LANTAI_HOME": str(site.home), "PATH": "/usr/bin:/bin"}
    lantai = lantai_executable()
    run = subprocess.run([lantai, "import", "ead", str(BILINGUAL), str(FIXTURES /
                          "japanese.xml")], capture_output=True, text=True, env=env,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "imported" in run.stdout and "/xjtu-ead-0001" in run.stdout
    out = tmp_path / "out.xml"
    run = subprocess.run([lantai, "export", "ead", "/xjtu-ead-0001", "--output", str(out),
                          "--validate"], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert out.read_bytes().startswith(b"<?xml")
    run = subprocess.run([lantai, "export", "ead", "/jp-tokyo-0042"], capture_output=True,
                         env=env, timeout=120)
    assert run.returncode == 0 and "東京大学関係文書".encode() in run.stdout
    # importing the same finding aid again: a conflict, nothing written
    run = subprocess.run([lantai, "import", "ead", str(BILINGUAL)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert run.returncode == 6
    assert run.stderr.strip().splitlines()[-1].startswith(
        f"lantai: error: {BILINGUAL}:")
