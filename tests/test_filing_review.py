"""Review (issue 13, item 4): accept into the tree, return with a note, resubmit.

Real stores throughout: the site's Oxigraph working and publication stores, the filing
store's SQLite and receiving area, the media ingest, a real SMTP server (``smtp``)."""

from __future__ import annotations

import json

import pytest
from filing_review_support import ENERGY, SERIES, Loop, docx, png
from pyoxigraph import Literal, NamedNode

from ontology.namespaces import RICO
from repo.errors import Conflict, Forbidden, Invalid, LantaiError
from services.filing import review


@pytest.fixture
def loop(site, tmp_path):
    made = Loop(site, tmp_path)
    yield made
    made.store.close()


def _objects(repo, graph: str, predicate: str) -> list[str]:
    return [q.object.value for q in repo.working.quads_for_pattern(
        NamedNode(graph), NamedNode(predicate), None, NamedNode(graph))]


def test_accept_makes_a_private_record_with_refcode_provenance_event_and_files(site, loop):
    repo, editor = site.repo, site.user("editor")
    scan = loop.file(png(loop.tmp / "scan.png"))
    doc = loop.file(docx(loop.tmp / "大纲.docx"))
    english = loop.file(docx(loop.tmp / "syllabus.docx"))  # a name with no Chinese in it
    sub = loop.submit((loop.fields("2026年学生工作总结"), [scan, doc, english]))
    item = review.accept(loop.store, repo, editor, sub.items[0].id)

    assert item.state == "accepted" and not item.returned_ever
    assert item.refcode == "0421-XS·2026-Y-0001"
    record = repo.get(editor, item.record)
    assert record.parent == site.iris[SERIES] and record.type_name == "item"
    assert record.state == "private"  # the archivist publishes later, through the workflow
    # RiC-O in the record's own graph of the working store
    assert _objects(repo, item.record, RICO + "identifier") == [item.refcode]
    unit_iri = repo.resolve(ENERGY)
    assert _objects(repo, item.record, RICO + "hasOrganicProvenance") == [unit_iri]
    [event] = _objects(repo, item.record, RICO + "isAssociatedWithEvent")
    ev = repo.get(editor, event)
    assert ev.type_name == "event" and ev.path == f"/accessions/{sub.id.lower()}"
    assert repo.class_of(event) == RICO + "Event"
    assert _objects(repo, event, RICO + "hasOrHadParticipant") == [unit_iri]
    names = _objects(repo, event, RICO + "name")
    assert f"Accession {sub.id} School of Energy" in names
    if review.ACCESSION_NAME.in_lang("zh") != review.ACCESSION_NAME.in_lang("en"):
        assert review.ACCESSION_NAME.in_lang("zh", submission=sub.id,
                                             unit="能源与动力工程学院") in names
    assert _objects(repo, event, RICO + "date")  # the day of the accession
    assert _objects(repo, item.record, RICO + "hasOrHadType")[0].endswith("/category/XS")
    # the files, from the receiving area, as instantiations of the new record
    kids = repo.children(editor, record.path)
    digests = {d for k in kids for d in k.fields(repo.base).get("digest", [])}
    assert {f"sha256:{scan.sha256}", f"sha256:{doc.sha256}"} <= {str(d) for d in digests}
    mimes = {str(m) for k in kids for m in k.fields(repo.base).get("mime", [])}
    assert "image/png" in mimes
    assert "application/vnd.openxmlformats-officedocument.wordprocessingml.document" in mimes
    assert (site.home / "files").exists()
    steps = loop.store.history(sub.id)
    assert [s.action for s in steps] == ["submitted", "accepted"]
    assert steps[1].actor == "editor" and item.refcode in steps[1].note


def test_items_of_one_submission_share_one_accession_event(site, loop):
    repo, editor = site.repo, site.user("editor")
    sub = loop.submit((loop.fields("第一件"), []), (loop.fields("第二件"), []))
    a = review.accept(loop.store, repo, editor, sub.items[0].id)
    b = review.accept(loop.store, repo, editor, sub.items[1].id)
    assert a.refcode != b.refcode
    ea = _objects(repo, a.record, RICO + "isAssociatedWithEvent")
    assert ea == _objects(repo, b.record, RICO + "isAssociatedWithEvent")
    assert len(repo.children(editor, "/accessions")) == 1
    with pytest.raises(Conflict):  # an accepted item is not accepted twice
        review.accept(loop.store, repo, editor, a.id)


