"""One-stop filing's input (issue 13, item 3 and "Bad input and safety"): a spreadsheet (XLSX,
CSV), a BagIt bag or the form, checked per row and stored all or nothing.

Every hostile case checks three things: the message names the problem, nothing was stored
(no submission, an empty receiving area), and what was fine in the same file did not slip
through on its own. Real files throughout: PDFs by fpdf2, JPEGs by Pillow, workbooks by
openpyxl, bags by bagit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
import zipfile
from pathlib import Path

import pytest
from intake_support import (
    TEACHER,
    Filing,
    filing_site,
    good_rows,
    make_bag,
    pdf_bytes,
    receiving_files,
    write_csv,
    write_files,
    write_xlsx,
    zip_folder,
)

from repo.errors import Forbidden
from services.filing import checks, intake
from services.filing.intake import IntakeResult


@pytest.fixture
def filing(site) -> Filing:
    f = filing_site(site)
    yield f
    f.store.close()


def submit(filing: Filing, path: Path, *, user: str = "officer", unit: str = "energy",
           task: int | None = -1, **kw) -> IntakeResult:
    task_id = filing.jx if task == -1 else task
    return intake.read_upload(filing.store, filing.site.repo, filing.site.user(user), unit,
                              path, task_id=task_id, **kw)


def refused(filing: Filing, result: IntakeResult) -> None:
    """Nothing of a refused upload is kept."""
    assert result.submission is None
    assert result.reason
    assert filing.store.submissions(year=2026) == []
    assert receiving_files(filing.store) == []


def messages(result: IntakeResult) -> dict[int, list[str]]:
    return {r.row: r.messages for r in result.rows}


def upload(tmp_path: Path, rows, name: str = "items.xlsx", files=None, **kw) -> Path:
    folder = tmp_path / "upload"
    folder.mkdir(exist_ok=True)
    names = files if files is not None else [f"r{i}.pdf" for i in range(1, len(rows))]
    write_files(folder, names)
    path = folder / name
    if name.endswith(".csv"):
        return write_csv(path, rows, **kw)
    return write_xlsx(path, rows)


# ---------------------------------------------------------------------------- accepted
def test_a_good_xlsx_with_pdfs_lands_in_the_receiving_area(filing, tmp_path):
    path = upload(tmp_path, good_rows(3))
    result = submit(filing, path)
    assert result.ok, result.rows
    assert [(r.row, r.ok) for r in result.rows] == [(1, True), (2, True), (3, True)]
    sub = filing.store.submission(result.submission.id)
    assert (sub.unit, sub.task, sub.channel, sub.source, sub.created_by) == (
        "energy", filing.jx, "spreadsheet", "items.xlsx", "officer")
    assert [i.state for i in sub.items] == ["received"] * 3
    teacher = filing.site.repo.resolve(TEACHER)
    for n, item in enumerate(sub.items, start=1):
        assert item.row == n
        assert item.fields["title@zh"] == [f"教学档案{n}"]
        assert item.fields["date"] == [f"2026-03-{n + 1:02d}"]
        assert item.fields["creator"] == [teacher]  # by name (李明) or by path: the IRI
        [f] = item.files
        data = (path.parent / f"r{n}.pdf").read_bytes()
        assert (f.name, f.size, f.mime) == (f"r{n}.pdf", len(data), "application/pdf")
        assert f.sha256 == hashlib.sha256(data).hexdigest()
        assert filing.store.open_file(f.sha256).read() == data  # the plaintext, read back
    assert len(receiving_files(filing.store)) == 3
    # nothing of it is in the tree or the publication dataset
    _, public = filing.site.snapshot()
    assert not any("教学档案" in q for q in public)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_csv_in_utf8_or_gb18030_is_read(filing, tmp_path, encoding):
    result = submit(filing, upload(tmp_path, good_rows(2), "items.csv", encoding=encoding))
    assert result.ok, (result.problems, result.rows)
    items = filing.store.submission(result.submission.id).items
    assert [i.fields["title@zh"] for i in items] == [["教学档案1"], ["教学档案2"]]


def test_a_good_bag_folder_and_its_zip_are_filed(filing, tmp_path):
    bag = make_bag(tmp_path / "bag", good_rows(2), ["r1.pdf", "r2.pdf"])
    result = submit(filing, bag)
    assert result.ok, (result.problems, result.rows)
    assert result.submission.channel == "bag"
    zipped = zip_folder(bag, tmp_path / "bag.zip")
    again = submit(filing, zipped)
    assert again.ok, (again.problems, again.rows)
    assert again.submission.source == "bag.zip"
    assert len(receiving_files(filing.store)) == 2  # the same bytes: one copy


def test_a_spreadsheet_with_its_files_in_a_zip(filing, tmp_path):
    folder = tmp_path / "files"
    write_files(folder, ["r1.pdf", "r2.pdf"])
    archive = zip_folder(folder, tmp_path / "files.zip")
    sheet = write_xlsx(tmp_path / "items.xlsx", good_rows(2))
    result = submit(filing, sheet, files=archive)
    assert result.ok, (result.problems, result.rows)


def test_the_form_files_one_item(filing, tmp_path):
    write_files(tmp_path, ["scan.pdf", "photo.jpg"])
    result = intake.form_submission(
        filing.store, filing.site.repo, filing.site.user("officer"), "energy", filing.jx,
        {"title@zh": "课程教学大纲", "date": "2026-02-20", "creator": TEACHER,
         "note@zh": ["备注<script>alert(1)</script>"]},
        [tmp_path / "scan.pdf", tmp_path / "photo.jpg"])
    assert result.ok, result.rows
    [item] = result.submission.items
    assert [f.mime for f in item.files] == ["application/pdf", "image/jpeg"]
    assert item.fields["note@zh"] == ["备注<script>alert(1)</script>"]  # text, escaped on pages
    assert result.submission.channel == "form"


# ---------------------------------------------------------------------------- refused
def test_a_formula_refuses_its_row(filing, tmp_path):
    rows = good_rows(3)
    rows[2][0] = "=CONCATENATE(\"教学\", \"档案\")"
    result = submit(filing, upload(tmp_path, rows))
    refused(filing, result)
    got = messages(result)
    assert got[1] == [] and got[3] == []
    assert any("formula" in m for m in got[2])


def test_xlsm_and_macro_workbooks_are_refused(filing, tmp_path):
    path = upload(tmp_path, good_rows(1))
    xlsm = path.with_suffix(".xlsm")
    xlsm.write_bytes(path.read_bytes())
    result = submit(filing, xlsm)
    refused(filing, result)
    assert "macros" in result.problems[0] and ".xlsm" in result.problems[0]
    # the same workbook named .xlsx but holding a VBA project
    hidden = path.with_name("hidden.xlsx")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(hidden, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0" + b"\0" * 512)
    result = submit(filing, hidden)
    refused(filing, result)
    assert "macros" in result.problems[0]
    xls = path.with_suffix(".xls")
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    result = submit(filing, xls)
    refused(filing, result)
    assert ".xls" in result.problems[0]


def test_wrong_columns_are_refused_with_what_was_found_and_expected(filing, tmp_path):
    rows = good_rows(2)
    rows[0] = ["题名", "日期", "teacher_name", "文件"]
    result = submit(filing, upload(tmp_path, [r[:4] for r in rows]))
    refused(filing, result)
    [problem] = result.problems
    assert "unknown column(s): teacher_name" in problem
    assert "found: 题名, 日期, teacher_name, 文件" in problem and "expected:" in problem
    # a teaching file without the teacher's column at all
    rows = [["题名", "日期", "文件"], ["教学档案", "2026-03-01", "r1.pdf"]]
    result = submit(filing, upload(tmp_path, rows, "b.xlsx"))
    refused(filing, result)
    assert "missing required column(s): creator" in result.problems[0]
    # a text field needs its language
    rows = [["title", "date", "creator", "file"], ["x", "2026-03-01", TEACHER, "r1.pdf"]]
    result = submit(filing, upload(tmp_path, rows, "c.csv"))
    refused(filing, result)
    assert "title (needs @zh or @en)" in result.problems[0]


def test_a_teaching_row_without_a_teacher_is_refused(filing, tmp_path):
    rows = good_rows(3)
    rows[2][3] = ""
    rows[3][3] = "王老师"  # nobody of that name in the repository
    result = submit(filing, upload(tmp_path, rows))
    refused(filing, result)
    got = messages(result)
    assert got[1] == []
    assert got[2] == ["a responsible person (责任者: an agent by path or name) is required "
                      "for JX"]
    assert "no agent of the repository is named '王老师'" in got[3][0]
    # the same rows are fine for the students task (no teacher needed), but for the unknown
    # name: a name given must still be an agent
    result = submit(filing, upload(tmp_path, rows[:3], "s.xlsx"), task=filing.xs)
    assert result.ok, result.rows


def test_a_hidden_agent_is_answered_as_absent(filing, tmp_path):
    """The officer holds no view role: a private person is not theirs to name (nor to learn
    that it exists)."""
    rows = good_rows(1)
    rows[1][3] = "/agents/zhang-san"  # private in the test tree (its folder is published)
    result = submit(filing, upload(tmp_path, rows))
    refused(filing, result)
    assert messages(result)[1] == ["creator: no agent of the repository at /agents/zhang-san"]
    assert submit(filing, upload(tmp_path, rows, "e.xlsx"), user="editor").ok


def test_too_many_rows_are_refused_at_once(filing, tmp_path):
    """100,000 rows against the site's 10,000: refused while streaming, no row checked."""
    path = tmp_path / "big.csv"
    line = "教学档案,2026-03-01,李明,r.pdf\n"
    path.write_text("题名,日期,责任者,文件\n" + line * 100_000, encoding="utf-8")
    started = time.perf_counter()
    result = submit(filing, path)
    refused(filing, result)
    assert result.rows == []
    assert result.problems == ["more than 10000 rows: split the file (the site takes at most "
                               "10000 rows in one submission)"]
    assert time.perf_counter() - started < 5


