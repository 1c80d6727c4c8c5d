"""The site home: one folder holding a Lantai site's stores, files and settings.

Layout::

    lantai.toml     settings (base IRI, embargo period, limits)
    working/        the working Oxigraph store (descriptions + management facts)
    publication/    the publication dataset (what public surfaces read, and nothing else)
    journal/        changesets being written (replayed after a crash)
    files/          the originals: an OCFL 1.1 storage root (preservation/ocfl.py)
    derivatives/    images and media made from them (regenerable)
    preservation/   the keyring of sealed files, PREMIS events, the history chain's checkpoints
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import asdict, field
from pathlib import Path
from typing import Annotated, Any

import tomli_w
from pydantic import AfterValidator, ConfigDict, Field, ValidationError
from pydantic.dataclasses import dataclass

from repo.errors import Invalid, LantaiError

DEFAULT_HOME = "lantai-data"
CONFIG_FILE = "lantai.toml"
_BASE_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~-]+)*$")
# IIIF Presentation 3 ``rights``: a Creative Commons or RightsStatements.org URI
_RIGHTS_RE = re.compile(r"^https?://(creativecommons\.org/(licenses|publicdomain)|"
                        r"rightsstatements\.org/vocab)/\S+$")


def check_base(base: str) -> str:
    """A base IRI is absolute http(s), with no query, fragment or trailing slash."""
    base = base.rstrip("/")
    if not _BASE_RE.match(base):
        raise Invalid(f"base IRI {base!r} must look like https://archive.example.edu (no query)")
    return base


def _base(value: str) -> str:
    try:
        return check_base(value)
    except Invalid as exc:
        raise ValueError(exc.message) from None


def _addresses(value: str) -> str:
    for word in value.split():
        try:
            ipaddress.ip_address(word)
        except ValueError:
            raise ValueError(f"{word!r} is not an IP address") from None
    return value


def _rights(value: str) -> str:
    if not _RIGHTS_RE.match(value):
        raise ValueError("must be a Creative Commons or RightsStatements.org URI")
    return value


# A site name may hold any text but the control characters XML cannot carry
Name = Annotated[str, Field(min_length=1, max_length=200,
                            pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+$")]
Addresses = Annotated[str, AfterValidator(_addresses)]


@dataclass(frozen=True, config=ConfigDict(strict=True, extra="forbid"))
class Settings:
    """What ``lantai init`` writes to ``lantai.toml``; every value is checked when made or
    read (types and ranges), so a hand-edited file fails at once with the key it got wrong
    instead of somewhere deep in a request."""

    base: Annotated[str, AfterValidator(_base)]
    embargo_years: Annotated[int, Field(ge=0, le=200)] = 25
    site_name_zh: Name = "兰台档案馆"
    site_name_en: Name = "Lantai Archive"
    # Public surfaces (publisher, IIIF): bounds that keep one request from taking the server.
    sparql_timeout: Annotated[float, Field(gt=0)] = 10.0  # seconds a SPARQL query may run
    sparql_max_rows: Annotated[int, Field(ge=1)] = 100_000  # solutions or triples per answer
    sparql_workers: Annotated[int, Field(ge=1, le=64)] = 4  # query processes (killable)
    sparql_memory_mb: Annotated[int, Field(ge=0)] = 2048  # per query process (0: no limit)
    image_max_width: Annotated[int, Field(ge=1)] = 10_000  # IIIF Image API maxWidth / maxHeight
    image_max_height: Annotated[int, Field(ge=1)] = 10_000
    image_max_area: Annotated[int, Field(ge=1)] = 40_000_000
    # Expensive work (publisher.busy): SPARQL queries (sparql_workers at once) and IIIF
    # renders (render_threads at once) each wait in a queue of expensive_queue; past it, and
    # past expensive_per_client from one client, the answer is at once 503/429 Retry-After.
    # A browser opens up to six connections to one host and a IIIF viewer asks for several
    # renders at once: with 2, a viewer on a sealed site (renders decrypt, so they overlap
    # more) was refused tiles it needed
    render_threads: Annotated[int, Field(ge=1, le=64)] = 2
    expensive_queue: Annotated[int, Field(ge=0, le=256)] = 4
    expensive_per_client: Annotated[int, Field(ge=1, le=256)] = 6
    # IIIF Presentation: the rights statement of manifests (a Creative Commons or
    # RightsStatements.org URI; default "Copyright Not Evaluated")
    iiif_rights: Annotated[str, AfterValidator(_rights)] = (
        "http://rightsstatements.org/vocab/CNE/1.0/")
    # Floods (publisher.ratelimit): requests per second one client may make on average, and
    # how many at once above that (0 turns the limit off); addresses of reverse proxies whose
    # X-Forwarded-For names the real client, and clients never limited (space-separated; the
    # machine itself by default: benchmarks, tests, monitoring)
    rate_limit: Annotated[float, Field(ge=0)] = 100.0
    rate_limit_burst: Annotated[int, Field(ge=0)] = 1000
    trusted_proxies: Addresses = ""
    rate_limit_exempt: Addresses = "127.0.0.1 ::1"
    # REST API (publisher.api): true makes every change to an existing object (PATCH, DELETE,
    # @workflow, @move, @access, @history revert) carry If-Match with the ETag the client
    # read, else 428 Precondition Required; false honours If-Match only when it is sent
    api_require_if_match: bool = False
    # Staff workspace (staff/): minutes without a request after which a session ends; whether
    # Managers must sign in with a second factor (TOTP, `lantai users totp NAME`); sign-in
    # failures allowed per account and per address in a quarter of an hour
    staff_idle_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 30
    staff_totp_for_managers: bool = False
    staff_signin_failures_per_account: Annotated[int, Field(ge=1, le=1000)] = 5
    staff_signin_failures_per_address: Annotated[int, Field(ge=1, le=10000)] = 20
    # Uploads to the staff workspace (scans, recordings, finding aids): the largest file
    # accepted, in MiB (staged under the site home until ingested; the file store's own
    # limit is 8 GiB)
    staff_upload_max_mb: Annotated[int, Field(ge=1, le=8192)] = 4096
    # Record requests (查档, services/requests): the workrooms that share the work (the
    # first takes new requests), days to fulfil a request and an urgent one, days after which
    # a closed request's personal data is purged (`lantai requests purge`), the largest
    # identity-document image accepted (MiB)
    requests_workrooms: list[Name] = field(default_factory=lambda: [
        "兴庆", "雁塔", "曲江", "创新港"])
    requests_target_days: Annotated[int, Field(ge=1, le=365)] = 5
    requests_urgent_days: Annotated[int, Field(ge=1, le=365)] = 1
    requests_retention_days: Annotated[int, Field(ge=1, le=36500)] = 365
    requests_upload_max_mb: Annotated[int, Field(ge=1, le=64)] = 10
    # Certified copies: a timestamp authority (RFC 3161) makes signatures PAdES B-LT instead
    # of B-B; download links last so many days and work so many times
    signing_tsa_url: str = ""
    requests_link_days: Annotated[int, Field(ge=1, le=365)] = 30
    requests_link_uses: Annotated[int, Field(ge=1, le=100)] = 5
    # Outgoing mail (e-mail codes, delivery of certified copies): an SMTP server; an empty
    # host writes nothing and sending fails with a message saying so
    smtp_host: str = ""
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 25
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_from: str = "archives@localhost"
    # The filing loop (services/filing): the largest upload to one submission (a spreadsheet
    # with its files, or a bag as a ZIP), MiB; the most rows one spreadsheet may describe;
    # days before a task's due date when a reminder goes to the unit
    filing_upload_max_mb: Annotated[int, Field(ge=1, le=8192)] = 1024
    filing_max_rows: Annotated[int, Field(ge=1, le=100_000)] = 10_000
    filing_reminder_days: Annotated[int, Field(ge=0, le=365)] = 14
    # Growth records (services/growth): the exhibit section where a student's consented
    # items are shown (a path; empty: consent cannot be given)
    growth_exhibit_section: str = "/exhibits/student-memories/growth"
    # Preservation (preservation/): originals (and derivatives of records not open) sealed with
    # AES-256-GCM under the master key (`lantai init` turns it on for new sites; a site made
    # before keeps its files as they are until `lantai files migrate --encrypt`); the restic
    # retention `lantai backup forget` applies; a signed checkpoint of the history chain every
    # so many changesets
    files_encrypted: bool = False
    backup_keep: str = "--keep-daily 7 --keep-weekly 5 --keep-monthly 12"
    audit_checkpoint_every: Annotated[int, Field(ge=1, le=1_000_000)] = 100
    # Serving (issue 15; publisher/server.py): worker processes of `lantai serve` (0: one per
    # core), each with `threads` threads for cheap pages
    serve_workers: Annotated[int, Field(ge=0, le=64)] = 0
    # SPARQL at the engine's speed (publisher/sparql_engine.py): `lantai serve` runs a jailed
    # `oxigraph serve-read-only` beside its workers (off: every query in the query processes)
    sparql_engine: bool = True
    # The publication dataset in an external SPARQL 1.1 engine (external/; empty: the embedded
    # store). The query URL (SPARQL 1.1 Protocol); the Update URL (empty: the query URL); the
    # Graph Store Protocol URL (empty: graphs are written with SPARQL Update); the user (the
    # password is never in lantai.toml: env LANTAI_ENGINE_PASSWORD)
    publication_endpoint: str = ""
    publication_update_endpoint: str = ""
    publication_gsp_endpoint: str = ""
    publication_engine_user: str = ""


def default_home() -> Path:
    return Path(os.environ.get("LANTAI_HOME", DEFAULT_HOME))


def settings_error(where: object, exc: ValidationError) -> Invalid:
    """The first problem as one line naming the key: ``lantai.toml: sparql_timeout: …``."""
    first = exc.errors(include_url=False)[0]
    key = ".".join(str(p) for p in first["loc"]) or "settings"
    if first["type"] == "unexpected_keyword_argument":
        return Invalid(f"{where}: {key}: not a setting")
    message = first["msg"].removeprefix("Value error, ")
    got = "" if first["type"] in ("missing", "value_error") else f" (got {first['input']!r})"
    return Invalid(f"{where}: {key}: {message}{got}")


def make_settings(**values: Any) -> Settings:
    """Settings from keyword values (of any type: pydantic checks them), or Invalid naming
    the key that is wrong."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise settings_error("settings", exc) from None


def write_settings(home: Path, settings: Settings) -> None:
    """Written by a TOML library, so any string (quotes, newlines, backslashes) reads back;
    durably (repo/durable.py: temporary file, fsync, rename, fsync of the folder): a power
    cut after a settings change must not leave an empty ``lantai.toml``, the one file
    without which the site does not open."""
    from repo.durable import write_atomically

    home.mkdir(parents=True, exist_ok=True)
    text = "# Lantai site settings (written by `lantai init`)\n" + tomli_w.dumps(asdict(settings))
    write_atomically(home / CONFIG_FILE, text.encode("utf-8"))


def read_settings(home: Path) -> Settings:
    """The site's settings; a file that is not TOML or holds a wrong key or value is
    Invalid (exit 5) with one line naming the file and the key."""
    path = home / CONFIG_FILE
    if not path.exists():
        raise LantaiError(f"{home} is not a Lantai home (no {CONFIG_FILE}); "
                          "run `lantai init` first")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise Invalid(f"{path}: not valid TOML: {exc}") from None
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise settings_error(path, exc) from None
