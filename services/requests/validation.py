"""Is an uploaded PDF a valid certified copy of this archive? (issue 12, item 5)

Two steps, apart on purpose:

1. :func:`inspect` reads the untrusted bytes with pyHanko (strict reader, its decode limits
   for untrusted input) and validates the first signature with
   :func:`pyhanko.sign.validation.validate_pdf_signature` against a ``ValidationContext``
   trusting only the site's roots (:func:`services.requests.signing.trust_roots`), without
   fetching anything from the network. It runs in a worker process
   (:mod:`services.requests.sandbox`) under a time and memory limit, because a hostile PDF
   can make a parser loop or allocate without end and a thread cannot be stopped.
2. :func:`check_pdf` (in the web process) adds what only the request store knows: which
   copy it is — by the SHA-256 of the upload, else by the code the document claims in its
   document information (``/LantaiCode``: a changed document still says which copy it
   pretends to be) — and whether that copy was revoked.

The verdict is *valid* only when the signature is cryptographically sound, the signed bytes
are intact, the signer chains to the site's roots, nothing was changed after signing (the
signature covers the whole file, or later revisions only add validation data: PAdES B-LT),
the copy is one this archive issued, and it is not revoked. Everything else is a
*problem*, listed with a stable key; the page and the JSON say each in plain words.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from services.requests.model import Copy

if TYPE_CHECKING:
    from services.requests.store import RequestStore

MAX_CODE_CHARS = 40
# the reasons an upload cannot be checked at all (answered 422), each a stable key
UNREADABLE = ("not_pdf", "malformed", "unsigned", "encrypted", "too_slow", "too_complex")
# what can be wrong with a readable, signed PDF (valid is then false)
PROBLEMS = ("unsound", "not_intact", "untrusted", "changed", "timestamp", "unknown_copy",
            "revoked")
_CODE = re.compile(r"^V-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$")


class Unreadable(Exception):
    """The upload cannot be checked: ``reason`` is one of :data:`UNREADABLE`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class Inspection:
    """What the signature says, before the store is asked (plain values: it crosses a pipe)."""

    signatures: int
    sound: bool  # the signature value verifies against the signed attributes
    intact: bool  # the signed byte ranges hash to the signed digest
    trusted: bool  # the signer's certificate chains to a site root
    coverage: str  # pyHanko's SignatureCoverageLevel name
    modification: str  # pyHanko's ModificationLevel name ("" when not analysed)
    unchanged: bool  # nothing but validation data was added after signing
    signer: str
    signed_at: str  # ISO 8601 UTC: the timestamp token's time, else the signer's claim
    timestamp_ok: bool | None  # None: no timestamp token
    claimed_code: str  # /LantaiCode of the document information, if well formed


@dataclass
class Verdict:
    """The answer of ``/verify`` for an upload (no personal data in it)."""

    valid: bool
    intact: bool
    trusted: bool
    unchanged: bool
    revoked: bool
    signer: str = ""
    signed_at: str = ""
    code: str = ""  # the copy it is (by digest) or claims to be (by /LantaiCode)
    known: bool = False  # the upload is byte for byte a copy this archive issued
    copy: Copy | None = None
    revoked_at: str = ""
    revoked_reason: str = ""
    signatures: int = 0
    problems: list[str] = field(default_factory=list)

    def as_json(self, records: list[dict]) -> dict:
        """The JSON of ``POST /verify`` (the contract's keys first)."""
        return {"valid": self.valid, "intact": self.intact, "revoked": self.revoked,
                "code": self.code or None, "signed_at": self.signed_at or None,
                "signer": self.signer or None, "records": records,
                "problems": list(self.problems), "trusted": self.trusted,
                "unchanged": self.unchanged, "known": self.known,
                "request": self.copy.request_id if self.copy else None,
                "pages": self.copy.pages if self.copy else None,
                "language": self.copy.language if self.copy else None,
                "revoked_at": self.revoked_at or None,
                "revoked_reason": self.revoked_reason or None}


def well_formed_code(text: str) -> str:
    """``text`` as a verification code (normalised as the store does), or "" if it cannot be
    one: bounded and checked before any lookup, so junk never reaches the database."""
    from services.requests.store import normalise_number

    if not text or len(text) > MAX_CODE_CHARS:
        return ""
    code = normalise_number(text)
    return code if _CODE.match(code) else ""


