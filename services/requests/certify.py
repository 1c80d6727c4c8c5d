"""The certified copy (issue 12, item 4): a cover sheet and the selected pages, one PDF/A-2b
per language asked for, signed PAdES with the archive's seal, kept in the request store.

What is on it:

- a **cover sheet** in the requested language (zh or en): the archive's names and seal
  image (``{home}/signing/seal.png`` if the site has one, else one drawn with Pillow), the
  request number, what is certified (the request's kind), each record's 档号 and title and
  page count, the total of pages, the date, the verification code, and the certification
  statement;
- the **selected pages** at print resolution (:mod:`services.requests.pages`), one per PDF
  page (landscape scans on landscape pages), each with a footer: the short code, a QR code
  to ``{base}/verify?code=CODE``, and "page n of N" (the cover is page 1);
- the code in the document information as ``/LantaiCode`` (what ``/verify`` reads back).

The words of the cover are read from the message catalogs in the copy's language
(``UIText.in_lang``), not the browser's: a copy is made for a language the request names,
whoever issues it and whatever their browser asks.

The signature is PAdES (``ETSI.CAdES.detached``, SHA-256) by pyHanko, a certification
signature that permits no changes: baseline B-B; B-LT (a timestamp from ``signing_tsa_url``
and the validation data embedded) when a timestamp authority is configured. The signature
field is **invisible**: the cover already says in words who certifies and how to check, a
visible box would cover part of a scan or need a page of its own, and readers show the
signature in their signature panel either way (an invisible field with an empty rectangle
is also what PDF/A allows without an appearance stream).

Speed: the CJK font is what costs (see :mod:`services.requests.fonts` for its two
caches); page images within A4 at 300 dpi that are stored as JPEG go into the PDF as they
are (no decode, no re-encode), others are rendered on two threads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from publisher.i18n import UIText, human_date, ui_ptext
from repo.config import Settings, read_settings
from repo.errors import Invalid, LantaiError, NotFound
from repo.files import FileStore
from repo.repository import Repository
from repo.security import User
from services.requests import fonts, pdfa, signing
from services.requests import pages as pages_mod
from services.requests.model import Copy, Request
from services.requests.store import RequestStore, iso, new_code, now_utc

FAMILY = fonts.FAMILY
FIELD = "LantaiSeal"
CREATOR = "Lantai certified copies (fpdf2)"
ISSUABLE = ("in_progress", "fulfilled")
TIMEZONE = "Asia/Shanghai"  # the date printed on the cover is the archive's date

# The words of the cover, read from the catalogs in the copy's language (not the browser's):
# a copy is made for a language the request names, whoever issues it. Contexts keep them
# apart from the pages' words of the same English (the cover's "Pages" is a count).
KINDS = {
    "transcript": ui_ptext("certified", "Academic transcript"),
    "graduation": ui_ptext("certified", "Graduation certificate"),
    "degree": ui_ptext("certified", "Degree certificate"),
    "enrolment": ui_ptext("certified", "Enrolment record"),
    "other": ui_ptext("certified", "Other records"),
}
WORDS: dict[str, UIText] = {
    "title": ui_ptext("cover", "Certified Copy of Archival Records"),
    "number": ui_ptext("cover", "Request number"),
    "what": ui_ptext("cover", "Certified"),
    "date": ui_ptext("cover", "Date of issue"),
    "pages": ui_ptext("cover", "Pages"),
    "code": ui_ptext("cover", "Verification code"),
    "refcode": ui_ptext("cover", "Reference code"),
    "record": ui_ptext("cover", "Title"),
    "count": ui_ptext("cover", "Pages"),
    "statement": ui_ptext("cover", "This is to certify that the attached pages (%(n)s in all) "
                          "are true copies of records held by %(archive)s. This document is "
                          "signed electronically with the archive's seal (a PAdES digital "
                          "signature); any change to it invalidates the signature. To verify "
                          "it, scan the QR code on any page or enter the code %(code)s at "
                          "%(base)s/verify."),
    "issuer": ui_ptext("cover", "Issued by %(archive)s"),
    "footer_code": ui_ptext("cover", "Verification code %(code)s"),
    "footer_page": ui_ptext("cover", "Page %(n)s of %(total)s"),
    "footer_verify": ui_ptext("cover", "Verify at %(base)s/verify"),
    "reason": ui_ptext("cover", "Certified copy"),
}


def _words(lang: str) -> dict[str, str]:
    """The cover's words in ``lang``, placeholders left for the caller to fill in."""
    return {key: text.in_lang(lang) for key, text in WORDS.items()}


