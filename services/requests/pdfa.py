"""PDF/A-2b for certified copies: what the document needs, and our own check of it.

veraPDF (the reference validator) is not available here, so the copy is made to meet the
parts of ISO 19005-2 level B that a generator controls, and :func:`problems` checks those
parts on the finished, signed file (tests run it with ``qpdf --check`` and ``pdffonts``;
docs/requests.md says which clauses are covered and which are not):

- header ``%PDF-1.x`` followed by a comment line of four bytes ≥ 128 (6.1.2);
- a file identifier ``/ID`` in the trailer (6.1.3); no ``/Encrypt`` (6.1.3);
- XMP metadata, an uncompressed stream, declaring ``pdfaid:part`` 2 and
  ``pdfaid:conformance`` B (6.6.2, 6.6.4), its dc/xmp/pdf properties equal to the
  document information dictionary's entries (6.6.3);
- an OutputIntent ``/GTS_PDFA1`` with an embedded RGB ICC profile (sRGB, from Pillow's
  ImageCms) for the DeviceRGB images and text (6.2.3);
- every font embedded (6.2.11.4): a ``FontFile``/``FontFile2``/``FontFile3`` in each
  descriptor;
- no transparency (soft masks, constant alpha below 1, transparency groups: level B
  allows them, but a copy has no use for them and they are where printing goes wrong);
- no JavaScript or actions that run (6.5, 6.6.1): no ``/JS``, ``/JavaScript``, ``/AA``,
  ``/Launch``; no embedded files; interpolation off on images (6.2.8);
- annotations (the signature's widget) printable, not hidden, with an appearance unless
  the rectangle is empty (6.3.2, 6.3.3).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
}


def xmp(*, title: str, author: str, subject: str, creator_tool: str, producer: str,
        created: dt.datetime) -> str:
    """The XMP packet body (fpdf2 adds the ``<?xpacket?>`` wrapper) with the PDF/A-2b
    identification and the same values as the information dictionary."""
    when = created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    e = escape
    return f"""<x:xmpmeta xmlns:x="adobe:ns:meta/">
<rdf:RDF xmlns:rdf="{NS['rdf']}">
<rdf:Description rdf:about="" xmlns:pdfaid="{NS['pdfaid']}">
<pdfaid:part>2</pdfaid:part>
<pdfaid:conformance>B</pdfaid:conformance>
</rdf:Description>
<rdf:Description rdf:about="" xmlns:dc="{NS['dc']}">
<dc:format>application/pdf</dc:format>
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{e(title)}</rdf:li></rdf:Alt></dc:title>
<dc:creator><rdf:Seq><rdf:li>{e(author)}</rdf:li></rdf:Seq></dc:creator>
<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{e(subject)}</rdf:li></rdf:Alt>
</dc:description>
</rdf:Description>
<rdf:Description rdf:about="" xmlns:xmp="{NS['xmp']}">
<xmp:CreatorTool>{e(creator_tool)}</xmp:CreatorTool>
<xmp:CreateDate>{when}</xmp:CreateDate>
<xmp:ModifyDate>{when}</xmp:ModifyDate>
<xmp:MetadataDate>{when}</xmp:MetadataDate>
</rdf:Description>
<rdf:Description rdf:about="" xmlns:pdf="{NS['pdf']}">
<pdf:Producer>{e(producer)}</pdf:Producer>
</rdf:Description>
</rdf:RDF>
</x:xmpmeta>"""


_SRGB: bytes | None = None


def srgb_profile() -> bytes:
    """An sRGB ICC profile (made by LittleCMS through Pillow), for the OutputIntent."""
    global _SRGB
    if _SRGB is None:
        from PIL import ImageCms

        _SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return _SRGB


# ---------------------------------------------------------------------- checking
def problems(data: bytes) -> list[str]:
    """What keeps ``data`` from being the PDF/A-2b we make (empty: nothing found)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.reader import PdfFileReader

    found: list[str] = []
    if not re.match(rb"%PDF-1\.[4-7]\r?\n%[\x80-\xff]{4}", data[:32]):
        found.append("header: %PDF-1.4…1.7 and a binary comment line are required")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
    except Exception as exc:  # a file pyHanko cannot read is not PDF/A either
        return [*found, f"unreadable: {exc}"]
    trailer = reader.trailer
    if _entry(trailer, "/Encrypt") is not None:
        found.append("encrypted")
    ids = _entry(trailer, "/ID")
    if not isinstance(ids, generic.ArrayObject) or len(ids) != 2:
        found.append("trailer: no file identifier /ID")
    root = reader.root
    found += _check_metadata(root, trailer)
    found += _check_output_intent(root)
    found += _walk(root)
    return found