def test_return_notifies_and_mails_then_resubmit_and_accept(site, loop, smtp):
    smtp.configure(site.home)
    repo = site.reopen()
    editor, officer = repo.user("editor"), repo.user("officer")
    sub = loop.submit(({"title@zh": ["缺教师的教学档案"], "date": ["2026-04-01"]}, []))
    item_id = sub.items[0].id
    problems: list[str] = []
    returned = review.return_item(loop.store, repo, editor, item_id,
                                  "请补充任课教师 <script>x</script>", problems=problems)
    assert returned.state == "returned" and returned.returned_ever and not problems
    [notice] = loop.store.notices("energy")
    assert notice.kind == "rectification" and "请补充任课教师" in notice.body
    mail = smtp.wait_for(to="energy-office@lantai.test")
    assert sub.id in mail["Subject"]
    assert "请补充任课教师" in mail.get_content()

    with pytest.raises(Conflict):  # returned: not accepted until resubmitted
        review.accept(loop.store, repo, editor, item_id)
    fixed = {"title@zh": ["学生工作档案（已补充）"], "date": ["2026-04-01"]}
    again = review.resubmit(loop.store, repo, officer, item_id, fixed, note="补充了")
    assert again.state == "received" and again.attempts == 2 and again.fields == fixed
    done = review.accept(loop.store, repo, editor, item_id)
    assert done.state == "accepted" and done.returned_ever
    [row] = [r for r in loop.store.counts(2026) if r["unit"] == "energy"]
    assert (row["submitted"], row["returned"], row["accepted"],
            row["accepted_first_time"]) == (1, 1, 1, 0)
    actions = [(s.action, s.actor) for s in loop.store.history(sub.id)]
    assert actions == [("submitted", "officer"), ("returned", "editor"),
                       ("resubmitted", "officer"), ("accepted", "editor")]


def test_a_mail_that_cannot_be_sent_is_reported_and_the_return_counts(site, loop):
    # no SMTP server configured: the unit has an address, the mail fails
    repo, editor = site.repo, site.user("editor")
    sub = loop.submit((loop.fields("题名"), []))
    problems: list[str] = []
    item = review.return_item(loop.store, repo, editor, sub.items[0].id, "补充日期",
                              problems=problems)
    assert item.state == "returned"
    assert problems and "SMTP" in problems[0]
    assert loop.store.notices("energy")[0].kind == "rectification"


def test_a_return_needs_a_bounded_note(site, loop):
    repo, editor = site.repo, site.user("editor")
    sub = loop.submit((loop.fields("题名"), []))
    for bad in ("", "   ", "x" * (review.MAX_NOTE + 1), "bell\x07"):
        with pytest.raises(Invalid):
            review.return_item(loop.store, repo, editor, sub.items[0].id, bad)
    assert loop.store.item(sub.items[0].id).state == "received"


def test_officers_and_readers_cannot_review(site, loop):
    repo = site.repo
    sub = loop.submit((loop.fields("题名"), []))
    for name in ("officer", "reader", "contributor", "nobody"):
        with pytest.raises(Forbidden):
            review.accept(loop.store, repo, repo.user(name), sub.items[0].id)
        with pytest.raises(Forbidden):
            review.return_item(loop.store, repo, repo.user(name), sub.items[0].id, "改")
        with pytest.raises(Forbidden):
            review.accept_all(loop.store, repo, repo.user(name), sub.id)
    # a Reviewer is an archivist, but the repository lets only Editors and Managers add
    with pytest.raises(Forbidden):
        review.accept(loop.store, repo, repo.user("reviewer"), sub.items[0].id)
    assert loop.store.item(sub.items[0].id).state == "received"
    assert repo.reads.at_path("/accessions") is None


def test_only_the_units_officer_resubmits(site, loop):
    repo = site.repo
    sub = loop.submit((loop.fields("题名"), []))
    review.return_item(loop.store, repo, site.user("editor"), sub.items[0].id, "改")
    with pytest.raises(Forbidden):
        review.resubmit(loop.store, repo, repo.user("other"), sub.items[0].id,
                        loop.fields("改过"))
    with pytest.raises(Invalid) as refused:  # still checked: a title and a date
        review.resubmit(loop.store, repo, repo.user("officer"), sub.items[0].id,
                        {"title@zh": ["无日期"]})
    assert refused.value.problems and all(refused.value.problems)
    assert loop.store.item(sub.items[0].id).state == "returned"


