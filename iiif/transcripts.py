"""WebVTT transcripts of the oral histories, read safely: cues with times and plain text.

A transcript is an instantiation of its own (``text/vtt``), derived from the recording
(``rico:isOrWasDerivedFromInstantiation``), its file in the content-addressed file store.
Content Search and the catalog need its cues as plain text with their times; viewers get
the file itself through the manifest.

The parser follows the WebVTT parsing rules as far as they matter here and treats the file
as hostile: it must start with ``WEBVTT``; ``NOTE``, ``STYLE`` and ``REGION`` blocks are
skipped; a block whose timing line does not parse is skipped (as browsers do); cue settings
are ignored; tags (``<v Speaker>``, ``<c.x>``, ``<b>``, inline timestamps) are removed and
character references decoded, so the text is plain (never HTML). Bounds: at most
:data:`MAX_BYTES` of file, :data:`MAX_CUES` cues, :data:`MAX_CUE_CHARS` per cue.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from repo.errors import Invalid, NotFound

MAX_BYTES = 5 << 20  # 5 MiB: hours of speech
MAX_CUES = 50_000
MAX_CUE_CHARS = 5_000
MAX_SECONDS = 1_000_000.0

_TIME = r"(?:(\d{1,6}):)?([0-5]\d):([0-5]\d)[.,](\d{3})"
_TIMING = re.compile(rf"^\s*{_TIME}\s+-->\s+{_TIME}(?:\s+.*)?$")
_TAG = re.compile(r"<[^>\n]{0,200}>")
_SPEAKER = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>\n]{1,100})>")


@dataclass(frozen=True)
class Cue:
    """One timed piece of a transcript (seconds; plain text)."""

    start: float
    end: float
    text: str
    id: str = ""
    speaker: str = ""

    @property
    def t(self) -> str:
        """The media fragment value, ``start,end`` (seconds, millisecond precision)."""
        return f"{_seconds(self.start)},{_seconds(self.end)}"


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def _time(groups: tuple[str, ...]) -> float:
    hours, minutes, seconds, millis = groups  # hours "0" when absent (groups(default="0"))
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + int(millis) / 1000


def plain(text: str) -> str:
    """Cue text without tags, with character references decoded, whitespace collapsed."""
    return " ".join(html.unescape(_TAG.sub("", text)).split())


def parse_vtt(data: bytes | str) -> list[Cue]:
    """The cues of a WebVTT file (see the module doc for what is refused or skipped)."""
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise Invalid(f"transcript of {len(data):,} bytes is above the limit of "
                          f"{MAX_BYTES:,}")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid("transcript is not UTF-8 text (WebVTT must be)") from None
    elif len(data) > MAX_BYTES:
        raise Invalid(f"transcript of {len(data):,} characters is above the limit")
    text = data.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")
    first, _, _rest = text.partition("\n")
    if not (first == "WEBVTT" or first.startswith(("WEBVTT ", "WEBVTT\t"))):
        raise Invalid("not a WebVTT file (it must start with WEBVTT)")
    cues: list[Cue] = []
    for block in re.split(r"\n[ \t]*\n", text)[1:]:
        lines = block.strip("\n").split("\n")
        if not lines or not lines[0].strip():
            continue
        head = lines[0]
        if head.startswith(("NOTE", "STYLE", "REGION")) and "-->" not in head:
            continue
        ident = ""
        if "-->" not in head:
            ident, lines = head.strip()[:200], lines[1:]
            if not lines:
                continue
        m = _TIMING.match(lines[0])
        if m is None:
            continue
        groups = m.groups(default="0")
        start, end = _time(groups[:4]), _time(groups[4:])
        if not (0 <= start <= end <= MAX_SECONDS):
            continue
        raw = "\n".join(lines[1:])[:MAX_CUE_CHARS]
        speaker = _SPEAKER.search(raw)
        body = plain(raw)
        if not body:
            continue
        cues.append(Cue(start, end, body, ident,
                        plain(speaker.group(1)) if speaker else ""))
        if len(cues) >= MAX_CUES:
            break
    return cues


def read_vtt(path: Path | str) -> list[Cue]:
    """The cues of the WebVTT file at ``path`` (refused above :data:`MAX_BYTES`)."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise NotFound(f"{path.name}: no such file") from None
    if size > MAX_BYTES:
        raise Invalid(f"{path.name}: transcript of {size:,} bytes is above the limit")
    return parse_vtt(path.read_bytes())


@lru_cache(maxsize=1024)
def _cached(home: str, digest: str) -> tuple[Cue, ...]:
    from repo.files import FileStore

    with FileStore.for_site(Path(home)) as store:
        if digest not in store:
            raise NotFound(f"{digest}: no such file in the file store")
        size = store.size(digest)
        if size > MAX_BYTES:
            raise Invalid(f"{digest[:19]}…: transcript of {size:,} bytes is above the limit")
        with store.open(digest) as fh:
            return tuple(parse_vtt(fh.read()))


def transcript_cues(home: Path | str, digest: str) -> list[Cue]:
    """The cues of the transcript stored as ``digest`` in the site's file store, decrypted
    when sealed (cached: a stored file never changes, its digest is its name)."""
    return list(_cached(str(home), digest))


def is_transcript_type(mime: str | None) -> bool:
    return mime is not None and mime.split(";")[0].strip().lower() == "text/vtt"


__all__ = ["Cue", "is_transcript_type", "parse_vtt", "plain", "read_vtt", "transcript_cues"]