def _get(d, key: str, default=None):
    """``d[key]`` with indirect references followed, or ``default``."""
    try:
        return d[key] if key in d else default  # noqa: SIM401 (get() does not follow refs)
    except KeyError:
        return default


def _entry(trailer, key: str):
    """A trailer entry or None (pyHanko's trailer is not a plain dictionary)."""
    try:
        return trailer[key]
    except KeyError:
        return None


def _text(value: object) -> str:
    return str(value) if value is not None else ""


def _check_metadata(root, trailer) -> list[str]:
    meta = _get(root, "/Metadata")
    if meta is None:
        return ["catalog: no XMP /Metadata"]
    if "/Filter" in meta:
        return ["XMP metadata stream is compressed"]
    try:
        tree = ET.fromstring(meta.data)
    except ET.ParseError as exc:
        return [f"XMP metadata: not XML ({exc})"]
    out: list[str] = []

    def prop(path: str) -> str | None:
        """A property written as an element or, in RDF's short form (pyHanko's), as an
        attribute of an ``rdf:Description``."""
        node = tree.find(f".//{path}", NS)
        if node is not None:
            li = node.find(".//rdf:li", NS)
            return (li.text if li is not None else node.text) or ""
        prefix, local = path.split(":")
        for desc in tree.iter(f"{{{NS['rdf']}}}Description"):
            value = desc.get(f"{{{NS[prefix]}}}{local}")
            if value is not None:
                return value
        return None

    if prop("pdfaid:part") != "2" or prop("pdfaid:conformance") != "B":
        out.append("XMP: pdfaid part 2 conformance B is not declared")
    info = _entry(trailer, "/Info")
    if info is None:
        return out
    pairs = {"/Title": "dc:title", "/Author": "dc:creator", "/Subject": "dc:description",
             "/Creator": "xmp:CreatorTool", "/Producer": "pdf:Producer"}
    for key, path in pairs.items():
        if key in info and _text(info[key]) != (prop(path) or ""):
            out.append(f"Info {key} {_text(info[key])!r} differs from XMP {path} "
                       f"{prop(path)!r}")
    for key, path in (("/CreationDate", "xmp:CreateDate"), ("/ModDate", "xmp:ModifyDate")):
        if key in info:
            when = _pdf_date(_text(info[key]))
            if when is None or when != _xmp_date(prop(path) or ""):
                out.append(f"Info {key} {_text(info[key])!r} differs from XMP {path} "
                           f"{prop(path)!r}")
    return out


def _pdf_date(text: str) -> dt.datetime | None:
    m = re.match(r"D:(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(Z|[+-]\d{2}'?\d{2}'?)?", text)
    if m is None:
        return None
    y, mo, d, h, mi, sec = (int(m[i]) for i in range(1, 7))
    when = dt.datetime(y, mo, d, h, mi, sec, tzinfo=dt.UTC)
    tz = (m[7] or "Z").replace("'", "")
    if tz not in ("Z", "Z0000") and len(tz) >= 5:
        sign = 1 if tz[0] == "+" else -1
        when -= sign * dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5]))
    return when


