"""The IRIs that were public once and are not any more, so that they answer 410 Gone.

The publication dataset holds only what is public now; whether an IRI *was* public cannot be
read from it, and must not be: SPARQL reads the whole publication store, and the list of
withdrawn IRIs is not public data. So the repository keeps that list beside the store, in
``{home}/publication.gone``: an append-only log of ``- IRI`` (withdrawn) and ``+ IRI``
(public again) lines, replayed on reading. Appending keeps a withdrawal of a whole fonds
linear; ``lantai publish --rebuild`` rewrites it compactly.

Only the one process that holds the stores for writing appends to it; the web server reads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from repo.durable import fsync_dir

GONE_FILE = "publication.gone"


def read_gone(home: Path) -> set[str]:
    """The IRIs withdrawn from publication and not public again (empty if none ever were)."""
    try:
        text = (home / GONE_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return set()
    gone: set[str] = set()
    for line in text.split("\n"):
        if line.startswith("- "):
            gone.add(line[2:])
        elif line.startswith("+ "):
            gone.discard(line[2:])
    return gone


class GoneRegister:
    """The writer's side: told of every projection, it logs the changes of public status."""

    def __init__(self, home: Path) -> None:
        self.path = home / GONE_FILE
        self._gone: set[str] | None = None  # read on first use: after the store lock is ours

    @property
    def gone(self) -> set[str]:
        if self._gone is None:
            self._gone = read_gone(self.path.parent)
        return self._gone

    def _append(self, lines: list[str]) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in lines))
            fh.flush()
            os.fsync(fh.fileno())

    def withdrawn(self, iri: str) -> None:
        """``iri`` was public and is about to leave the publication dataset."""
        if iri not in self.gone:
            self._append([f"- {iri}"])
            self.gone.add(iri)

    def published(self, iri: str) -> None:
        """``iri`` is about to be public (again)."""
        if iri in self.gone:
            self._append([f"+ {iri}"])
            self.gone.discard(iri)

    def rewrite(self, before: Iterable[str], now_public: set[str]) -> None:
        """After a rebuild: gone = (what was gone ∪ what was public before) − what is public."""
        gone = (self.gone | set(before)) - now_public
        tmp = self.path.with_name(GONE_FILE + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write("".join(f"- {iri}\n" for iri in sorted(gone)))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.path)
        fsync_dir(self.path.parent)  # the rename too: else a power cut may bring the old back
        self._gone = gone