def test_a_failing_ingest_leaves_nothing_in_the_tree(site, loop):
    repo, editor = site.repo, site.user("editor")
    fake = loop.tmp / "scan.jpg"
    fake.write_bytes(b"<html><script>not a scan</script></html>")
    sub = loop.submit((loop.fields("假扫描件"), [loop.file(fake)]))
    before = {o.path for _, o in repo.walk(editor, "/")}
    with pytest.raises(LantaiError):
        review.accept(loop.store, repo, editor, sub.items[0].id)
    item = loop.store.item(sub.items[0].id)
    assert item.state == "received" and not item.record and not item.refcode
    assert not [c for c in repo.children(editor, SERIES) if c.type_name == "item"
                and "假扫描件" in c.title("zh")]
    assert repo.reads.at_path("/accessions") is None  # the folder and event were undone
    assert repo.reads.at_path(f"/accessions/{sub.id.lower()}") is None
    after = {o.path for _, o in repo.walk(editor, "/")}
    assert after == before
    assert [s.action for s in loop.store.history(sub.id)] == ["submitted"]
    # no description holds the number the undone record had
    assert not list(repo.working.quads_for_pattern(
        None, NamedNode(RICO + "identifier"), Literal("0421-XS·2026-Y-0001"), None))
    ok = loop.submit((loop.fields("真件"), [loop.file(png(loop.tmp / "p.png"))]))
    assert review.accept(loop.store, repo, editor, ok.items[0].id).refcode.startswith(
        "0421-XS·2026-Y-")


def test_an_item_without_a_date_gets_no_refcode_and_nothing_is_written(site, loop):
    repo, editor = site.repo, site.user("editor")
    sub = loop.submit(({"title@zh": ["无日期"]}, []))
    with pytest.raises(Invalid, match="no reference code"):
        review.accept(loop.store, repo, editor, sub.items[0].id)
    assert repo.reads.at_path("/accessions") is None
    assert loop.store.item(sub.items[0].id).state == "received"


def test_accept_all_accepts_each_item_on_its_own(site, loop):
    repo, editor = site.repo, site.user("editor")
    fake = loop.tmp / "bad.pdf"
    fake.write_bytes(b"MZ\x90\x00 a program")
    sub = loop.submit((loop.fields("一"), []), (loop.fields("二"), [loop.file(fake)]),
                      (loop.fields("三"), []))
    result = review.accept_all(loop.store, repo, editor, sub.id)
    assert [i.row for i in result.accepted] == [1, 3]
    assert [i for i, _ in result.failed] == [sub.items[1].id]
    assert loop.store.item(sub.items[1].id).state == "received"
    assert [n.kind for n in loop.store.notices("energy")] == ["accepted"]


def test_nothing_received_or_accepted_but_private_is_published(site, loop):
    repo, editor = site.repo, site.user("editor")
    canary = "CANARY-REVIEW-7Q2"
    sub = loop.submit(({"title@zh": [canary + " 已接收"], "date": ["2026-05-01"]}, []),
                      ({"title@zh": [canary + " 待审"], "date": ["2026-05-02"]}, []))
    item = review.accept(loop.store, repo, editor, sub.items[0].id)
    public = repo.public
    assert not list(public.quads_for_pattern(NamedNode(item.record), None, None, None))
    assert not list(public.quads_for_pattern(None, None, NamedNode(item.record), None))
    event = _objects(repo, item.record, RICO + "isAssociatedWithEvent")[0]
    assert not list(public.quads_for_pattern(NamedNode(event), None, None, None))
    for q in public.quads_for_pattern(None, None, None, None):
        assert not (isinstance(q.object, Literal) and canary in q.object.value)
        assert sub.id not in str(q.object)


def _invoke(home, *args: str):
    from click.testing import CliRunner

    from repo.cli import main as cli_main

    return CliRunner().invoke(cli_main, ["--home", str(home), *args], catch_exceptions=False)