def _xmp_date(text: str) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(dt.UTC) if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _check_output_intent(root) -> list[str]:
    intents = _get(root, "/OutputIntents")
    for intent in intents or ():
        intent = intent.get_object()
        if str(_get(intent, "/S")) == "/GTS_PDFA1":
            profile = _get(intent, "/DestOutputProfile")
            if profile is None:
                return ["OutputIntent: no embedded ICC profile"]
            if int(_get(profile.get_object(), "/N", 0)) != 3:
                return ["OutputIntent: the ICC profile is not RGB"]
            return []
    return ["catalog: no PDF/A OutputIntent (/GTS_PDFA1)"]


_FORBIDDEN = {"/JS": "JavaScript", "/JavaScript": "JavaScript", "/AA": "an automatic action",
              "/Launch": "a launch action", "/EmbeddedFiles": "embedded files",
              "/SMask": "a soft mask (transparency)", "/OPI": "OPI"}


def _walk(root) -> list[str]:
    """Every object reachable from the catalog, once: fonts, images, annotations, actions."""
    from pyhanko.pdf_utils import generic

    out: list[str] = []
    seen: set[tuple[int, int]] = set()
    todo: list[object] = [root]
    while todo:
        obj = todo.pop()
        if isinstance(obj, generic.IndirectObject):
            ref = (obj.idnum, obj.generation)
            if ref in seen:
                continue
            seen.add(ref)
            obj = obj.get_object()
        if isinstance(obj, generic.ArrayObject):
            todo.extend(list(obj))
            continue
        if not isinstance(obj, generic.DictionaryObject):
            continue
        for key, what in _FORBIDDEN.items():
            if key in obj and not (key == "/SMask" and str(obj.raw_get(key)) == "/None"):
                out.append(f"{what} ({key})")
        if str(_get(obj, "/S", "")) in ("/JavaScript", "/Launch") or \
                str(_get(obj, "/S", "")) == "/Transparency":
            out.append(f"{obj.get('/S')} in a dictionary")
        for alpha in ("/CA", "/ca"):
            if alpha in obj and float(obj[alpha]) < 1:
                out.append(f"constant alpha {alpha} {obj[alpha]} (transparency)")
        if _get(obj, "/Interpolate") is True or str(_get(obj, "/Interpolate")) == "True":
            out.append("image interpolation")
        if str(_get(obj, "/Type", "")) == "/FontDescriptor" and not any(
                k in obj for k in ("/FontFile", "/FontFile2", "/FontFile3")):
            out.append(f"font {obj.get('/FontName')} is not embedded")
        if str(_get(obj, "/Type", "")) == "/Font" and str(_get(obj, "/Subtype")) in (
                "/Type1", "/TrueType") and "/FontDescriptor" not in obj:
            out.append(f"font {obj.get('/BaseFont')} is not embedded")
        if str(_get(obj, "/Type", "")) == "/Annot" or str(
                _get(obj, "/Subtype", "")) in ("/Widget", "/Link", "/Text"):
            out += _check_annot(obj)
        for key in obj:
            if key in ("/Parent", "/P"):  # back links: their targets are reached anyway
                continue
            todo.append(obj.raw_get(key))
    return out


def _check_annot(annot) -> list[str]:
    flags = int(_get(annot, "/F", 0))
    out = []
    if not flags & 4 or flags & 0b100010:  # Print set; Hidden (2) and NoView (32) clear
        out.append(f"annotation {annot.get('/Subtype')} is not printable or is hidden")
    rect = [float(v) for v in _get(annot, "/Rect", [0, 0, 0, 0])]
    empty = rect[2] - rect[0] == 0 and rect[3] - rect[1] == 0
    if not empty and "/AP" not in annot and str(_get(annot, "/Subtype")) != "/Popup":
        out.append(f"annotation {annot.get('/Subtype')} has no appearance")
    return out


__all__ = ["problems", "srgb_profile", "xmp"]
