"""The language of imported descriptions, and language codes checked against the registry.

A finding aid's *material* language (``langmaterial``) is not the language its description
is written in: ``langusage`` and the script of each text decide. Codes are checked with the
langcodes registry, so Tibetan, Mongolian and Uyghur are languages and ``xyz`` is not.
Real files, real stores (the ``empty_site`` fixture), the importer's public entry point.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyoxigraph import Literal, NamedNode
from support import BASE

from ontology.namespaces import ISO639, RICO
from ontology.profile import load_profile
from repo.errors import Invalid
from repo.importers.run import import_ead
from repo.values import Assignment, to_term

PROFILE = load_profile()


def ead(header_langs: str, did: str, notes: str = "") -> str:
    usage = (f"<profiledesc><langusage>{header_langs}</langusage></profiledesc>"
             if header_langs else "")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ead xmlns="urn:isbn:1-931666-22-9"><eadheader><eadid>LANG-1</eadid>
<filedesc><titlestmt><titleproper>Guide</titleproper></titlestmt></filedesc>{usage}</eadheader>
<archdesc level="collection"><did>{did}</did>{notes}</archdesc></ead>"""


def imported(site, tmp_path: Path, xml: str):
    path = tmp_path / "finding-aid.xml"
    path.write_text(xml, encoding="utf-8")
    report = import_ead(site.repo, site.admin, path)
    return report, site.repo.get(site.admin, report.top)


def tagged(obj, prop: str) -> dict[str, str]:
    return {q.object.language: q.object.value for q in obj.description
            if q.subject.value == obj.iri and q.predicate.value == RICO + prop
            and isinstance(q.object, Literal) and q.object.language}


def material(obj) -> set[str]:
    return {q.object.value for q in obj.description if q.subject.value == obj.iri
            and q.predicate.value == RICO + "hasOrHadAllMembersWithLanguage"}


def test_english_description_of_chinese_material_is_english(empty_site, tmp_path):
    """No langusage, Chinese material: English text with a Chinese name is still English."""
    xml = ead("", '<unittitle>Minutes of the 迁校 relocation committee</unittitle>'
                  '<langmaterial><language langcode="chi"/></langmaterial>',
              "<scopecontent><p>Letters about Peng Kang 彭康 and the move to Xi'an.</p>"
              "</scopecontent>")
    _, top = imported(empty_site, tmp_path, xml)
    assert tagged(top, "title") == {"en": "Minutes of the 迁校 relocation committee"}
    assert tagged(top, "scopeAndContent") == {
        "en": "Letters about Peng Kang 彭康 and the move to Xi'an."}
    assert material(top) == {ISO639 + "chi"}


def test_langusage_and_script_decide_together(empty_site, tmp_path):
    """Described in Chinese and English: each text takes the language its script says."""
    xml = ead('<language langcode="chi"/><language langcode="eng"/>',
              "<unittitle>交通大学西迁档案</unittitle>"
              "<unittitle>Records of the move, with 彭康's letters</unittitle>"
              '<langmaterial><language langcode="chi"/></langmaterial>')
    _, top = imported(empty_site, tmp_path, xml)
    assert tagged(top, "title") == {"zh": "交通大学西迁档案",
                                    "en": "Records of the move, with 彭康's letters"}


@pytest.mark.parametrize(("text", "lang"), [
    ("བོད་ཀྱི་ཡིག་ཆ།", "bo"),          # Tibetan script
    ("ᠮᠣᠩᠭᠣᠯ ᠪᠢᠴᠢᠭ", "mn"),          # Mongolian script
    ("ئۇيغۇرچە ھۆججەتلەر", "ug"),      # Uyghur (Arabic script)
    ("交通大学", "zh"),
    ("Westward move", "en"),
])
def test_script_of_each_text_without_langusage(empty_site, tmp_path, text, lang):
    _, top = imported(empty_site, tmp_path, ead("", f"<unittitle>{text}</unittitle>"))
    assert tagged(top, "title") == {lang: text}


@pytest.mark.parametrize(("code", "iso"), [
    ("chi", "chi"), ("zho", "chi"), ("tib", "tib"), ("bod", "tib"), ("mon", "mon"),
    ("uig", "uig"), ("bo", "tib"),
])
def test_iso_639_2_b_and_t_codes_from_ead(empty_site, tmp_path, code, iso):
    xml = ead(f'<language langcode="{code}"/>', "<unittitle>标题 Title</unittitle>"
              f'<langmaterial><language langcode="{code}"/></langmaterial>')
    _, top = imported(empty_site, tmp_path, xml)
    assert material(top) == {ISO639 + iso}
    fa = top.iri + "#findingaid"
    assert {q.object.value for q in top.description if q.subject.value == fa
            and q.predicate.value == RICO + "hasOrHadLanguage"} == {ISO639 + iso}


def test_unknown_language_code_is_not_kept_and_says_so(empty_site, tmp_path):
    xml = ead("", "<unittitle>Letters</unittitle>"
                  '<langmaterial><language langcode="xyz"/><language langcode="eng"/>'
                  "</langmaterial>")
    report, top = imported(empty_site, tmp_path, xml)
    assert material(top) == {ISO639 + "eng"}
    assert any("'xyz'" in w for w in report.warnings), report.warnings


def term(type_name: str, text: str):
    return to_term(PROFILE.type(type_name), Assignment.parse(text), base=BASE,
                   resolve=lambda ref: ref)[1]


@pytest.mark.parametrize(("text", "want"), [
    ("language=bo", NamedNode(ISO639 + "tib")),
    ("language=tib", NamedNode(ISO639 + "tib")),
    ("language=bod", NamedNode(ISO639 + "tib")),
    ("language=mn", NamedNode(ISO639 + "mon")),
    ("language=ug", NamedNode(ISO639 + "uig")),
    ("language=zho", NamedNode(ISO639 + "chi")),
    ("title@bo=བོད་ཡིག", Literal("བོད་ཡིག", language="bo")),
    ("title@ug=ئۇيغۇرچە", Literal("ئۇيغۇرچە", language="ug")),
])
def test_repository_accepts_registered_languages(text, want):
    assert term("file", text) == want


@pytest.mark.parametrize(("text", "reason"), [
    ("language=xyz", "not an ISO 639"),
    ("language=qqqq", "not an ISO 639"),
    ("title@xyz=Letters", "not a language tag"),
])
def test_repository_refuses_unknown_languages(text, reason):
    with pytest.raises(Invalid, match=reason):
        term("file", text)
