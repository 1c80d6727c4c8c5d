"""A growth record as a PDF, signed like a certified copy (issue 13, item 8).

The document (PDF/A-2b, A4, in Chinese or English): the archive's names, the title, the
person's name and the date; then the four strands as sections (their labels from the SKOS
scheme), each entry with its dates, name and places, and under it the records that
document it with their 档号; a closing statement that the archive signed it. Laid out by
fpdf2 with the CJK font of certified copies (:mod:`services.requests.fonts`: the reduced
font first, the full one when a character is missing).

Signed with the site's seal by :func:`services.requests.certify.sign`, the certified
copies' signer (PAdES, certification signature permitting no changes): one signer, one
trust root, and the same validators accept both. A growth record has no verification
code of the copy register (``/verify`` knows copies of requests); the signature's reason
says what the document is.

Only what the reader may view is in it: the entries come from
:func:`services.growth.records.growth_record` for the user who asks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from publisher.i18n import UIText, human_date, ui_ptext
from repo.config import read_settings
from repo.errors import LantaiError
from repo.repository import Repository
from repo.security import User
from services.growth import records
from services.growth.model import Entry
from services.growth.view import OTHER, places_text, sections, strand_labels, when_text
from services.requests import certify, fonts, pdfa

FAMILY = fonts.FAMILY
CREATOR = "Lantai growth records (fpdf2)"
TIMEZONE = certify.TIMEZONE

WORDS: dict[str, UIText] = {
    "title": ui_ptext("growth", "Growth Record"),
    "person": ui_ptext("growth", "Name"),
    "date": ui_ptext("growth", "Date of issue"),
    "entries": ui_ptext("growth", "Entries"),
    "when": ui_ptext("growth", "Date"),
    "what": ui_ptext("growth", "Activity"),
    "records": ui_ptext("growth", "Records (reference code, title)"),
    "other": ui_ptext("growth", "Other activities"),
    "none": ui_ptext("growth", "No entries."),
    "statement": ui_ptext("growth", "This growth record lists the activities of %(name)s "
                          "as described in the holdings of %(archive)s, with the records "
                          "that document them. It is signed electronically with the "
                          "archive's seal (a PAdES digital signature); any change to it "
                          "invalidates the signature."),
    "issuer": ui_ptext("growth", "Issued by %(archive)s"),
    "page": ui_ptext("growth", "Page %(n)s of %(total)s"),
    "reason": ui_ptext("growth", "Growth record of %(name)s"),
}


@dataclass
class Content:
    """Everything that goes into one growth record's PDF."""

    language: str
    name: str  # the person's name in the language
    archive: tuple[str, str]  # zh, en
    entries: list[Entry]
    issued: dt.datetime


def growth_pdf(repo: Repository, user: User, person_ref: str, language: str) -> bytes:
    """The signed PDF of the growth record of ``person_ref`` as ``user`` may see it
    (NotFound as :func:`records.growth_record`)."""
    language = language if language in ("zh", "en") else "zh"
    entries = records.growth_record(repo, user, person_ref, lang=language)
    person = records.record_person(repo, user, person_ref)
    settings = read_settings(repo.home)
    content = Content(language=language, name=person_name(repo, person, language),
                      archive=(settings.site_name_zh, settings.site_name_en),
                      entries=entries, issued=dt.datetime.now(dt.UTC))
    unsigned = build_pdf(content)
    reason = WORDS["reason"].in_lang(language, name=content.name)
    signed, _when, _subject = certify.sign(unsigned, repo.home, settings, "", language,
                                           reason=reason)
    return signed


def person_name(repo: Repository, person: str, lang: str) -> str:
    """The person's name in ``lang`` (read without a permission check: the caller has
    established that the reader may see this person's growth record, their own name
    included)."""
    obj = repo.load(person)
    if obj is None:
        return ""
    names = {tag.split("-")[0]: text for text, tag in obj.fields().get("name", [])}
    return records.in_lang(names, lang) or obj.slug


# ---------------------------------------------------------------------- the PDF
def build_pdf(content: Content) -> bytes:
    """The unsigned PDF/A-2b document, laid out with the fastest font first (like
    :func:`services.requests.certify.build_pdf`)."""
    for source in fonts.sources():
        pdf, font = _layout(content, source)
        try:
            if not font.missing_glyphs or source == fonts.font_file():
                return bytes(pdf.output())
        finally:
            font.ttfont.close()
    raise LantaiError("no font to lay out the growth record with")


