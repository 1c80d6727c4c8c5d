"""Finding or creating the agents and places that finding aids name.

An access point, an origination or a repository names a person, a corporate body, a family
or a place. The repository keeps one object per entity (in ``/agents`` or ``/places``) and
every record links to it, so the index must find what is there already: first by authority
file number (kept as the agent's ``identifier``), then by the exact name in the same kind.
What is not found is created in the same ingest as the records that name it. New entries
stay pending until the file's ingest succeeds (an ingest that fails rolls them back).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from pyoxigraph import Literal, NamedNode

from ontology import terms
from ontology.namespaces import RICO
from repo.errors import NotFound
from repo.objects import lt_node
from repo.repository import NewObject, Repository

_KEY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
AGENT_TYPES = ("person", "corporatebody", "family")
FOLDERS = {"agents": {"zh": "人物与机构", "en": "Agents"},
           "places": {"zh": "地点", "en": "Places"}}
NAME = NamedNode(RICO + "name")
IDENTIFIER = NamedNode(RICO + "identifier")


def new_key() -> str:
    """A random IRI key like the repository's own (Crockford base-32, 10 characters)."""
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(10))


def name_key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def slugify(text: str, fallback: str) -> str:
    """A path segment from a name: ASCII letters and digits, else the fallback."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:48].strip("-")
    return slug or fallback


@dataclass
class Entry:
    iri: str
    type: str


class AgentIndex:
    """Agents and places of the repository, by identifier and by name."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.by_id: dict[str, Entry] = {}
        self.by_name: dict[tuple[str, str], Entry] = {}
        self.slugs: dict[str, set[str]] = {}
        self.folders: dict[str, str] = {}
        self._undo: list[Callable[[], object]] = []  # forgets what the file would create
        self._load()

    def _load(self) -> None:
        repo = self.repo
        for q in repo.working.quads_for_pattern(None, lt_node("type"), None, repo.mgmt):
            type_name = terms.value(q.object)
            if type_name not in (*AGENT_TYPES, "place"):
                continue
            node = terms.named(q.subject)
            if next(repo.working.quads_for_pattern(node, lt_node("deletedIn"), None,
                                                   repo.mgmt), None):
                continue
            entry = Entry(node.value, type_name)
            for d in repo.working.quads_for_pattern(node, None, None, node):
                if d.predicate == NAME:
                    self.by_name.setdefault(
                        (self._kind(type_name), name_key(terms.value(d.object))), entry)
                elif d.predicate == IDENTIFIER:
                    self.by_id.setdefault(terms.value(d.object), entry)

    @staticmethod
    def _kind(type_name: str) -> str:
        return "place" if type_name == "place" else type_name

    def find(self, type_name: str, name: str, identifier: str | None) -> Entry | None:
        if identifier and identifier in self.by_id:
            entry = self.by_id[identifier]
            if (entry.type == "place") == (type_name == "place"):
                return entry
        return self.by_name.get((type_name, name_key(name)))

    def folder(self, which: str) -> tuple[str, list[NewObject]]:
        """The IRI of /agents or /places, and the folder to create if it is not there."""
        if which in self.folders:
            return self.folders[which], []
        try:
            iri = self.repo.resolve("/" + which)
            self.folders[which] = iri
            return iri, []
        except NotFound:
            pass
        key = new_key()
        iri = self.repo.iri_for("folder", key)
        self.folders[which] = iri
        self._undo.append(partial(self.folders.pop, which, None))
        labels = FOLDERS[which]
        return iri, [NewObject("/", "folder", {"title": labels}, slug=which, key=key)]

    def taken_slugs(self, folder_iri: str) -> set[str]:
        if folder_iri not in self.slugs:
            taken = set()
            for kid in self.repo.working.quads_for_pattern(None, lt_node("parent"),
                                                           NamedNode(folder_iri),
                                                           self.repo.mgmt):
                slug = next(self.repo.working.quads_for_pattern(
                    kid.subject, lt_node("slug"), None, self.repo.mgmt), None)
                if slug is not None:
                    taken.add(terms.value(slug.object))
            self.slugs[folder_iri] = taken
        return self.slugs[folder_iri]

    def get_or_create(self, type_name: str, name: str, lang: str, identifier: str | None,
                      extra: tuple = ()) -> tuple[str, list[NewObject]]:
        """The IRI of the agent or place, and what to create first (folder, the entity)."""
        found = self.find(type_name, name, identifier)
        if found is not None:
            return found.iri, []
        which = "places" if type_name == "place" else "agents"
        folder_iri, todo = self.folder(which)
        key = new_key()
        kind = self.repo.profile.type(type_name).kind
        iri = self.repo.iri_for(kind, key)
        node = NamedNode(iri)
        statements = [(node, NAME, Literal(name, language=lang))]
        if identifier:
            statements.append((node, IDENTIFIER, Literal(identifier)))
        statements.extend(extra)
        taken = self.taken_slugs(folder_iri)
        base = slugify(name, key)
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        taken.add(slug)
        entry = Entry(iri, type_name)
        self.remember(entry, type_name, name, identifier)
        todo.append(NewObject(folder_iri, type_name, {}, slug=slug, key=key,
                              statements=tuple(statements)))
        return iri, todo

    def remember(self, entry: Entry, type_name: str, name: str, identifier: str | None
                  ) -> None:
        key = (type_name, name_key(name))
        if key not in self.by_name:
            self.by_name[key] = entry
            self._undo.append(partial(self.by_name.pop, key, None))
        if identifier and identifier not in self.by_id:
            self.by_id[identifier] = entry
            self._undo.append(partial(self.by_id.pop, identifier, None))

    def commit(self) -> None:
        """The file imported: what it created is now in the repository."""
        self._undo.clear()

    def rollback(self) -> None:
        """The file failed: forget what it would have created."""
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()
        self.slugs.clear()
