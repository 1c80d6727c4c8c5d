"""The catalog on real sites: what staff and the public find, and that it stays in step.

Every site is a real ``Repository.init`` in ``tmp_path`` (see conftest.py); objects are made
through the repository API, and the catalogs are kept by the listener the repository calls.
Public searches go through ``Catalog.open(home, public=True)``, as the web server's do.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import FILE, FONDS, ITEM, PERSON, SERIES

from repo.catalog import Catalog, maintainer
from repo.catalog.index import load_data
from repo.cli import main
from repo.repository import NewObject


# ---------------------------------------------------------------------- helpers
def staff(site, query="", user="admin", **kw):
    return Catalog.for_repository(site.repo).search(query, user=site.repo.user(user), **kw)


def public(site, query="", **kw):
    return Catalog.open(site.home, public=True).search(query, **kw)


def iris(results):
    return {h.iri for h in results.hits}


def paths(results):
    return [h.path for h in results.hits]


def contents(index) -> dict[str, dict]:
    """Every document of a catalog: IRI → stored data (which includes its digest)."""
    from repo.catalog.maintenance import flush_pending

    flush_pending(index.path)
    searcher = index.searcher()
    hits = searcher.search(__import__("tantivy").Query.all_query(), max(searcher.num_docs, 1))
    return {d["iri"]: d for d in (load_data(searcher.doc(a)) for _, a in hits.hits)}


def publish(site, *refs):
    for ref in refs:
        site.repo.transition(site.admin, ref, "publish")


def item(site, parent, slug, title_zh, title_en=None, **fields):
    title = {"zh": title_zh}
    if title_en:
        title["en"] = title_en
    fields.setdefault("begin", "1957-09-01")
    opts = {k: fields.pop(k) for k in ("access", "until", "personal_fields") if k in fields}
    return site.repo.create(site.admin, parent, "item", {"title": title, **fields}, slug=slug,
                            key=slug, **opts)


@pytest.fixture
def archive(site):
    """The standard tree plus records to search, the containers published."""
    repo, admin = site.repo, site.admin
    repo.create(admin, SERIES, "file", {
        "title": {"zh": "1956年西迁史料", "en": "Relocation letters"},
        "begin": "1956-08", "end": "1957",
        "scope": {"zh": "交通大学西迁期间的往来信函与校史资料。",
                  "en": "Letters exchanged during the westward move."}},
        slug="westward", key="westward")
    item(site, "/xjtu/students/westward", "letter-1", "致校长的信", "A letter to the president",
         begin="1956-08-12", creator=PERSON)
    item(site, "/xjtu/students/westward", "letter-2", "檔案館藏照片", "Photographs in the archive",
         begin="1957-03-01", language="zh")
    repo.create(admin, "/xjtu/admin", "file", {
        "title": {"zh": "东京大学の歴史資料", "en": "History of the University of Tokyo"},
        "begin": "1980"}, slug="tokyo", key="tokyo")
    publish(site, FONDS, SERIES, "/xjtu/admin", FILE, ITEM, "/xjtu/students/westward",
            "/xjtu/students/westward/letter-1", "/xjtu/students/westward/letter-2",
            "/xjtu/admin/tokyo", PERSON)
    return site


# ---------------------------------------------------------------------- finding
def test_two_character_words_are_found_inside_longer_text(archive):
    assert paths(staff(archive, "西迁")) [:1] == ["/xjtu/students/westward"]
    assert "/xjtu/students/westward" in paths(staff(archive, "校史"))  # in scope and content
    assert "/xjtu/students/westward/letter-2" in paths(staff(archive, "档案"))
    assert "/xjtu/students/westward" in paths(staff(archive, "交通大学"))  # a phrase of bigrams
    assert not staff(archive, "大交").total  # not a word of any text
    assert staff(archive, "信").total >= 1  # one character


def test_simplified_and_traditional_find_each_other(archive):
    assert "/xjtu/students/westward/letter-2" in paths(staff(archive, "檔案"))  # stored 檔案
    assert "/xjtu/students/westward/letter-2" in paths(staff(archive, "档案馆"))
    assert "/xjtu/students/westward" in paths(staff(archive, "西遷"))  # stored 西迁
    assert public(archive, "西遷").total == public(archive, "西迁").total > 0


def test_english_stemming(archive):
    assert "/xjtu/students/westward/letter-1" in paths(staff(archive, "letters"))
    assert "/xjtu/students/westward" in paths(staff(archive, "letter"))
    assert "/xjtu/students/westward/letter-2" in paths(staff(archive, "photograph"))
    assert paths(staff(archive, '"westward move"')) == ["/xjtu/students/westward"]
    assert not staff(archive, '"move westward"').total  # a phrase keeps its order


def test_japanese_titles_are_found_by_bigrams(archive):
    assert paths(staff(archive, "歴史")) == ["/xjtu/admin/tokyo"]
    assert paths(staff(archive, "の歴史資料")) == ["/xjtu/admin/tokyo"]
    assert iris(public(archive, "東京大学")) == {archive.repo.resolve("/xjtu/admin/tokyo")}


def test_linked_agents_names_are_indexed_with_the_record(archive):
    found = staff(archive, "张三")
    assert "/xjtu/students/westward/letter-1" in paths(found)  # creator
    assert ITEM in paths(found)  # subject
    assert "/xjtu/students/westward/letter-1" in paths(staff(archive, "agent:张三"))
    assert "/xjtu/students/westward/letter-1" not in paths(staff(archive, "title:张三"))
    assert FILE in paths(staff(archive, "place:西安"))


def test_reference_codes_are_found_exactly(archive):
    code = archive.repo.load(archive.iris[FILE]).fields(archive.repo.base)["refcode"][0]
    assert code == "0421-XS·1957-Y-0001"
    hits = staff(archive, code)
    assert paths(hits) == [FILE]  # not the item inside it, not the next file
    assert paths(staff(archive, "0421-XS.1957-Y-0001")) == [FILE]  # typed with "."
    assert paths(staff(archive, "0421-xs·1957-y-0001")) == [FILE]
    assert hits.hits[0].snippet_html == "<mark>0421-XS·1957-Y-0001</mark>"
    westward = archive.repo.load(archive.repo.resolve("/xjtu/students/westward"))
    w_code = westward.fields(archive.repo.base)["refcode"][0]
    assert w_code.startswith("0421-XS·1956-Y-")
    assert paths(staff(archive, w_code)) == ["/xjtu/students/westward"]
    # a code with * or a level above codes finds everything below it
    below = paths(staff(archive, code + "*"))
    assert set(below) == {FILE, ITEM}
    assert set(paths(staff(archive, "0421-XS·1957"))) >= {FILE, ITEM}
    assert paths(staff(archive, "0421-XZ")) == ["/xjtu/admin"]  # the series' own code


def test_facets_filters_and_sorting(archive):
    r = staff(archive, "")
    assert r.total == len(contents(maintainer(archive.repo).staff))
    facets = dict(r.facets["category"])
    assert facets["XS"] >= 6 and facets["XZ"] >= 2  # items inherit their series' category
    assert dict(r.facets["decade"])[1950] >= 5
    assert dict(r.facets["type"])["item"] == 3
    assert dict(r.facets["language"])["chi"] == 2
    assert [d for d, _ in r.facets["decade"]] == sorted(d for d, _ in r.facets["decade"])
    xs = staff(archive, "", filters={"category": "XS", "type": "item"})
    assert xs.total == 3 and all(h.category == "XS" for h in xs.hits)
    assert staff(archive, "", filters={"year": "1956-1956"}).total == 2
    assert staff(archive, "", filters={"decade": 1980}).total == 1
    assert staff(archive, "", filters={"language": "zh"}).total == 2
    assert staff(archive, "", filters={"within": archive.iris[SERIES]}).total == 5
    by_date = staff(archive, "", filters={"category": "XS"}, sort="date")
    years = [h.year for h in by_date.hits]
    assert years == sorted(years)
    newest = staff(archive, "", filters={"category": "XS"}, sort="-date")
    assert newest.hits[0].year == max(years)
    codes = [h.refcode for h in staff(archive, "", sort="refcode", size=100).hits if h.refcode]
    assert codes == sorted(codes) and codes[0] == "0421"
    with pytest.raises(Exception, match="no filter"):
        staff(archive, "", filters={"colour": "red"})


def test_paging(archive):
    everything = staff(archive, "", sort="refcode", size=100)
    first = staff(archive, "", sort="refcode", page=1, size=3)
    second = staff(archive, "", sort="refcode", page=2, size=3)
    assert first.total == second.total == everything.total
    assert first.pages == (everything.total + 2) // 3
    assert [h.iri for h in first.hits + second.hits] == [h.iri for h in everything.hits[:6]]
    assert staff(archive, "", page=99, size=3).hits == []


def test_snippets_are_html_safe_and_marked(archive):
    archive.repo.edit(archive.admin, "/xjtu/students/westward/letter-1",
                      set={"scope": {"zh": "<script>alert(1)</script>西迁后第一封信"}})
    hit = staff(archive, "西迁 信", filters={"type": "item"}).hits[0]
    assert hit.snippet_field == "scope"
    assert hit.snippet_html == ("&lt;script&gt;alert(1)&lt;/script&gt;<mark>西迁</mark>"
                                "后第一封<mark>信</mark>")
    assert hit.title_zh_html == "致校长的<mark>信</mark>"
    assert "<script>" not in json.dumps(staff(archive, "script").to_json())


# ---------------------------------------------------------------------- who sees what
def test_staff_search_shows_only_what_the_user_may_view(archive):
    repo, admin = archive.repo, archive.admin
    total = staff(archive, "").total
    assert staff(archive, "", user="reader").total == total
    assert staff(archive, "", user="nobody").total == 0
    repo.grant(admin, "nobody", "Reader", on="/xjtu/admin")
    seen = staff(archive, "", user="nobody")
    assert set(paths(seen)) == {"/xjtu/admin", "/xjtu/admin/tokyo"}
    assert all(repo.can_view(repo.user("nobody"), repo.load(h.iri)) for h in seen.hits)
    assert not staff(archive, "西迁", user="nobody").total
    # a graduate reads their own personal record, and nothing else
    repo.add_user(admin, "graduate", agent=PERSON)
    mine = item(archive, SERIES, "transcript", "张三成绩单", access="personal", subject=PERSON)
    assert paths(staff(archive, "", user="graduate")) == [mine.path]
    with pytest.raises(Exception, match="needs a user"):
        Catalog.for_repository(repo).search("")


CANARIES = {
    "restricted": ("金丝雀甲", {"access": "restricted"}),
    "embargoed": ("金丝雀乙", {"access": "embargoed", "until": "2040-01-01"}),
    "personal": ("金丝雀丙", {"access": "personal"}),
    "private": ("金丝雀丁", {}),
    "pending": ("金丝雀戊", {}),
}


@pytest.fixture
def canaries(archive):
    """Closed records with unique words, next to public ones."""
    repo, admin = archive.repo, archive.admin
    made = {}
    for kind, (word, opts) in CANARIES.items():
        obj = item(archive, SERIES, f"canary-{kind}", f"{word}档案", f"Canary {kind} zqxv",
                   scope={"zh": f"{word}的内容"}, **opts)
        made[kind] = obj
        if kind not in ("private", "pending"):
            repo.transition(admin, obj.path, "publish")
        elif kind == "pending":
            repo.transition(admin, obj.path, "submit")
    # inside a restricted file: open and published itself, closed by its container
    box = repo.create(admin, SERIES, "file", {"title": {"zh": "密件盒"}, "begin": "1960"},
                      slug="box", key="box", access="restricted")
    repo.transition(admin, box.path, "publish")
    inner = item(archive, box.path, "inner", "金丝雀己档案", "Canary inner zqxv", access="open")
    repo.transition(admin, inner.path, "publish")
    made["inherited"] = inner
    # a public record whose subject (a person) is personal data here
    secret = repo.create(admin, "/agents", "person", {"name": {"zh": "金丝雀庚"}},
                         slug="secret-person", key="secret-person")
    about = item(archive, SERIES, "about-secret", "公开的记录", subject=secret.path,
                 personal_fields=("subject",))
    repo.transition(admin, about.path, "publish")
    made["about"] = about
    return archive, made


def test_public_catalog_never_finds_closed_records(canaries):
    site, made = canaries
    for word in ["金丝雀甲", "金丝雀乙", "金丝雀丙", "金丝雀丁", "金丝雀戊", "金丝雀己", "金丝雀庚",
                 "金丝雀", "zqxv", "canary", "密件盒"]:
        assert public(site, word).total == 0, word
        assert staff(site, word).total > 0, word  # staff find them all
    assert made["about"].iri in iris(public(site, "公开的记录"))
    found = iris(public(site, "", size=500))
    assert not found & {o.iri for o in made.values() if o is not made["about"]}
    # the public catalog is exactly the publication dataset
    graphs = {g.value for g in site.repo.public.named_graphs()}
    assert set(contents(maintainer(site.repo).public)) == graphs
    assert dict(public(site, "").facets["access"]) == {"open": len(graphs)}


def test_withdraw_close_delete_and_automatic_release(canaries):
    site, made = canaries
    repo, admin = site.repo, site.admin
    letter = "/xjtu/students/westward/letter-1"
    assert public(site, "致校长").total == 1
    repo.transition(admin, letter, "withdraw")
    assert public(site, "致校长").total == 0
    repo.transition(admin, letter, "publish")
    assert public(site, "致校长").total == 1
    repo.set_access(admin, letter, "restricted")
    assert public(site, "致校长").total == 0
    repo.set_access(admin, letter, "open")
    assert public(site, "致校长").total == 1
    # withdrawing a container takes everything inside out of public search
    repo.transition(admin, "/xjtu/students/westward", "withdraw")
    assert public(site, "致校长").total == 0 and public(site, "title:西迁").total == 0
    repo.transition(admin, "/xjtu/students/westward", "publish")
    assert public(site, "致校长").total == 1
    repo.delete(admin, letter)
    assert public(site, "致校长").total == 0 and staff(site, "致校长").total == 0
    # the embargo ends: the record appears by itself
    assert public(site, "金丝雀乙").total == 0
    site.clock.set(__import__("datetime").date(2040, 1, 2))
    assert made["embargoed"].iri in repo.release_due()
    assert iris(public(site, "金丝雀乙")) == {made["embargoed"].iri}


def test_renaming_an_agent_or_recategorising_a_series_reindexes_what_depends_on_it(archive):
    repo, admin = archive.repo, archive.admin
    repo.edit(admin, PERSON, set={"name": {"zh": "张叁"}})
    letter = repo.resolve("/xjtu/students/westward/letter-1")
    assert "/xjtu/students/westward/letter-1" in paths(staff(archive, "张叁"))
    assert letter in iris(public(archive, "张叁"))
    assert "/xjtu/students/westward/letter-1" not in paths(staff(archive, "张三"))
    repo.edit(admin, "/xjtu/admin", set={"category": "DQ", "refcode": "0421-DQ"})
    assert staff(archive, "", filters={"category": "DQ"}).total == 2  # the series, its file
    repo.create(admin, "/", "folder", {"title": {"zh": "人物", "en": "People"}}, slug="people")
    repo.move(admin, "/agents", "/people")
    moved = staff(archive, "张叁", filters={"type": "person"}).hits[0]
    assert moved.path == "/people/agents/zhang-san"


def test_reindex_gives_what_incremental_maintenance_gave(canaries):
    site, _ = canaries
    repo, admin = site.repo, site.admin
    repo.edit(admin, PERSON, set={"name": {"en": "Zhang the Third"}})
    repo.transition(admin, "/xjtu/students/westward", "withdraw")
    repo.delete(admin, "/xjtu/admin/tokyo")
    m = maintainer(repo)
    before = contents(m.staff), contents(m.public)
    counts = m.rebuild()
    after = contents(m.staff), contents(m.public)
    assert counts == {"staff": len(after[0]), "public": len(after[1])}
    assert before == after
    assert public(site, "title:西迁").total == 0


def test_ingest_batches_are_indexed_and_a_failed_ingest_leaves_nothing(site):
    repo, admin = site.repo, site.admin
    specs = [NewObject(SERIES, "item", {"title": {"zh": f"批量导入的记录{n}号"}, "begin": "1990"},
                       slug=f"bulk-{n}", state="published", access="open") for n in range(12)]
    repo.ingest(admin, specs, message="bulk", batch_size=5)
    assert staff(site, "批量导入").total == 12
    bad = [NewObject(SERIES, "item", {"title": {"zh": "回滚的记录"}, "begin": "1990"},
                     slug="rolled-back-1"),
           NewObject(SERIES, "item", {"title": {"zh": "回滚的记录"}}, slug="bulk-0")]  # taken
    with pytest.raises(Exception):  # noqa: B017 - whichever error the repository raises
        repo.ingest(admin, bad, message="bad", batch_size=1)
    assert staff(site, "回滚").total == 0


def test_recovery_after_a_crash_in_the_catalog_update(archive, monkeypatch):
    """The listener dies after the stores were written: the journal entry stays, and the
    next open brings both catalogs in step (including what the change implied)."""
    from repo.catalog.maintenance import Maintainer

    calls = {"n": 0}
    real = Maintainer.update

    def failing(self, iris):
        calls["n"] += 1
        raise RuntimeError("catalog crashed")

    monkeypatch.setattr(Maintainer, "update", failing)
    with pytest.raises(RuntimeError):
        archive.repo.transition(archive.admin, "/xjtu/students/westward", "withdraw")
    monkeypatch.setattr(Maintainer, "update", real)
    assert public(archive, "致校长").total == 1  # stale: the crash came first
    repo = archive.reopen()
    assert public(archive, "致校长").total == 0 and public(archive, "title:西迁").total == 0
    m = maintainer(repo)
    before = contents(m.staff), contents(m.public)
    m.rebuild()
    assert before == (contents(m.staff), contents(m.public))


def test_a_missing_catalog_is_rebuilt_when_the_site_opens(archive):
    import shutil

    expected = public(archive, "西迁").total
    archive.close()
    shutil.rmtree(archive.home / "catalog")
    archive.reopen()
    assert public(archive, "西迁").total == expected > 0
    assert staff(archive, "西迁").total > 0


def test_extra_text_hook(archive):
    from repo.catalog import documents

    def ocr(repository, iri, is_public):
        return ["识别出的全文：校庆典礼"] if iri.endswith("/letter-2") else []

    documents.register_text_source(ocr)
    try:
        maintainer(archive.repo).rebuild()
        hit = public(archive, "校庆").hits[0]
        assert hit.iri.endswith("/letter-2") and hit.snippet_field == "extra"
        assert "<mark>校庆</mark>" in hit.snippet_html
        assert paths(staff(archive, "ocr:典礼")) == ["/xjtu/students/westward/letter-2"]
    finally:
        documents.TEXT_SOURCES.remove(ocr)


# ---------------------------------------------------------------------- command line
def test_cli_search_and_reindex(archive):
    home = str(archive.home)
    archive.close()

    def lantai(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["--home", home, *args])
        code, output = result.exit_code, result.output
        del result  # its traceback holds the repository (and its store locks)
        gc.collect()
        return code, output

    code, output = lantai("search", "西迁", "--json")
    assert code == 0, output
    data = json.loads(output)
    assert data["total"] >= 1 and data["hits"][0]["path"] == "/xjtu/students/westward"
    assert "<mark>西迁</mark>" in data["hits"][0]["title_zh_html"]
    code, output = lantai("search", "--public", "--filter", "category=XS", "--sort", "-date",
                          "--json")
    assert code == 0, output
    data = json.loads(output)
    assert data["total"] > 0 and all(h["category"] == "XS" for h in data["hits"])
    assert all(h["path"] == "" for h in data["hits"])  # the public index has no paths
    code, output = lantai("search", "0421-XS.1957-Y-0001")
    assert code == 0 and "0421-XS·1957-Y-0001" in output and "1 result(s)" in output
    code, output = lantai("--user", "nobody", "search", "西迁", "--json")
    assert json.loads(output)["total"] == 0
    code, output = lantai("search", "x", "--filter", "nonsense")
    assert code == 5 and "NAME=VALUE" in output
    code, output = lantai("reindex")
    assert code == 0, output
    assert "staff catalog:" in output and "public catalog:" in output
    code, output = lantai("reindex", "--public")
    assert code == 0 and "staff catalog" not in output and "public catalog:" in output


def test_the_demo_archives_canaries_are_never_found_publicly(empty_site):
    """The demo marks data that must never be public with CANARY-…: search for every one."""
    import re

    from repo.demo import load_demo

    load_demo(empty_site.repo, empty_site.admin)
    text = (Path(__file__).parents[1] / "repo" / "demo" / "archive.yaml").read_text("utf-8")
    canaries = sorted(set(re.findall(r"CANARY-[A-Z0-9-]+", text)))
    assert len(canaries) >= 5
    for word in [*canaries, "CANARY"]:
        assert public(empty_site, word).total == 0, word
        assert staff(empty_site, word).total > 0, word
    assert public(empty_site, "西迁").total > 0


def test_a_process_that_dies_before_committing_loses_nothing(archive):
    """The change is in the stores and in catalog/pending.log, not yet in tantivy, when the
    process dies: the next open replays the log."""
    from support import run_python

    home = archive.home
    archive.close()
    script = f"""
import os, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from repo.repository import Repository
repo = Repository.open({str(home)!r}, wait=5)
admin = repo.user("admin")
repo.edit(admin, "/xjtu/students/westward/letter-1", set={{"title": {{"zh": "遗嘱档案"}}}})
repo.transition(admin, "/xjtu/students/westward/letter-2", "withdraw")
assert (repo.home / "catalog" / "pending.log").read_text().strip()
os._exit(0)  # no close, no atexit: tantivy never saw the change
"""
    proc = run_python(script)
    assert proc.returncode == 0, proc.stderr
    assert Catalog.open(home, public=True).search("遗嘱").total == 0  # not committed
    archive.reopen()
    assert paths(staff(archive, "遗嘱")) == ["/xjtu/students/westward/letter-1"]
    assert public(archive, "遗嘱").total == 1
    assert public(archive, "檔案館藏照片").total == 0
    assert not (home / "catalog" / "pending.log").read_text().strip()
