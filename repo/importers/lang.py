"""Which language a piece of imported text is in.

EAD 2002 has no language attribute on titles or paragraphs, yet bilingual finding aids are
everyday work here. So the language of a text is, in order: what the element (or an
ancestor) says (``xml:lang``, ``@lang``, ``@langcode`` or ``@altrender`` holding a language
code, which is how Lantai's own export marks it), the finding aid's language of
description (``langusage``), the language of the material (``langmaterial``), and finally
the script the text is written in. A candidate is only taken when the text fits it the way
the profile checks it (Chinese text must have Han characters, English text Latin letters),
so a wrong hint cannot make an import fail; text with no letters at all is ``zxx`` (no
linguistic content: "1957-1960", "20160114/1").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ontology.mappings import load
from repo.errors import Invalid
from repo.values import CJK, LANG_TAG, LATIN, check_script

KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LETTER = re.compile(r"[^\W\d_]")
NO_TEXT = "zxx"

# language names some systems write instead of codes
_NAMES = {"chinese": "zh", "中文": "zh", "汉语": "zh", "漢語": "zh", "english": "en",
          "英文": "en", "英语": "en", "japanese": "ja", "日文": "ja", "日本語": "ja",
          "日语": "ja", "french": "fr", "français": "fr", "korean": "ko", "韩文": "ko"}


def normalise(code: str | None) -> str | None:
    """A language code or name as a BCP 47 tag (``chi``/``zho`` → ``zh``), else None."""
    if not code:
        return None
    code = code.strip()
    low = code.lower().replace("_", "-")
    if low in _NAMES:
        return _NAMES[low]
    table = load("ead2002")["languages"]
    primary, _, rest = low.partition("-")
    if primary in table:
        primary = table[primary]
    elif not re.fullmatch(r"[a-z]{2,3}", primary):
        return None
    tag = primary + ("-" + rest if rest else "")
    return tag if LANG_TAG.match(tag) else None


def is_language_code(value: str | None) -> bool:
    """Is an @altrender (or similar) value a language code we know, not a rendering hint?"""
    if not value:
        return False
    low = value.strip().lower()
    table = load("ead2002")["languages"]
    primary = low.split("-")[0]
    return low in _NAMES or primary in table or primary in set(table.values())


def iso639_2(tag: str) -> str:
    """BCP 47 → ISO 639-2/B (``zh`` → ``chi``), for EAD @langcode."""
    primary = tag.split("-")[0].lower()
    if len(primary) == 3:
        return primary
    for code, two in load("ead2002")["languages"].items():
        if two == primary:
            return code  # the first listed is the bibliographic code
    return primary


def fits(text: str, tag: str) -> bool:
    """Would the profile accept ``text`` tagged ``tag``? (and kana is not Chinese)"""
    if not LETTER.search(text):
        return tag == NO_TEXT
    if tag == NO_TEXT:
        return False
    primary = tag.split("-")[0].lower()
    if primary == "zh" and (KANA.search(text) or HANGUL.search(text)) and not HAN.search(text):
        return False
    if primary == "zh" and KANA.search(text) and len(KANA.findall(text)) * 3 > len(
            HAN.findall(text)):
        return False  # a Japanese sentence: kana among the kanji
    try:
        check_script("text", text, tag)
    except Invalid:
        return False
    return True


def by_script(text: str, hints: Iterable[str] = ()) -> str:
    """The language a text's script suggests, preferring the hints that fit."""
    if not LETTER.search(text):
        return NO_TEXT
    hints = [h for h in hints if h]
    if KANA.search(text):
        return "ja"
    if HANGUL.search(text):
        return "ko"
    if CJK.search(text) and len(CJK.findall(text)) >= len(LATIN.findall(text)):
        for h in hints:
            if h.split("-")[0] in ("zh", "ja", "ko"):
                return h
        return "zh"
    for h in hints:
        if fits(text, h) and h.split("-")[0] not in ("zh", "ja", "ko"):
            return h
    return "en" if LATIN.search(text) else "und"


def choose(text: str, explicit: str | None, hints: Iterable[str]) -> tuple[str, bool]:
    """The tag for ``text``: the explicit one if it fits, else the first hint that fits,
    else from the script. The flag says an explicit tag was overruled."""
    hints = [h for h in hints if h]
    if explicit and fits(text, explicit):
        return explicit, False
    for h in hints:
        if fits(text, h):
            return h, bool(explicit)
    return by_script(text, hints), bool(explicit) and explicit != NO_TEXT
