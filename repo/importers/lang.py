"""Which language a piece of imported text is in.

EAD 2002 has no language attribute on titles or paragraphs, yet bilingual finding aids are
everyday work here. So the language of a text is, in order: what the element (or an
ancestor) says (``xml:lang``, ``@lang``, ``@langcode`` or ``@altrender`` holding a language
code, which is how Lantai's own export marks it), then the finding aid's languages of
description (``langusage``) whose script is the one the text is mostly written in, then
the script itself (Han → zh, kana → ja, hangul → ko, Latin → en, Tibetan → bo, Mongolian →
mn, Arabic → ug, Cyrillic → ru). The language of the *material* (``langmaterial``) is never
taken for the language of the description: an English description of Chinese letters is
English. A candidate is only taken when the text fits it the way the profile checks it, so
a wrong hint cannot make an import fail; text with no letters at all is ``zxx`` (no
linguistic content: "1957-1960", "20160114/1").

Codes are read and checked by ``repo.values`` (the langcodes registry): ISO 639-1, ISO
639-2/B and /T (``chi``/``zho``, ``tib``/``bod``, ``mon``, ``uig``) and BCP 47 tags.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import langcodes

from repo.errors import Invalid
from repo.values import check_script, iso639_2b, language_tag

KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LETTER = re.compile(r"[^\W\d_]")
NO_TEXT = "zxx"

# the scripts a text may be written in (ISO 15924), and the language a script alone suggests
# (this is a Chinese archive: Arabic script is Uyghur, Mongolian script is Mongolian)
SCRIPTS: dict[str, tuple[re.Pattern[str], str]] = {
    "Hani": (re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
                        r"\uf900-\ufaff\uac00-\ud7af\u1100-\u11ff]"), "zh"),
    "Latn": (re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]"), "en"),
    "Tibt": (re.compile(r"[\u0f00-\u0fff]"), "bo"),
    "Mong": (re.compile(r"[\u1800-\u18af]"), "mn"),
    "Arab": (re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]"), "ug"),
    "Cyrl": (re.compile(r"[\u0400-\u04ff]"), "ru"),
}
_CJK_LANGS = frozenset({"zh", "ja", "ko"})
_ALSO_WRITTEN_IN = {"mn": {"Mong"}, "ug": {"Arab", "Cyrl", "Latn"}}

# language names some systems write instead of codes
_NAMES = {"chinese": "zh", "中文": "zh", "汉语": "zh", "漢語": "zh", "english": "en",
          "英文": "en", "英语": "en", "japanese": "ja", "日文": "ja", "日本語": "ja",
          "日语": "ja", "french": "fr", "français": "fr", "korean": "ko", "韩文": "ko",
          "tibetan": "bo", "藏文": "bo", "藏语": "bo", "mongolian": "mn", "蒙古文": "mn",
          "蒙古语": "mn", "uyghur": "ug", "uighur": "ug", "维吾尔文": "ug", "维吾尔语": "ug"}


def normalise(code: str | None) -> str | None:
    """A language code or name as a BCP 47 tag (``chi``/``zho`` → ``zh``, ``tib`` → ``bo``),
    else None (an unknown code such as ``xyz`` is not a language)."""
    if not code:
        return None
    low = code.strip().lower().replace("_", "-")
    if low in _NAMES:
        return _NAMES[low]
    return language_tag(low)


def is_language_code(value: str | None) -> bool:
    """Is an @altrender (or similar) value a language code, not a rendering hint?"""
    return bool(value) and normalise(value) is not None


def iso639_2(tag: str) -> str:
    """BCP 47 → ISO 639-2/B (``zh`` → ``chi``, ``bo`` → ``tib``), for EAD @langcode."""
    return iso639_2b(tag) or tag.split("-")[0].lower()


def dominant_script(text: str) -> str | None:
    """The script most of the letters of ``text`` are in (None: no letters we know)."""
    counts = {name: len(rx.findall(text)) for name, (rx, _) in SCRIPTS.items()}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else None


@lru_cache(maxsize=1024)
def writes(tag: str, script: str) -> bool:
    """Is the language ``tag`` written in ``script`` (its stated or likely script)?"""
    primary = tag.split("-")[0].lower()
    if script == "Hani":
        return primary in _CJK_LANGS
    if primary in _CJK_LANGS or primary == NO_TEXT:
        return False
    try:
        lang = langcodes.Language.get(tag)
        likely = lang.script or lang.maximize().script
    except (langcodes.LanguageTagError, ValueError):
        return False
    return script == likely or script in _ALSO_WRITTEN_IN.get(primary, ())


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
    """The language a text's script suggests, preferring the hints written in that script."""
    if not LETTER.search(text):
        return NO_TEXT
    hints = [h for h in hints if h]
    script = dominant_script(text)
    if script is None:
        return "und"
    if script == "Hani" and KANA.search(text):
        return "ja"
    if script == "Hani" and HANGUL.search(text) and not HAN.search(text):
        return "ko"
    for h in hints:
        if writes(h, script) and fits(text, h):
            return h
    return SCRIPTS[script][1]


def choose(text: str, explicit: str | None, hints: Iterable[str]) -> tuple[str, bool]:
    """The tag for ``text``: the explicit one if it fits, else the first hint that is
    written in the text's script and fits, else from the script. The flag says an
    explicit tag was overruled."""
    hints = [h for h in hints if h]
    if explicit and fits(text, explicit):
        return explicit, False
    return by_script(text, hints), bool(explicit) and explicit != NO_TEXT