def test_the_commands_accept_return_and_show_the_history(site, loop):
    sub = loop.submit((loop.fields("一"), []), (loop.fields("二"), []), (loop.fields("三"), []))
    first, second, third = (i.id for i in sub.items)
    site.close()
    refused = _invoke(site.home, "--user", "officer", "filing", "accept", str(first))
    assert refused.exit_code != 0 and "archivists only" in refused.output
    done = _invoke(site.home, "--user", "editor", "filing", "accept", str(first), "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["accepted"][0]["refcode"] == "0421-XS·2026-Y-0001"
    back = _invoke(site.home, "--user", "editor", "filing", "return", str(second),
                   "--note", "补充任课教师")
    assert back.exit_code == 0 and "returned" in back.stdout
    assert "no e-mail" in back.stderr  # the unit has an address, the site no SMTP server
    # the returned one is refused, the received one accepted: exit 1, both reported
    mixed = _invoke(site.home, "--user", "editor", "filing", "accept", str(second),
                    str(third))
    assert mixed.exit_code == 1 and f"item {second}:" in mixed.stderr
    assert "0421-XS·2026-Y-0002" in mixed.stdout
    steps = [json.loads(line) for line in _invoke(
        site.home, "--user", "officer", "filing", "history", sub.id, "--json").stdout.splitlines()]
    assert [(s["action"], s["row"]) for s in steps] == [
        ("submitted", None), ("accepted", 1), ("returned", 2), ("accepted", 3)]
    assert _invoke(site.home, "--user", "other", "filing", "history", sub.id).exit_code != 0


def test_texts_in_descriptions_are_chinese_only_once_translated():
    from publisher.i18n import ui_text

    assert review.described(ui_text("Not found")) == {"en": "Not found", "zh": "未找到"}
    untranslated = ui_text("An id no catalog has %(x)s")
    assert review.described(untranslated, x={"zh": "甲", "en": "A"}) == {
        "en": "An id no catalog has A"}


def test_a_resubmission_is_checked_as_a_submission_and_a_refused_file_is_removed(site, loop):
    repo = site.repo
    sub = loop.submit((loop.fields("扫描件"), [loop.file(png(loop.tmp / "p1.png"))]))
    item = sub.items[0]
    review.return_item(loop.store, repo, site.user("editor"), item.id, "扫描件不清晰")
    fake = loop.tmp / "rescan.pdf"
    fake.write_bytes(b"<html><script>alert(1)</script></html>")
    staged = loop.file(fake)
    with pytest.raises(Invalid) as refused:
        review.resubmit(loop.store, repo, repo.user("officer"), item.id,
                        loop.fields("扫描件"), [staged])
    assert any("rescan.pdf" in p for p in refused.value.problems)
    assert not loop.store.file_path(staged.sha256).exists()  # nothing left of it
    kept = loop.store.item(item.id)
    assert kept.state == "returned" and kept.files == item.files
    assert loop.store.file_path(item.files[0].sha256).exists()
    # a good rescan replaces the old file, which goes (no item names it any more)
    good = loop.file(png(loop.tmp / "rescan.png", "blue"))
    again = review.resubmit(loop.store, repo, repo.user("officer"), item.id,
                            loop.fields("扫描件"), [good])
    assert again.files == [good] and again.state == "received"
    assert not loop.store.file_path(item.files[0].sha256).exists()


def test_a_spreadsheet_sent_through_intake_is_accepted_whole(site, loop):
    """The loop's two ends meet: what intake stores (fields as it reads them, files with
    their types found in their bytes) is what acceptance creates from."""
    from fpdf import FPDF

    from services.filing import intake

    repo = site.repo
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.cell(text="Minutes of the teaching meeting")
    pdf.output(str(loop.tmp / "minutes.pdf"))
    photo_file = png(loop.tmp / "photo.png", "green")
    sheet = loop.tmp / "items.csv"
    sheet.write_text("title@zh,date,file\n"
                     "教学会议纪要,2026-03-05,minutes.pdf\n"
                     f"活动照片,2026-04,{photo_file.name}\n", encoding="utf-8")
    result = intake.read_upload(loop.store, repo, repo.user("officer"), "energy", sheet,
                                task_id=loop.task)
    assert result.submission is not None, result.rows
    done = review.accept_all(loop.store, repo, site.user("editor"), result.submission.id)
    assert not done.failed and [i.refcode for i in done.accepted] == [
        "0421-XS·2026-Y-0001", "0421-XS·2026-Y-0002"]
    editor = site.user("editor")
    minutes = repo.get(editor, done.accepted[0].record)
    kids = repo.children(editor, minutes.path)
    mimes = sorted(str(m) for k in kids for m in k.fields(repo.base).get("mime", []))
    assert mimes == ["application/pdf", "image/png"]  # the PDF and its page
    photo = repo.get(editor, done.accepted[1].record)
    assert [str(m) for k in repo.children(editor, photo.path)
            for m in k.fields(repo.base).get("mime", [])] == ["image/png"]