@dataclass
class Part:
    """One selected record: its facts for the cover and the pages chosen from it."""

    iri: str
    refcode: str
    title: str
    pages: list[pages_mod.Page]


@dataclass
class Content:
    """Everything that goes into one copy (what :func:`build_pdf` lays out)."""

    request_id: str
    kind: str
    language: str
    code: str
    base: str
    archive: tuple[str, str]  # zh, en
    parts: list[Part]
    images: list[bytes]  # JPEG of each page, in order
    issued: dt.datetime
    seal_png: bytes


def PRODUCER() -> str:  # a constant, read late: pyHanko is imported only to sign
    """The producer: pyHanko's own name, because its signing update writes that name into
    the XMP ``pdf:Producer`` and appends it to the information dictionary's unless already
    there — any other value would leave the two different (PDF/A 6.6.3)."""
    from pyhanko.pdf_utils.metadata.model import VENDOR

    return VENDOR


# ---------------------------------------------------------------------- readiness
def ready(request: Request) -> list[str]:
    """What is missing before a copy of ``request`` can be issued (empty: nothing)."""
    missing = []
    if request.purged:
        missing.append("the request's personal data was purged")
    if request.status not in ISSUABLE:
        missing.append(f"the request is {request.status.replace('_', ' ')}; a copy is "
                       "issued for a request in progress")
    if not request.selections:
        missing.append("no records are selected for the copy")
    return missing


def issue_copy(store: RequestStore, repo: Repository, user: User, request_id: str,
               language: str, issued_by: str) -> Copy:
    """Make, sign and keep the certified copy of ``request_id`` in ``language``; returns
    the stored :class:`Copy`. Refused (Invalid, saying what is missing) for a request that
    is not :func:`ready`, or a language it did not ask for."""
    request = store.get(request_id)
    missing = ready(request)
    if language not in request.languages:
        missing.append(f"the request asked for {', '.join(request.languages)}, not "
                       f"{language!r}")
    if missing:
        raise Invalid("cannot issue a certified copy: " + "; ".join(missing))
    parts = selected_parts(repo, user, request, language)
    chosen = [p for part in parts for p in part.pages]
    for page in chosen:
        pages_mod.check_page(repo, user, page)
    with FileStore.for_site(repo.home) as files:
        images = render_pages(files, chosen)
    settings = read_settings(repo.home)
    code = new_code()
    content = Content(request_id=request.id, kind=request.kind, language=language, code=code,
                      base=repo.base, archive=(settings.site_name_zh, settings.site_name_en),
                      parts=parts, images=images, issued=now_utc(),
                      seal_png=seal_image(repo.home, settings))
    unsigned = build_pdf(content)
    signed, signed_at, subject = sign(unsigned, repo.home, settings, code, language)
    issued = Copy(code=code, request_id=request.id, language=language,
                  sha256=hashlib.sha256(signed).hexdigest(), pages=1 + len(images),
                  records=[{"iri": p.iri, "refcode": p.refcode, "title": p.title}
                           for p in parts],
                  signed_at=signed_at, signer=subject, issued_by=issued_by)
    store.add_copy(issued, signed)
    return issued


def selected_parts(repo: Repository, user: User, request: Request,
                   language: str) -> list[Part]:
    """The request's selections as records with their chosen pages (all, if none named);
    a page number the record does not have is Invalid."""
    parts = []
    for sel in request.selections:
        try:
            record = repo.get(user, sel.record)
        except NotFound:
            raise Invalid(f"selected record {sel.record} is gone or not visible to "
                          f"{user.name}") from None
        every = pages_mod.record_pages(repo, user, record.iri)
        if not every:
            raise Invalid(f"{record.path} has no page images to copy")
        if sel.pages:
            wrong = [n for n in sel.pages if not 1 <= n <= len(every)]
            if wrong:
                raise Invalid(f"{record.path} has {len(every)} page(s); page {wrong[0]} "
                              "is not one of them")
            chosen = [every[n - 1] for n in sel.pages]
        else:
            chosen = every
        refcode = str((record.fields(repo.base).get("refcode") or [""])[0])
        parts.append(Part(iri=record.iri, refcode=refcode, title=record.title(language),
                          pages=chosen))
    return parts