def _local_date(when: dt.datetime, lang: str) -> str:
    from zoneinfo import ZoneInfo

    day = when.astimezone(ZoneInfo(TIMEZONE)).date().isoformat()
    return human_date(day, lang) or day


def _layout(content: Content, source: Any) -> tuple[Any, Any]:
    from fpdf import FPDF
    from fpdf.enums import OutputIntentSubType
    from fpdf.fonts import FontFace
    from fpdf.output import PDFICCProfile

    lang = content.language
    words = {k: w.in_lang(lang) for k, w in WORDS.items() if k not in ("statement", "issuer",
                                                                      "page", "reason")}
    zh, en = content.archive
    archive = zh if lang == "zh" else en
    title = f"{words['title']} — {content.name}"

    pdf = FPDF(unit="mm", format="A4")
    pdf.set_margins(18, 18, 18)
    pdf.set_auto_page_break(True, margin=20)
    font = fonts.add_font(pdf, source)
    pdf.set_lang(lang)
    pdf.set_title(title)
    pdf.set_author(archive)
    pdf.set_subject(words["title"])
    pdf.allow_images_transparency = False  # no transparency group on pages (PDF/A: none)
    pdf.set_creator(CREATOR)
    pdf.set_producer(certify.PRODUCER())
    pdf.set_creation_date(content.issued)
    pdf.set_xmp_metadata(pdfa.xmp(title=title, author=archive, subject=words["title"],
                                  creator_tool=CREATOR, producer=certify.PRODUCER(),
                                  created=content.issued))
    pdf.add_output_intent(OutputIntentSubType.PDFA, "sRGB IEC61966-2.1",
                          "sRGB IEC61966-2.1", "http://www.color.org",
                          PDFICCProfile(pdfa.srgb_profile(), 3, "DeviceRGB"),
                          "sRGB IEC61966-2.1")
    pdf.file_id = lambda: -1  # type: ignore[method-assign]  # as certify: no /ID from content
    pdf.alias_nb_pages("{nb}")
    page_words = WORDS["page"].in_lang(lang, n="%(n)s", total="{nb}")

    def footer() -> None:
        pdf.set_y(-14)
        pdf.set_font(FAMILY, size=8)
        pdf.cell(0, 5, page_words % {"n": pdf.page_no()}, align="C")

    pdf.footer = footer  # type: ignore[method-assign]

    pdf.add_page()
    pdf.set_font(FAMILY, size=18)
    pdf.cell(0, 10, zh, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=11)
    pdf.cell(0, 6, en, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(FAMILY, size=17)
    pdf.cell(0, 10, words["title"], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(FAMILY, size=11)
    for label, value in ((words["person"], content.name),
                         (words["date"], _local_date(content.issued, lang)),
                         (words["entries"], str(len(content.entries)))):
        pdf.cell(36, 7, label)
        pdf.cell(0, 7, value, new_x="LMARGIN", new_y="NEXT")
    labels = strand_labels(lang)
    heading = FontFace(emphasis="", fill_color=(235, 235, 235))
    if not content.entries:
        pdf.ln(4)
        pdf.cell(0, 7, words["none"], new_x="LMARGIN", new_y="NEXT")
    for strand, entries in sections(content.entries):
        pdf.ln(5)
        pdf.set_font(FAMILY, size=13)
        pdf.cell(0, 8, words["other"] if strand == OTHER else labels[strand],
                 new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FAMILY, size=9.5)
        with pdf.table(col_widths=(44, 58, 72), line_height=5.2, first_row_as_headings=True,
                       headings_style=heading, text_align="LEFT") as table:
            table.row([words["when"], words["what"], words["records"]])
            for e in entries:
                what = records.in_lang(e.title, lang)
                if e.places:
                    what += "\n" + places_text(e.places, lang)
                evidence = "\n".join(
                    f"{ev.refcode or '—'}  {records.in_lang(ev.title, lang)}"
                    for ev in e.evidence) or "—"
                table.row([when_text(e, lang) or "—", what, evidence])
    pdf.ln(8)
    pdf.set_font(FAMILY, size=10.5)
    pdf.multi_cell(0, 6, WORDS["statement"].in_lang(lang, name=content.name,
                                                    archive=archive),
                   new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.cell(0, 7, WORDS["issuer"].in_lang(lang, archive=archive), align="R",
             new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 7, _local_date(content.issued, lang), align="R")
    return pdf, font


__all__ = ["Content", "build_pdf", "growth_pdf", "person_name"]
