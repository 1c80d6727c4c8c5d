"""The CJK font of certified copies, made fast for the second copy and every one after.

The copy embeds Noto Serif CJK SC (fonts-noto-cjk): every glyph a cover or footer may need,
Chinese and Latin, in one font, and PDF/A wants every font embedded. The font has 65,535
glyphs in one CFF table, and that is what costs time in fpdf2: parsing its character map
and widths (~0.7 s), and, at output, subsetting it with fontTools (~1.2 s on a quiet
machine, 2–3 s under load), because reading and subsetting a CFF table is proportional to
all its glyphs, not to the hundred a copy uses. Two caches take most of it away:

1. **per process**: the parsed font (character map, widths, glyph ids) is kept and shared
   by every document; each document gets its own lazily read font file and subset map, the
   two things fpdf2 changes while it writes one (:func:`add_font`);
2. **per machine, on disk**: a *reduced* font, the same face cut down once to the
   characters of GB 2312 (6,763 hanzi and its symbols), Latin-1, Latin Extended-A,
   general punctuation, CJK symbols and full-width forms (~7,900 glyphs), its outlines
   converted to TrueType (:func:`_to_truetype`). Subsetting that per document costs a
   tenth. It is made in a background thread the first time a copy is made (cutting and
   converting takes 30–60 s, so the copies meanwhile use the full font), kept under
   ``$LANTAI_CACHE`` or ``~/.cache/lantai/fonts/`` with the source font's size and time in
   its name, and replaced atomically. A copy whose text has a
   character outside it (a rare character in a name) is made with the full font: the
   same glyphs, only slower (:func:`services.requests.certify.build_pdf`).
"""

from __future__ import annotations

import copy
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from repo.errors import LantaiError

FONT_DIRS = (Path("/usr/share/fonts/opentype/noto"), Path("/usr/share/fonts/noto-cjk"),
             Path("/usr/share/fonts/google-noto-cjk"))
FONT_FILES = ("NotoSerifCJK-Regular.ttc", "NotoSansCJK-Regular.ttc")
FONT_FACE = "SC"  # simplified Chinese glyph forms, of the collection's faces
FAMILY = "cjk"
REDUCED_VERSION = "gb2312-ttf-v2"

_lock = threading.Lock()
_protos: dict[str, Any] = {}
_building: set[str] = set()


def font_file() -> tuple[Path, int]:
    """The full CJK font and its SC face's index; LantaiError if fonts-noto-cjk is not
    installed (a copy cannot be made without it)."""
    for folder in FONT_DIRS:
        for name in FONT_FILES:
            path = folder / name
            if path.is_file():
                return path, _face_index(path)
    raise LantaiError("no CJK font for certified copies: install fonts-noto-cjk "
                      f"({FONT_FILES[0]} in {FONT_DIRS[0]})")


_faces: dict[str, int] = {}


def _face_index(path: Path) -> int:
    if str(path) not in _faces:
        from fontTools import ttLib

        found = 0
        collection = ttLib.TTCollection(str(path), lazy=True)
        try:
            for n, face in enumerate(collection.fonts):
                name = face["name"].getDebugName(1) or ""
                if name.endswith(f" {FONT_FACE}") and "Mono" not in name:
                    found = n
                    break
        finally:
            collection.close()
        _faces[str(path)] = found
    return _faces[str(path)]