def render_pages(files: FileStore, pages: Sequence[pages_mod.Page]) -> list[bytes]:
    """Each page at print size, two at a time (libvips releases the GIL); a sealed original
    is decrypted to a temporary copy only while its page is rendered."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda p: pages_mod.original_jpeg(files, p), pages))


# ---------------------------------------------------------------------- the seal image
_seal_cache: dict[tuple, bytes] = {}


def seal_image(home: Path, settings: Settings) -> bytes:
    """The seal printed on the cover: ``{home}/signing/seal.png`` flattened on white (a PDF/A
    page has no transparency), else a round red seal drawn with the archive's name."""
    own = signing.folder(home) / "seal.png"
    if own.is_file():
        return _flatten(own.read_bytes())
    key = (settings.site_name_zh, settings.site_name_en)
    if key not in _seal_cache:
        _seal_cache[key] = _draw_seal(settings.site_name_zh)
    return _seal_cache[key]


def _flatten(data: bytes) -> bytes:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            if im.width * im.height > 4_000_000:
                raise Invalid("signing/seal.png: keep the seal image under 2000 × 2000")
            rgba = im.convert("RGBA")
    except (OSError, ValueError) as exc:
        raise Invalid(f"signing/seal.png: not an image ({exc})") from None
    out = Image.new("RGB", rgba.size, "white")
    out.paste(rgba, mask=rgba.getchannel("A"))
    buf = io.BytesIO()
    out.save(buf, "PNG")
    return buf.getvalue()


def _draw_seal(name: str, size: int = 600) -> bytes:
    """A round seal: a red ring, the archive's name along the top, a star, and
    档案证明专用章 below it."""
    import math

    from PIL import Image, ImageDraw, ImageFont

    red = (200, 16, 30)
    path, face = fonts.font_file()
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    c = size / 2
    draw.ellipse((12, 12, size - 12, size - 12), outline=red, width=18)
    # the star
    r_out, r_in = size * 0.16, size * 0.064
    points = []
    for k in range(10):
        r = r_out if k % 2 == 0 else r_in
        a = -math.pi / 2 + k * math.pi / 5
        points.append((c + r * math.cos(a), c + r * math.sin(a)))
    draw.polygon(points, fill=red)
    # the name along the top arc, each character turned to face the centre
    text = name[:16]
    font = ImageFont.truetype(str(path), int(size * 0.11), index=face)
    span = math.radians(min(250, 24 * len(text)))
    radius = size * 0.36
    for k, ch in enumerate(text):
        a = -math.pi / 2 - span / 2 + (span * (k + 0.5) / len(text))
        tile = Image.new("L", (int(size * 0.14), int(size * 0.14)), 0)
        ImageDraw.Draw(tile).text((tile.width / 2, tile.height / 2), ch, font=font,
                                  fill=255, anchor="mm")
        tile = tile.rotate(-math.degrees(a) - 90, resample=Image.Resampling.BICUBIC)
        x, y = c + radius * math.cos(a), c + radius * math.sin(a)
        img.paste(Image.new("RGB", tile.size, red),
                  (int(x - tile.width / 2), int(y - tile.height / 2)), tile)
    small = ImageFont.truetype(str(path), int(size * 0.06), index=face)
    draw.text((c, c + size * 0.27), "档案证明专用章", font=small, fill=red, anchor="mm")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


# ---------------------------------------------------------------------- the PDF
def _local_date(when: dt.datetime, language: str) -> str:
    try:
        from zoneinfo import ZoneInfo

        when = when.astimezone(ZoneInfo(TIMEZONE))
    except (ImportError, KeyError, ValueError):
        pass
    return human_date(when.date().isoformat(), language) or when.date().isoformat()


def build_pdf(content: Content) -> bytes:
    """The unsigned PDF/A-2b document: cover and pages, each page with its footer. Laid
    out with the fastest font first (:func:`fonts.sources`); laid out again with the full
    font if that one lacked a character of the text."""
    for source in fonts.sources():
        pdf, font = _layout(content, source)
        try:
            if not font.missing_glyphs or source == fonts.font_file():
                return bytes(pdf.output())
        finally:
            font.ttfont.close()  # each document opened the font file for itself
    raise LantaiError("no font to lay out the copy with")  # the full font is always last


