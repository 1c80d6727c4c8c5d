"""EAC-CPF import: persons, corporate bodies and families with their names, dates, history
and relations to other agents and to records."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pyoxigraph import Literal
from reference_data import reference_dir
from support import lantai_executable

from ontology.namespaces import RICO
from repo.errors import Invalid
from repo.importers.eac import import_eac
from repo.importers.run import import_ead


@pytest.fixture(scope="session")
def reference() -> Path:
    """../shared/reference: a failure under CI when missing (a skip elsewhere)."""
    return reference_dir()


FIXTURES = Path(__file__).parent / "fixtures" / "ead"
EAC = FIXTURES / "eac"


def node_values(obj, fragment: str, prop: str) -> set:
    s = f"{obj.iri}#{fragment}"
    return {q.object for q in obj.description
            if q.subject.value == s and q.predicate.value == RICO + prop}


def test_names_with_their_dates_as_rico_converter(empty_site, reference):
    """eac2rico _16nameEntry: three names, the authorised one first, dates of use."""
    repo, admin = empty_site.repo, empty_site.admin
    report = import_eac(repo, admin, reference / "ead-samples" / "rico-converter-unit-tests"
                        / "eac2rico" / "_16nameEntry" / "input.xml")
    agent = repo.get(admin, report.path)
    assert agent.type_name == "person"
    assert agent.fields(repo.base)["name"] == [("Parque, Edmé", "fr")]
    assert agent.fields(repo.base)["identifier"] == ["FRAN_NP_005205"]
    names = sorted(next(iter(node_values(agent, f"name-{n}", "textualValue"))).value
                   for n in (1, 2, 3))
    assert names == ["Edmé Parque", "Ministère de la Culture", "Parque, Edmé"]
    dated = next(n for n in (1, 2, 3) if node_values(agent, f"name-{n}", "usedFromDate"))
    assert node_values(agent, f"name-{dated}", "usedFromDate") == {
        Literal("1995-05-18", datatype=node_values(agent, f"name-{dated}",
                                                   "usedFromDate").pop().datatype)}
    assert {v.value for v in node_values(agent, f"name-{dated}", "usedToDate")} == {
        "1997-06-02"}
    assert all(node_values(agent, f"name-{n}", "isOrWasAgentNameOf") for n in (1, 2, 3))


def test_archives_nationales_records_enrich_the_agents_an_ead_import_made(empty_site,
                                                                           reference):
    """FRAN_IR_054848's origination names FRAN_NP_005422: its EAC updates that agent."""
    repo, admin = empty_site.repo, empty_site.admin
    samples = reference / "ead-samples"
    ead_report = import_ead(repo, admin, samples / "anf-input-ead" / "FRAN_IR_054848.xml")
    stub = repo.children(admin, "/agents")[0]
    report = import_eac(repo, admin, samples / "anf-input-eac" / "FRAN_NP_005422.xml")
    assert report.action == "updated" and report.path == stub.path
    agent = repo.get(admin, stub.path)
    fields = agent.fields(repo.base)
    assert fields["begin"] == ["1976-01-29"]
    assert fields["history"][0][1] == "fr"
    assert "https://fr.wikipedia.org/wiki/Biblioth%C3%A8que_publique_d%27information" in \
        fields["seeAlso"]
    top = repo.get(admin, ead_report.top)
    assert fields["creatorOf"] == [top.iri]  # resourceRelation → the finding aid's top
    favier = import_eac(repo, admin, samples / "anf-input-eac" / "FRAN_NP_050312.xml")
    person = repo.get(admin, favier.path)
    pf = person.fields(repo.base)
    assert pf["birthDate"] == ["1932-04-02"] and pf["deathDate"] == ["2014-08-12"]
    assert "birthDate" in person.type.fields and person.type.fields["birthDate"].personal
    occupations = {next(iter(node_values(person, f"occupation-{n}", "name"))).value
                   for n in range(1, 8)}
    assert "archiviste" in occupations
    # relations to agents not in the repository are kept as nodes of the person's graph
    assert {v.value for v in node_values(person, "relation-1", "identifier")} == {
        "FRAN_NP_009963"}
    # importing the same record again changes nothing and fails nothing
    again = import_eac(repo, admin, samples / "anf-input-eac" / "FRAN_NP_050312.xml")
    assert again.action == "updated" and again.path == favier.path


@pytest.mark.parametrize("order", [("zh-corp.xml", "zh-person.xml"),
                                   ("zh-person.xml", "zh-corp.xml")])
def test_relations_between_agents_in_either_order(empty_site, order):
    repo, admin = empty_site.repo, empty_site.admin
    for name in order:
        import_eac(repo, admin, EAC / name)
    agents = {o.title("zh"): o for o in repo.children(admin, "/agents")}
    corp, person = agents["交通大学"], agents["彭康"]
    cf, pf = corp.fields(repo.base), person.fields(repo.base)
    assert cf["name"] == [("Jiaotong University", "en"), ("交通大学", "zh")] or \
        sorted(cf["name"]) == [("Jiaotong University", "en"), ("交通大学", "zh")]
    assert cf["begin"] == ["1896-04-08"]
    assert pf["birthDate"] == ["1901-08-01"] and pf["deathDate"] == ["1968-03-28"]
    # the relation is stored on whichever was imported later, the right way round
    if order[0] == "zh-corp.xml":
        assert pf["memberOf"] == [corp.iri]
    else:
        assert cf["hasMember"] == [person.iri]
    assert cf["seeAlso"] == ["https://www.xjtu.edu.cn/"]
    hist = dict((lang, text) for text, lang in cf["history"])
    assert hist["zh"].startswith("1896年创建于上海") and hist["en"].startswith("Founded")
    # the names 南洋公学 1896–1905 are kept with their dates of use
    old = next(n for n in range(1, 4) if node_values(corp, f"name-{n}", "usedToDate"))
    assert {v.value for v in node_values(corp, f"name-{old}", "textualValue")} == {"南洋公学"}


def test_relation_to_records_and_ead_names_the_same_agents(empty_site):
    repo, admin = empty_site.repo, empty_site.admin
    ead_report = import_ead(repo, admin, FIXTURES / "bilingual-zh-en.xml")
    n_agents = len(repo.children(admin, "/agents"))
    corp = import_eac(repo, admin, EAC / "zh-corp.xml")
    person = import_eac(repo, admin, EAC / "zh-person.xml")
    assert corp.action == person.action == "updated"  # found by authority number
    assert len(repo.children(admin, "/agents")) == n_agents
    agent = repo.get(admin, corp.path)
    assert agent.fields(repo.base)["creatorOf"] == [repo.resolve(ead_report.top)]


def test_not_eac_and_hostile_files(empty_site):
    repo, admin = empty_site.repo, empty_site.admin
    before = empty_site.snapshot()
    with pytest.raises(Invalid, match=r"not-eac.xml:2: not an EAC-CPF record"):
        import_eac(repo, admin, EAC / "not-eac.xml")
    with pytest.raises(Invalid, match=r"xxe.xml:2: .*entities"):
        import_eac(repo, admin, FIXTURES / "hostile" / "xxe.xml")
    assert empty_site.snapshot() == before


def test_cli(empty_site):
    empty_site.close()
    run = subprocess.run([lantai_executable(), "import", "eac", str(EAC / "zh-corp.xml"),
                          str(EAC / "zh-person.xml")], capture_output=True, text=True,
                         timeout=120, env={"LANTAI_HOME": str(empty_site.home),
                                           "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("imported") == 2
