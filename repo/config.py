"""The site home: one folder holding a Lantai site's stores, files and settings.

Layout::

    lantai.toml     settings (base IRI, embargo period, limits)
    working/        the working Oxigraph store (descriptions + management facts)
    publication/    the publication dataset (what public surfaces read, and nothing else)
    journal/        changesets being written (replayed after a crash)
    files/          content-addressed originals and derivatives
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from repo.errors import Invalid, LantaiError

DEFAULT_HOME = "lantai-data"
CONFIG_FILE = "lantai.toml"
_BASE_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~-]+)*$")


@dataclass(frozen=True)
class Settings:
    """What ``lantai init`` writes to ``lantai.toml``."""

    base: str
    embargo_years: int = 25
    site_name_zh: str = "兰台档案馆"
    site_name_en: str = "Lantai Archive"
    # Public surfaces (publisher, IIIF): bounds that keep one request from taking the server.
    sparql_timeout: float = 10.0  # seconds a SPARQL query may run
    sparql_max_rows: int = 100_000  # solutions or triples one answer may hold
    sparql_workers: int = 4  # query processes (each can be killed at the time limit)
    sparql_memory_mb: int = 2048  # memory one query process may use (0: no limit)
    image_max_width: int = 10_000  # IIIF Image API maxWidth / maxHeight / maxArea
    image_max_height: int = 10_000
    image_max_area: int = 40_000_000
    # IIIF Presentation: the rights statement of manifests (a Creative Commons or
    # RightsStatements.org URI; default "Copyright Not Evaluated")
    iiif_rights: str = "http://rightsstatements.org/vocab/CNE/1.0/"
    # Floods (publisher.ratelimit): requests per second one client may make on average, and
    # how many at once above that (0 turns the limit off); addresses of reverse proxies whose
    # X-Forwarded-For names the real client, and clients never limited (space-separated; the
    # machine itself by default: benchmarks, tests, monitoring)
    rate_limit: float = 100.0
    rate_limit_burst: int = 1000
    trusted_proxies: str = ""
    rate_limit_exempt: str = "127.0.0.1 ::1"
    # REST API (publisher.api): true makes every change to an existing object (PATCH, DELETE,
    # @workflow, @move, @access, @history revert) carry If-Match with the ETag the client
    # read, else 428 Precondition Required; false honours If-Match only when it is sent
    api_require_if_match: bool = False


def default_home() -> Path:
    return Path(os.environ.get("LANTAI_HOME", DEFAULT_HOME))


def check_base(base: str) -> str:
    """A base IRI is absolute http(s), with no query, fragment or trailing slash."""
    base = base.rstrip("/")
    if not _BASE_RE.match(base):
        raise Invalid(f"base IRI {base!r} must look like https://archive.example.edu (no query)")
    return base


def write_settings(home: Path, settings: Settings) -> None:
    home.mkdir(parents=True, exist_ok=True)
    lines = ["# Lantai site settings (written by `lantai init`)"]
    for key, value in asdict(settings).items():
        if isinstance(value, bool):  # TOML's true/false, not Python's True/False
            lines.append(f"{key} = {str(value).lower()}")
        else:
            lines.append(f'{key} = "{value}"' if isinstance(value, str) else f"{key} = {value!r}")
    tmp = home / (CONFIG_FILE + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(home / CONFIG_FILE)


def read_settings(home: Path) -> Settings:
    path = home / CONFIG_FILE
    if not path.exists():
        raise LantaiError(f"{home} is not a Lantai home (no {CONFIG_FILE}); "
                          "run `lantai init` first")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return Settings(**data)
    except (tomllib.TOMLDecodeError, TypeError) as exc:
        raise LantaiError(f"{path}: {exc}") from None