def test_too_many_rows_in_a_workbook_are_refused_at_once(filing, tmp_path):
    """A workbook of 100,000 rows that does not declare its size (as streaming writers
    make them): its rows are counted in the sheet's bytes before openpyxl reads any."""
    path = tmp_path / "big.xlsx"
    template = tmp_path / "one.xlsx"
    write_xlsx(template, [["题名", "日期", "责任者", "文件"]])
    row = ('<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>教学档案</t></is></c>'
           '<c r="B{n}" t="inlineStr"><is><t>2026-03-01</t></is></c></row>')
    with zipfile.ZipFile(template) as src, zipfile.ZipFile(path, "w",
                                                           zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                text = re.sub(r"<dimension [^>]*/>", "", text)
                head, _, rest = text.partition("</row>")
                body = "".join(row.format(n=n) for n in range(2, 100_002))
                data = (head + "</row>" + body + rest).encode()
            dst.writestr(info.filename, data)
    started = time.perf_counter()
    result = submit(filing, path)
    refused(filing, result)
    assert result.rows == [] and "more than 10000 rows" in result.problems[0]
    assert time.perf_counter() - started < 5


def test_a_smaller_row_limit_is_the_sites(filing, tmp_path):
    repo = filing.site.repo
    repo.settings = dataclasses.replace(repo.settings, filing_max_rows=2)
    result = submit(filing, upload(tmp_path, good_rows(3)))
    refused(filing, result)
    assert "more than 2 rows" in result.problems[0]


def test_a_latin1_csv_is_refused(filing, tmp_path):
    rows = [["title@zh", "title@en", "date", "creator", "file"],
            ["Résumé de l'été", "Summer résumé", "2026-03-01", TEACHER, "r1.pdf"]]
    result = submit(filing, upload(tmp_path, rows, "latin.csv", encoding="latin-1"))
    refused(filing, result)
    assert "not UTF-8 or GB18030/GBK" in result.problems[0]


def test_an_oversized_cell_is_refused(filing, tmp_path):
    rows = good_rows(2)
    rows[1][1] = "x" * 5000
    result = submit(filing, upload(tmp_path, rows, "big-cell.csv"))
    refused(filing, result)
    assert messages(result)[1] == ["title@en: 5000 characters, at most 4000"]


def test_a_bag_with_a_bad_checksum_is_refused(filing, tmp_path):
    bag = make_bag(tmp_path / "bag", good_rows(2), ["r1.pdf", "r2.pdf"])
    target = bag / "data" / "r2.pdf"
    data = bytearray(target.read_bytes())
    data[-10] ^= 0xFF  # same size: only the checksum can tell
    target.write_bytes(bytes(data))
    result = submit(filing, bag)
    refused(filing, result)
    assert "is not valid" in result.problems[0] and "r2.pdf" in result.problems[0]


def test_a_bag_with_a_file_no_row_names_or_a_missing_file_is_refused(filing, tmp_path):
    bag = make_bag(tmp_path / "bag", good_rows(1), ["r1.pdf", "stray.pdf"])
    result = submit(filing, bag)
    refused(filing, result)
    assert "no row names: stray.pdf" in result.problems[0]
    bag2 = make_bag(tmp_path / "bag2", good_rows(2), ["r1.pdf", "r2.pdf"])
    (bag2 / "data" / "r2.pdf").unlink()
    result = submit(filing, bag2)
    refused(filing, result)
    assert "is not valid" in result.problems[0]


def test_a_zip_with_paths_outside_is_refused(filing, tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("items.csv", "题名,日期,责任者,文件\n教学档案,2026-03-01,李明,r1.pdf\n")
        z.writestr("r1.pdf", pdf_bytes())
        z.writestr("../../escaped.pdf", pdf_bytes())
    result = submit(filing, evil)
    refused(filing, result)
    assert "outside the folder" in result.problems[0]
    assert not list(tmp_path.parent.rglob("escaped.pdf"))
    assert not list(filing.store.home.rglob("escaped.pdf"))
    assert not list((filing.store.home / "tmp").glob("intake-*"))  # the work folder is gone
    assert [p.name for p in filing.store.folder.iterdir()] == ["receiving", "filing.sqlite3",
                                                               *[p.name for p in filing.store
                                                                 .folder.glob("filing.sq*-*")]]


def test_a_zip_with_a_symlink_or_too_big_is_refused(filing, tmp_path):
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as z:
        info = zipfile.ZipInfo("r1.pdf")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, "/etc/passwd")
    result = submit(filing, link)
    refused(filing, result)
    assert "symbolic link" in result.problems[0]
    repo = filing.site.repo
    repo.settings = dataclasses.replace(repo.settings, filing_upload_max_mb=1)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("items.csv", "题名,日期,责任者,文件\n")
        z.writestr("r1.pdf", b"\0" * (3 << 20))  # 3 MB of zeros: a few kB packed
    assert bomb.stat().st_size < 20_000
    result = submit(filing, bomb)
    refused(filing, result)
    assert "unpacks to more than 2 MB" in result.problems[0]


@pytest.mark.parametrize("fake", [b"MZ\x90\x00\x03\x00\x00\x00" + b"\0" * 300,
                                  b"<!DOCTYPE html><html><body><script>x</script></body></html>"])
def test_a_pdf_that_is_an_exe_or_html_is_refused(filing, tmp_path, fake):
    path = upload(tmp_path, good_rows(2))
    (path.parent / "r2.pdf").write_bytes(fake)
    result = submit(filing, path)
    refused(filing, result)
    got = messages(result)
    assert got[1] == []
    [message] = got[2]
    assert message.startswith("file r2.pdf: its bytes are .") and "not .pdf" in message


def test_a_missing_file_and_a_disallowed_type_are_refused(filing, tmp_path):
    rows = good_rows(3)
    rows[2][4] = "nowhere.pdf"
    rows[3][4] = "tool.exe"
    path = upload(tmp_path, rows, files=["r1.pdf"])
    (path.parent / "tool.exe").write_bytes(b"MZ" + b"\0" * 100)
    result = submit(filing, path)
    refused(filing, result)
    got = messages(result)
    assert got[2] == ["file nowhere.pdf: not found (it must be beside the spreadsheet, in the "
                      "ZIP or in the bag's data/)"]
    assert got[3][0].startswith("file tool.exe: .exe is not an archival file type")


def test_a_file_name_cannot_reach_outside_the_upload(filing, tmp_path):
    (tmp_path / "secret.pdf").write_bytes(pdf_bytes())
    rows = good_rows(1)
    rows[1][4] = "../secret.pdf"
    result = submit(filing, upload(tmp_path, rows, files=[]))
    refused(filing, result)
    assert "file ../secret.pdf: not found" in messages(result)[1][0]


def test_bad_values_are_the_profiles_messages(filing, tmp_path):
    rows = good_rows(2)
    rows[1][2] = "2026-13-45"
    rows[2][1] = "中文题名"  # Chinese in the English title
    result = submit(filing, upload(tmp_path, rows))
    refused(filing, result)
    got = messages(result)
    assert got[1] == ["date: '2026-13-45' is not a date this archive reads (forms: 1957, "
                      "1957-09, 1957-09-01, 1956/1958, 约1950, 1956年8月, 1950年代, "
                      "1956年8月至1957年6月)"]
    assert any("title" in m for m in got[2])


# ---------------------------------------------------------------------------- who
def test_an_officer_files_only_for_their_unit(filing, tmp_path):
    path = upload(tmp_path, good_rows(1))
    with pytest.raises(Forbidden):
        submit(filing, path, unit="youth", task=filing.other)
    with pytest.raises(Forbidden):
        submit(filing, path, user="officer2", unit="energy")
    with pytest.raises(Forbidden):  # another unit's task under one's own unit
        submit(filing, path, user="officer2", unit="youth", task=filing.jx)
    with pytest.raises(Forbidden):
        intake.form_submission(filing.store, filing.site.repo, filing.site.user("officer2"),
                               "energy", filing.jx, {"title@zh": "x"}, [])
    assert receiving_files(filing.store) == []


# ---------------------------------------------------------------------------- check_item
def test_check_item_is_the_same_check(filing, tmp_path):
    repo = filing.site.repo
    write_files(tmp_path, ["a.pdf"])
    fine = {"title@zh": ["教学日历"], "date": ["2026-03-01"], "creator": [TEACHER]}
    assert checks.check_item(repo, "JX", fine, [tmp_path / "a.pdf"]) == []
    assert checks.check_item(repo, "JX", {**fine, "creator": []}, [tmp_path / "a.pdf"]) == [
        "a responsible person (责任者: an agent by path or name) is required for JX"]
    assert checks.check_item(repo, "XS", {"date": ["2026"]}, []) == [
        "a title (题名) is required for XS"]
    assert checks.check_item(repo, "SW", {"title@zh": ["校徽"], "date": ["1956"]}, []) == []
    assert checks.check_item(repo, "SX", {"title@zh": ["毕业典礼录像"], "date": ["2026"]},
                             []) == ["at least one file (文件) is required for SX"]
    assert checks.check_item(repo, "JX", {**fine, "digest": ["x"]}, [tmp_path / "a.pdf"]) == [
        "digest: not a field of an archival item"]
    assert "category" in " ".join(checks.check_item(repo, "QQ", fine, [tmp_path / "a.pdf"]))


def test_check_item_reads_files_in_the_receiving_area(filing, tmp_path):
    """A resubmission's files are in the receiving area already: their bytes are checked
    there, under the name they were sent with."""
    repo = filing.site.repo
    write_files(tmp_path, ["a.pdf"])
    good = filing.store.put_file(tmp_path / "a.pdf")
    (tmp_path / "fake.pdf").write_bytes(b"MZ\x90\x00" + b"\0" * 300)
    bad = filing.store.put_file(tmp_path / "fake.pdf")
    fine = {"title@zh": ["教学日历"], "date": ["2026-03-01"], "creator": [TEACHER]}
    assert checks.check_item(repo, "JX", fine, [good]) == []
    assert checks.check_item(repo, "JX", fine, [bad]) == [
        "file fake.pdf: its bytes are .exe, not .pdf (a renamed file is not accepted)"]
    gone = dataclasses.replace(good, sha256="0" * 64)
    assert checks.check_item(repo, "JX", fine, [gone]) == [
        "file a.pdf: not in the receiving area"]
