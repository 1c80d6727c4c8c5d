"""Growth records read from RiC-O (issue 13, item 6): services/growth/records.py, and the
signed PDF of one (item 8, services/growth/pdf.py) checked by pyHanko's validator."""

from __future__ import annotations

import io
import json
import subprocess

import pytest
from growth_support import MARKUP, growth_site
from support import require, run_lantai

from repo.errors import NotFound
from services.growth import pdf as growth_pdf
from services.growth import records
from services.requests import signing

PERSON = "/agents/zhang-san"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One site for the tests that only read it."""
    site, growth = growth_site(tmp_path_factory.mktemp("growth-records"))
    yield site, growth
    site.close()


@pytest.fixture
def site(built):
    return built[0]


@pytest.fixture
def growth(built):
    return built[1]


def titles(entries, lang="en"):
    return [e.title[lang] for e in entries]


def test_staff_see_every_entry_sorted_by_date_with_strands_places_and_evidence(site, growth):
    repo = site.repo
    entries = records.growth_record(repo, repo.user("editor"), PERSON, lang="en")
    assert titles(entries) == ["Freshman orientation", "Party class", "Gate volunteering",
                               "Disciplinary hearing", "Published a paper",
                               "National scholarship"]
    by = {e.title["en"]: e for e in entries}
    assert [by[t].strand for t in titles(entries)] == ["", "party", "practice", "practice",
                                                       "research", "honours"]
    vol = by["Gate volunteering"]
    assert (vol.begin, vol.end, vol.places) == ("2020-02", "2020-04", ["Xi'an"])
    assert vol.iri == growth.activities["volunteer"] and vol.path == "/growth-events/volunteer"
    assert by["Published a paper"].places == ["Shanghai"]
    assert records.growth_record(repo, repo.user("editor"), PERSON,
                                 lang="zh")[4].places == ["上海"]
    assert by["National scholarship"].note == {"en": "Awarded " + MARKUP}
    assert by["Published a paper"].title == {"en": "Published a paper", "zh": "发表论文"}

    # the evidence: each record documenting the activity, with its access, state and scan
    [cert] = by["Published a paper"].evidence
    assert cert.iri == growth.records["paper-certificate"]
    assert (cert.access, cert.state, cert.image) == ("personal", "private", growth.scan_key)
    assert cert.title["zh"] == "论文录用证明"
    [party] = by["Party class"].evidence
    assert (party.access, party.image) == ("restricted", "")
    # a deleted record is not evidence of anything
    assert [e.iri for e in by["National scholarship"].evidence] == [
        growth.records["scholarship-letter"]]
    assert by["Freshman orientation"].evidence == []

    # the same record by IRI and by key; another person's record is theirs alone
    iri = site.iris[PERSON]
    assert records.growth_record(repo, repo.user("reader"), iri) == records.growth_record(
        repo, repo.user("reader"), "zhang-san")
    assert titles(records.growth_record(repo, repo.user("manager"), "li-si")) == [
        "Li Si's award"]


def test_the_student_sees_their_own_personal_entries_and_nothing_else(site, growth):
    repo = site.repo
    zs = repo.user("zs")
    entries = records.growth_record(repo, zs, PERSON, lang="en")
    # the restricted activity (staff only) is not there, nor is a restricted record
    assert titles(entries) == ["Freshman orientation", "Party class", "Gate volunteering",
                               "Published a paper", "National scholarship"]
    by = {e.title["en"]: e for e in entries}
    assert by["Party class"].evidence == []
    assert [e.iri for e in by["Published a paper"].evidence] == [
        growth.records["paper-certificate"]]
    # the place the public may see is named; a private one is not
    assert by["Published a paper"].places == ["Shanghai"]
    assert by["Gate volunteering"].places == []
    # the scan of their own personal record is theirs to see
    assert by["Published a paper"].evidence[0].image == growth.scan_key
    assert records.growth_record(repo, zs, "zhang-san") == records.growth_record(
        repo, zs, site.iris[PERSON], lang="zh")


@pytest.mark.parametrize("ref", ["/agents/li-si", "li-si", "https://archive.example.edu/id/agent/li-si",
                                 "/agents/nobody-here", "nobody-here", "/xjtu", "../x",
                                 "a" * 3000, "li-si\n", "<x>"])
def test_a_student_asking_for_anyone_else_is_told_there_is_no_record(site, growth, ref):
    repo = site.repo
    with pytest.raises(NotFound) as caught:
        records.growth_record(repo, repo.user("zs"), ref)
    assert caught.value.message == records.NO_RECORD  # the same words, exists or not


def test_who_is_a_student(site, growth):
    repo = site.repo
    assert records.person_of(repo, repo.user("zs")) == site.iris[PERSON]
    assert records.is_student(repo, repo.user("zs"))
    for name in ("admin", "editor", "nobody", "office"):
        assert not records.is_student(repo, repo.user(name)), name
    assert records.person_of(repo, repo.user("office")) is None  # a corporate body
    assert records.person_of(repo, repo.user("editor")) is None
    for name in ("nobody", "office"):  # no role and no person: no growth record at all
        with pytest.raises(NotFound):
            records.growth_record(repo, repo.user(name), PERSON)
    # staff asking for what is not a person
    with pytest.raises(NotFound):
        records.growth_record(repo, repo.user("admin"), "/xjtu")


def _validate(pdf_path, ca_path):
    import shutil
    import sys
    from pathlib import Path

    exe = shutil.which("pyhanko") or str(Path(sys.executable).with_name("pyhanko"))
    require(Path(exe).exists(), "the pyHanko CLI (pyhanko-cli) is not installed")
    return subprocess.run([exe, "sign", "validate", "--trust", str(ca_path), "--trust-replace",
                           "--no-revocation-check", "--pretty-print", str(pdf_path)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_the_pdf_has_the_strands_and_only_what_the_reader_may_see_and_is_signed(
        site, growth, tmp_path):
    from pyhanko.pdf_utils.reader import PdfFileReader

    from services.requests import pdfa, validation

    repo = site.repo
    data = growth_pdf.growth_pdf(repo, repo.user("zs"), PERSON, "en")
    text = _pdf_text(data)
    for said in ("Growth Record", "Zhang San", "Research and academic results",
                 "Practice and service", "Party and League activities", "Honours and awards",
                 "Published a paper", "Shanghai", "Acceptance letter",
                 "Scholarship", "February 2020 –", "0421-XS·1957-Y-0001-"):
        assert said in text, (said, text)
    assert "Disciplinary hearing" not in text  # staff only
    assert "Party class assessment" not in text  # a restricted record
    assert "Li Si" not in text
    # staff see the restricted entries in theirs; in Chinese, with the scheme's labels
    staff_text = _pdf_text(growth_pdf.growth_pdf(repo, repo.user("editor"), PERSON, "zh"))
    for said in ("张三", "科研学术成果", "荣誉奖励", "违纪听证",
                 "培训考察材料", "上海"):
        assert said in staff_text, (said, staff_text)

    # the signature: the site's seal, sound, covering the whole file, no changes allowed
    found = validation.inspect(data, signing.trust_roots(repo.home))
    assert (found.sound, found.intact, found.trusted, found.unchanged) == (True,) * 4
    assert found.claimed_code == ""  # not a certified copy of the copy register
    sig = PdfFileReader(io.BytesIO(data)).embedded_signatures[0]
    assert "Growth record of Zhang San" in str(sig.sig_object.get("/Reason"))
    assert pdfa.problems(data) == []

    pdf_path, ca = tmp_path / "growth.pdf", tmp_path / "ca.pem"
    pdf_path.write_bytes(data)
    ca.write_bytes(b"".join(signing.trust_roots(repo.home)))
    good = _validate(pdf_path, ca)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "The signature is judged VALID." in good.stdout
    broken = bytearray(data)
    at = broken.index(b"Growth") if b"Growth" in broken else len(broken) // 3
    broken[at + 1] ^= 0x01
    bad_path = tmp_path / "changed.pdf"
    bad_path.write_bytes(bytes(broken))
    assert _validate(bad_path, ca).returncode != 0


def _pdf_text(data: bytes) -> str:
    import shutil

    require(shutil.which("pdftotext"), "pdftotext (poppler-utils) is not installed")
    proc = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data,
                          capture_output=True, timeout=60, check=True)
    return " ".join(proc.stdout.decode("utf-8").split())


@pytest.mark.slow
def test_cli_show_and_pdf(tmp_path):
    site, _growth = growth_site(tmp_path)
    home = site.home
    site.close()
    proc = run_lantai(home, "growth", "show", "me", "--json", user="zs")
    data = json.loads(proc.stdout)
    assert data["person"].endswith("/id/agent/zhang-san")
    assert [e["title"]["en"] for e in data["entries"]][:2] == ["Freshman orientation",
                                                               "Party class"]
    assert "Disciplinary hearing" not in proc.stdout
    staff = run_lantai(home, "growth", "show", "zhang-san", user="editor").stdout
    assert "违纪听证" in staff and "[practice]" in staff
    refused = run_lantai(home, "growth", "show", "li-si", user="zs", check=False)
    assert refused.returncode == 3 and "no growth record here" in refused.stderr
    assert run_lantai(home, "growth", "show", "me", user="editor", check=False).returncode == 3

    out = tmp_path / "record.pdf"
    run_lantai(home, "growth", "pdf", PERSON, "-o", str(out), "--lang", "en", user="zs")
    assert out.read_bytes().startswith(b"%PDF-") and b"/ByteRange" in out.read_bytes()
    bad = run_lantai(home, "growth", "pdf", "li-si", "-o", str(tmp_path / "x.pdf"), user="zs",
                     check=False)
    assert bad.returncode == 3 and not (tmp_path / "x.pdf").exists()