def _layout(content: Content, source: tuple[Path, int]) -> tuple[Any, Any]:
    from fpdf import FPDF
    from fpdf.enums import OutputIntentSubType
    from fpdf.output import PDFICCProfile

    lang = content.language
    words = _words(lang)
    zh, en = content.archive
    archive = zh if lang == "zh" else en
    total = 1 + len(content.images)
    title = f"{words['title']} {content.code}"

    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(18, 18, 18)
    font = fonts.add_font(pdf, source)
    pdf.set_lang(lang)
    pdf.set_title(title)
    pdf.set_author(archive)
    pdf.set_subject(f"{KINDS[content.kind].in_lang(lang)} — {content.request_id}")
    pdf.allow_images_transparency = False  # no transparency group on pages (PDF/A: none)
    pdf.set_creator(CREATOR)
    pdf.set_producer(PRODUCER())
    pdf.set_creation_date(content.issued)
    pdf.set_xmp_metadata(pdfa.xmp(
        title=title, author=archive,
        subject=f"{KINDS[content.kind].in_lang(lang)} — {content.request_id}",
        creator_tool=CREATOR, producer=PRODUCER(), created=content.issued))
    pdf.add_output_intent(OutputIntentSubType.PDFA, "sRGB IEC61966-2.1",
                          "sRGB IEC61966-2.1", "http://www.color.org",
                          PDFICCProfile(pdfa.srgb_profile(), 3, "DeviceRGB"),
                          "sRGB IEC61966-2.1")
    pdf.file_id = lambda: -1  # type: ignore[method-assign]  # fpdf2's default: an /ID from the content
    qr = _qr_runs(f"{content.base}/verify?code={content.code}")

    _cover(pdf, content, words, archive)
    _footer(pdf, content, words, qr, 1, total)
    n = 1
    for part in content.parts:
        for _page in part.pages:
            jpeg = content.images[n - 1]
            n += 1
            _page_image(pdf, jpeg)
            _footer(pdf, content, words, qr, n, total)
    return pdf, font


