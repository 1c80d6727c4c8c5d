"""Importing files: one file, one ingest, all or nothing.

``import_ead`` reads a finding aid twice: a first pass (``ead.scan``) checks that it is a
well-formed EAD file and counts its components before anything is written; the second
streams the components into :meth:`Repository.ingest`, which writes them in batches and
rolls every batch back if anything fails (a component that does not validate, a name that
is taken), so a file is imported completely or not at all. Errors name the file and the
line of the component at fault.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from repo.errors import LantaiError
from repo.importers import ead
from repo.importers.agents import AgentIndex
from repo.importers.mapping import EadMapper, Target
from repo.repository import Repository
from repo.security import User


@dataclass
class Report:
    """What one file's import did."""

    source: str
    top: str = ""  # path of the finding aid's top object
    components: int = 0
    objects: int = 0  # components + agents, places and folders created
    created: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    internal_components: int = 0  # marked audience="internal": arrived closed (restricted)
    staff_notes: int = 0  # internal notes kept staff-only (never published)

    @property
    def internal(self) -> str | None:
        """What was done with material marked internal, in one line (None: there was none)."""
        if not (self.internal_components or self.staff_notes):
            return None
        return (f"{self.internal_components} component(s) marked internal arrived closed; "
                f"{self.staff_notes} internal note(s) kept staff-only")


def target(repo: Repository, user: User, into: str) -> Target:
    """The container a finding aid goes into, with the 档号 context it gives."""
    iri = repo.resolve(into)
    if iri == repo.root_iri:
        return Target("/", "root")  # the root is a path, not an object IRI
    obj = repo.get(user, into)
    t = Target(iri, obj.type_name, obj.path)
    for o in [obj, *repo.ancestors(obj)]:
        fields = o.fields(repo.base)
        if t.fonds_code is None and o.type_name == "fonds" and fields.get("refcode"):
            t.fonds_code = fields["refcode"][0]
        t.category = t.category or (fields.get("category") or [None])[0]
        t.retention = t.retention or (fields.get("retention") or [None])[0]
    return t


def _with_place(exc: LantaiError, source: str, lines: dict[str, int]) -> LantaiError:
    """Prefix an error with FILE:LINE (the line of the component it is about, if known)."""
    msg = exc.message
    if msg.startswith(source + ":"):
        return exc
    head = msg.split(":", 1)[0].split(" ")[0]
    line = lines.get(head)
    if line is None:
        for path, ln in lines.items():
            if path in msg:
                line = ln
                break
    new = type(exc)(f"{source}:{line or 1}: {msg}")
    return new


def import_ead(repo: Repository, user: User, path: Path | str, *, into: str = "/",
               index: AgentIndex | None = None, message: str | None = None,
               on_total: Callable[[int], None] | None = None,
               tick: Callable[[], None] | None = None, batch_size: int = 5000,
               display: str | None = None) -> Report:
    """Import one EAD 2002 file into ``into``; raises (and writes nothing) on any error.
    ``display``: the file's name in messages (an upload's, not where it was staged)."""
    path = Path(path)
    source = display or str(path)
    found = ead.scan(path, source)
    if on_total:
        on_total(found.components)
    where = target(repo, user, into)
    index = index or AgentIndex(repo)
    mapper = EadMapper(repo, where, index, source, tick)
    records = ead.read(path, found.late, source, ead.context(source))
    try:
        created = repo.ingest(user, mapper.objects(records), batch_size=batch_size,
                              message=message or f"import {Path(source).name} (EAD 2002)")
    except LantaiError as exc:
        index.rollback()
        raise _with_place(exc, source, mapper.lines) from None
    except BaseException:
        index.rollback()
        raise
    index.commit()
    top = mapper.placed.get(0)
    return Report(source, top.path if top else "", found.components, len(created),
                  dict(mapper.created), mapper.warnings, mapper.internal_components,
                  mapper.staff_notes)