# ------------------------------------------------------------------ in the worker process
def inspect(data: bytes, roots: list[bytes]) -> Inspection:
    """Validate the first signature of the PDF ``data`` against ``roots`` (PEM or DER
    certificates). Raises :class:`Unreadable` when it is not a readable, signed PDF."""
    from pyhanko.keys import load_certs_from_pemder_data
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    if not data.lstrip()[:5].startswith(b"%PDF-") and b"%PDF-" not in data[:1024]:
        raise Unreadable("not_pdf")
    if b"%%EOF" not in data[-1024:]:
        # readers look for the end marker in the last 1024 bytes; pyHanko searches further
        # back line by line, which took 13 s on a copy followed by 14 MB of junk
        raise Unreadable("malformed", "no %%EOF in the last 1024 bytes")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=True)
        if reader.encrypted:
            raise Unreadable("encrypted")
        signatures = reader.embedded_signatures
        claimed = _claimed_code(reader)
    except Unreadable:
        raise
    except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError,
            AssertionError, RecursionError, OSError, EOFError) as exc:
        raise Unreadable("malformed", str(exc)[:200]) from None
    if not signatures:
        raise Unreadable("unsigned")
    trust = [c for pem in roots for c in load_certs_from_pemder_data(pem)]
    # the signer must chain to the site's roots and nothing else (a certificate from any
    # public CA is not the archive's seal); a timestamp authority is a third party, which
    # may chain to a public root (the system's) or to the site's
    context = ValidationContext(trust_roots=trust, allow_fetching=False)
    stamps = ValidationContext(extra_trust_roots=trust, allow_fetching=False)
    try:
        status = validate_pdf_signature(signatures[0], context, stamps)
    except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError,
            AssertionError, RecursionError) as exc:
        # e.g. a /Contents that is not a CMS signature, a /ByteRange pointing outside the file
        raise Unreadable("malformed", str(exc)[:200]) from None
    level = status.modification_level
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    unchanged = whole or (status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
                          and level is not None and level <= ModificationLevel.LTA_UPDATES
                          and status.docmdp_ok is not False)
    ts = status.timestamp_validity
    when = ts.timestamp if ts is not None else status.signer_reported_dt
    return Inspection(
        signatures=len(signatures), sound=bool(status.valid), intact=bool(status.intact),
        trusted=bool(status.trusted), coverage=status.coverage.name if status.coverage else "",
        modification=level.name if level is not None else "", unchanged=unchanged,
        signer=_subject(status.signing_cert) if status.signing_cert else "",
        signed_at=_iso(when) if when else "",
        timestamp_ok=None if ts is None else bool(ts.valid and ts.intact and ts.trusted),
        claimed_code=claimed)


def _claimed_code(reader) -> str:
    """The ``/LantaiCode`` of the document information (the latest revision's)."""
    info = reader.trailer_view.get("/Info")
    if info is None:
        return ""
    value = info.get_object().get("/LantaiCode")
    return well_formed_code(str(value)) if value is not None else ""


def _subject(cert) -> str:
    """The certificate's subject as RFC 4514 text (as :mod:`services.requests.signing` and
    the copy's ``signer`` write it)."""
    from cryptography import x509

    return x509.load_der_x509_certificate(cert.dump()).subject.rfc4514_string()


def _iso(when) -> str:
    import datetime as dt

    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ in the web process
def trust_roots(home: Path) -> list[bytes]:
    """The site's roots (part certify's :func:`services.requests.signing.trust_roots`)."""
    signing = importlib.import_module("services.requests.signing")
    roots: list[bytes] = signing.trust_roots(home)
    return roots


def check_pdf(data: bytes, home: Path | str, *, store: RequestStore | None = None,
              roots: list[bytes] | None = None, timeout: float | None = None) -> Verdict:
    """The verdict on the uploaded PDF ``data`` for the site at ``home`` (``store``: its
    request store, if the caller has it open; opening one costs ≈ 25 ms). Raises
    :class:`Unreadable` (not a PDF, malformed, unsigned, encrypted, too slow or too complex
    to check) and :class:`services.requests.sandbox.Busy` (every worker busy)."""
    from services.requests import sandbox
    from services.requests.store import RequestStore

    home = Path(home)
    found = sandbox.pool().run(data, roots if roots is not None else trust_roots(home),
                               timeout=timeout)
    store = store or RequestStore.open(home)
    digest = hashlib.sha256(data).hexdigest()
    copy = store.copy_by_digest(digest)
    known = copy is not None
    if copy is None and found.claimed_code:
        from repo.errors import NotFound

        try:
            copy = store.copy(found.claimed_code)
        except NotFound:
            copy = None
    return judge(found, copy, known)


def judge(found: Inspection, copy: Copy | None, known: bool) -> Verdict:
    """The verdict from the signature's facts and the copy the store has (or not)."""
    problems: list[str] = []
    if not found.sound:
        problems.append("unsound")
    if not found.intact:
        problems.append("not_intact")
    if found.sound and found.intact and not found.trusted:
        # pyHanko judges trust only for an intact signature: a changed byte leaves
        # ``trusted`` false though the certificate is the archive's (not a second problem)
        problems.append("untrusted")
    if not found.unchanged:
        problems.append("changed")
    if found.timestamp_ok is False:
        problems.append("timestamp")
    if copy is None:  # neither these bytes nor the code it claims were issued here
        problems.append("unknown_copy")
    revoked = bool(copy is not None and copy.revoked)
    if revoked:
        problems.append("revoked")
    intact = found.sound and found.intact and found.unchanged
    return Verdict(
        valid=not problems, intact=intact, trusted=found.trusted, unchanged=found.unchanged,
        revoked=revoked, signer=found.signer, signed_at=found.signed_at,
        code=copy.code if copy else found.claimed_code, known=known, copy=copy,
        revoked_at=copy.revoked if copy else "",
        revoked_reason=copy.revoked_reason if copy else "", signatures=found.signatures,
        problems=problems)