def _cover(pdf: Any, content: Content, words: dict[str, str], archive: str) -> None:
    lang = content.language
    zh, en = content.archive
    pdf.add_page()
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(FAMILY, size=20)
    pdf.set_y(22)
    pdf.cell(0, 10, zh, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=12)
    pdf.cell(0, 7, en, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font(FAMILY, size=18)
    pdf.cell(0, 11, words["title"], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pages = len(content.images)
    facts = [(words["number"], content.request_id),
             (words["what"], KINDS[content.kind].in_lang(lang)),
             (words["date"], _local_date(content.issued, lang)),
             (words["pages"], str(pages)),
             (words["code"], content.code)]
    pdf.set_font(FAMILY, size=11)
    for label, value in facts:
        pdf.set_x(pdf.l_margin)
        pdf.cell(42, 7.5, label)
        pdf.cell(0, 7.5, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)
    pdf.set_font(FAMILY, size=10)
    with pdf.table(col_widths=(48, 104, 22), text_align=("LEFT", "LEFT", "RIGHT"),
                   line_height=6, first_row_as_headings=True,
                   headings_style=_heading_style()) as table:
        table.row([words["refcode"], words["record"], words["count"]])
        for part in content.parts:
            table.row([part.refcode or "—", part.title, str(len(part.pages))])
    pdf.ln(7)
    pdf.set_font(FAMILY, size=11)
    pdf.multi_cell(0, 6.5, words["statement"] % {
        "n": pages, "archive": archive, "base": content.base, "code": content.code},
        new_x="LMARGIN", new_y="NEXT")
    seal_mm = 42
    y = max(pdf.get_y() + 8, 190)
    y = min(y, pdf.h - 28 - seal_mm)
    pdf.image(io.BytesIO(content.seal_png), x=pdf.w - pdf.r_margin - seal_mm - 6, y=y,
              w=seal_mm, h=seal_mm)
    pdf.set_xy(pdf.l_margin, y + seal_mm / 2 - 7)
    pdf.cell(pdf.epw - seal_mm - 12, 7, words["issuer"] % {"archive": archive},
             align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(pdf.l_margin)
    pdf.cell(pdf.epw - seal_mm - 12, 7, _local_date(content.issued, lang), align="R")


def _heading_style() -> Any:
    from fpdf.fonts import FontFace

    return FontFace(emphasis="", fill_color=(235, 235, 235))


def _page_image(pdf: Any, jpeg: bytes) -> None:
    """A new page (landscape for a landscape scan) with the scan fitted above the footer."""
    from PIL import Image

    with Image.open(io.BytesIO(jpeg)) as im:
        w_px, h_px = im.size
    pdf.add_page(orientation="L" if w_px > h_px else "P")
    box_w, box_h = pdf.w - 20, pdf.h - 10 - 26
    scale = min(box_w / w_px, box_h / h_px)
    w, h = w_px * scale, h_px * scale
    pdf.image(io.BytesIO(jpeg), x=(pdf.w - w) / 2, y=10, w=w, h=h)


def _footer(pdf: Any, content: Content, words: dict[str, str],
            qr: tuple[int, list[tuple[int, int, int]]], n: int, total: int) -> None:
    """Code, verification address, page n of N, and the QR code, at the foot of the page."""
    size = 16.0
    x0, y0 = pdf.w - 10 - size, pdf.h - 7 - size
    modules, runs = qr
    unit, k = size / modules, pdf.k
    # one path of rectangles filled at once: 21 pages × ~300 runs through pdf.rect() cost
    # more than the rest of the page
    ops = [f"{(x0 + start * unit) * k:.2f} {(pdf.h - y0 - (row + 1) * unit) * k:.2f} "
           f"{length * unit * k:.2f} {unit * k:.2f} re" for row, start, length in runs]
    pdf._out("q 0 g " + " ".join(ops) + " f Q")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(FAMILY, size=8)
    lines = [words["footer_code"] % {"code": content.code},
             words["footer_verify"] % {"base": content.base},
             words["footer_page"] % {"n": n, "total": total}]
    y = pdf.h - 7 - size + 1
    for line in lines:
        pdf.set_xy(10, y)
        pdf.cell(pdf.w - 30 - size, 4.6, line)
        y += 4.8


_qr_cache: dict[str, tuple[int, list[tuple[int, int, int]]]] = {}


def _qr_runs(url: str) -> tuple[int, list[tuple[int, int, int]]]:
    """The QR code (segno, error correction M, quiet zone of 2) as horizontal runs of dark
    modules: drawn as filled rectangles, vector and crisp at any print size, no image."""
    import segno

    qr = segno.make(url, error="m", micro=False)
    runs = []
    matrix = [list(row) for row in qr.matrix_iter(scale=1, border=2)]
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                runs.append((y, start, x - start))
            else:
                x += 1
    return len(matrix), runs


# ---------------------------------------------------------------------- signing
def sign(data: bytes, home: Path, settings: Settings, code: str,
         language: str, *, reason: str | None = None) -> tuple[bytes, str, str]:
    """Sign ``data`` as the archive: returns the signed PDF, when it was signed (ISO 8601
    UTC) and the signer's subject. The code goes into the document information first, in
    the signed revision (none for a document without one: ``""``). ``reason``: the
    signature's reason, if the document is not a certified copy (a growth record,
    services.growth.pdf); a copy's is "Certified copy CODE" in ``language``."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import fields, signers, timestamps
    from pyhanko.sign.fields import MDPPerm

    site = signing.load_signer(home)
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    info_ref = writer.trailer.raw_get("/Info")
    if code:
        info = info_ref.get_object()
        info[generic.NameObject("/LantaiCode")] = generic.TextStringObject(code)
        writer.mark_update(info_ref)
    tsa = settings.signing_tsa_url
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason or f"{WORDS['reason'].in_lang(language)} {code}", certify=True,
        docmdp_permissions=MDPPerm.NO_CHANGES,
        embed_validation_info=bool(tsa),
        validation_context=_validation_context(home) if tsa else None)
    timestamper = timestamps.HTTPTimeStamper(tsa, timeout=20) if tsa else None
    signer = signers.PdfSigner(meta, site.signer, timestamper=timestamper,
                               new_field_spec=fields.SigFieldSpec(FIELD))
    try:
        out = signer.sign_pdf(writer, output=io.BytesIO())
    except Exception as exc:  # pyHanko raises many kinds: a TSA down, a chain it cannot build
        if isinstance(exc, LantaiError):
            raise
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise LantaiError(f"signing failed: {reason}") from None
    signed = out.getvalue()
    sig = PdfFileReader(io.BytesIO(signed)).embedded_signatures[0]
    when = sig.self_reported_timestamp or now_utc()
    return signed, iso(when), site.subject


def _validation_context(home: Path) -> Any:
    """What pyHanko needs to collect validation data for B-LT: the site's trust roots on top
    of the system's (a timestamp authority chains to a public root); revocation checked
    where the certificates say how, without failing when they do not (a local CA has no
    CRL)."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator import ValidationContext

    roots = [asn1_x509.Certificate.load(pem.unarmor(r)[2]) for r in signing.trust_roots(home)]
    return ValidationContext(extra_trust_roots=roots, allow_fetching=True,
                             revocation_mode="soft-fail")


__all__ = ["Content", "Part", "build_pdf", "issue_copy", "ready", "seal_image", "sign"]