# ---------------------------------------------------------------------- the reduced font
def repertoire() -> set[int]:
    """The characters the reduced font keeps."""
    chars = set(range(0x20, 0x7F)) | set(range(0xA0, 0x180)) | set(range(0x2010, 0x2070))
    chars |= set(range(0x3000, 0x3040)) | set(range(0xFF00, 0xFFF0)) | {0x2116, 0x25CF}
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(ord(bytes((hi, lo)).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return chars


def cache_dir() -> Path:
    named = os.environ.get("LANTAI_CACHE")
    base = Path(named) if named else Path(os.environ.get(
        "XDG_CACHE_HOME", Path.home() / ".cache")) / "lantai"
    return base / "fonts"


def reduced_path(full: Path, face: int) -> Path:
    st = full.stat()
    return cache_dir() / f"{full.stem}-{face}-{REDUCED_VERSION}-{st.st_size}-" \
                         f"{int(st.st_mtime)}.ttf"


def build_reduced(full: Path, face: int, target: Path) -> None:
    """Cut the full font down to :func:`repertoire` and write it to ``target``."""
    from fontTools import subset, ttLib

    font = ttLib.TTFont(str(full), fontNumber=face, lazy=True, recalcTimestamp=False)
    options = subset.Options(notdef_outline=True, recommended_glyphs=True)
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "JSTF", "VORG", "vhea", "vmtx",
                            "DSIG"]
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=repertoire())
    subsetter.subset(font)
    _to_truetype(font)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".reduced-", suffix=".ttf")
    try:
        with os.fdopen(fd, "wb") as fh:
            font.save(fh)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _to_truetype(font: Any) -> None:
    """Replace the CFF outlines by TrueType ones (cubic curves approximated by quadratic
    ones within one font unit, fontTools' cu2qu). Subsetting a ``glyf`` font per document
    is a table copy; subsetting CFF interprets charstrings and their subroutines: 0.2–0.3 s
    instead of 1.5–2.5 s for a cover and 20 footers, measured under load."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyphs)
        glyphs[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf[name] = pen.glyph()
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for attr in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                 "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, attr, 0)
    maxp.maxZones = 1
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = order
    font["head"].indexToLocFormat = 0
    font["head"].glyphDataFormat = 0
    for table in ("CFF ", "VORG"):
        if table in font:
            del font[table]
    font.sfntVersion = "\x00\x01\x00\x00"


def reduced_font(*, build: bool = True) -> tuple[Path, int] | None:
    """The reduced font if it is made; else None, and (with ``build``) it is made in a
    background thread for the copies after this one."""
    full, face = font_file()
    target = reduced_path(full, face)
    if target.is_file():
        return target, 0
    if build:
        with _lock:
            if str(target) not in _building:
                _building.add(str(target))
                threading.Thread(target=_build_quietly, args=(full, face, target),
                                 name="lantai-reduced-font", daemon=True).start()
    return None


def _build_quietly(full: Path, face: int, target: Path) -> None:
    try:
        build_reduced(full, face, target)
    except Exception:  # a cache: the copies go on with the full font
        with _lock:
            _building.discard(str(target))


def wait_for_reduced(timeout: float = 120.0) -> bool:
    """For benchmarks and tests: wait until the reduced font is there (building it here if
    no thread is)."""
    import time

    full, face = font_file()
    target = reduced_path(full, face)
    deadline = time.monotonic() + timeout
    if not target.is_file() and str(target) not in _building:
        build_reduced(full, face, target)
    while not target.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    return target.is_file()


# ---------------------------------------------------------------------- into a document
def sources() -> list[tuple[Path, int]]:
    """The fonts to try, fastest first: the reduced one if it is made, then the full one."""
    reduced = reduced_font()
    return [*([reduced] if reduced else []), font_file()]


def add_font(pdf: Any, source: tuple[Path, int]) -> Any:
    """Give ``pdf`` the font ``source`` as :data:`FAMILY`: parsed once per process and
    shared, with the document's own font file and subset map. Returns the document's font
    (its ``missing_glyphs`` lists the characters the font lacked)."""
    from fontTools import ttLib
    from fpdf import FPDF
    from fpdf.fonts import SubsetMap

    path, face = source
    proto: Any
    with _lock:
        proto = _protos.get(f"{path}#{face}")
        if proto is None:
            scratch = FPDF()
            scratch.add_font(FAMILY, "", str(path), collection_font_number=face)
            proto = _protos[f"{path}#{face}"] = scratch.fonts[FAMILY]
    font: Any = copy.copy(proto)
    # recalcBBoxes=False: fpdf2 saves the subset, and recalculating the bounding boxes draws
    # every glyph kept (half the time of the save); the full font's boxes still bound them
    font.ttfont = ttLib.TTFont(str(path), recalcTimestamp=False, recalcBBoxes=False,
                               fontNumber=face, lazy=True)
    font.subset = SubsetMap(font)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font._hbfont = None
    font.i = len(pdf.fonts) + 1
    pdf.fonts[FAMILY] = font
    if font.is_cff and font.is_cid_keyed:
        pdf._set_min_pdf_version("1.6")
    return font


__all__ = ["FAMILY", "add_font", "font_file", "reduced_font", "sources", "wait_for_reduced"]
