"""Every revision operation works whatever Unicode a value holds (issue 10, item 8).

An object's history is read back from RDF Patch text; it was split with ``splitlines()``,
which also breaks on U+2028, U+0085, ``\\x0b``, ``\\x1c``-``\\x1e`` (N-Quads escapes only
``\\n`` and ``\\r``), so one such character in a title made diff, revert and
``@history/{n}`` fail. The property: create, edit, history, diff, state at revision n and
revert round-trip any text; a lone surrogate is refused cleanly, before anything is written.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import FILE, ITEM, new_site

from repo.errors import Invalid

# the characters that broke history, and astral ones, mixed with anything else
TRICKY = "\u2028\u2029\x85\r\n\x0b\x0c\x1c\x1d\x1e\t\u00a0\U0001f600\U00020000\"\\<>"
pieces = st.one_of(st.sampled_from(list(TRICKY)),
                   st.characters(blacklist_categories=("Cs",)))
_numbers = itertools.count()
values = st.lists(pieces, min_size=1, max_size=12).map("".join)


def english(core: str) -> str:
    """A value an English title accepts (Latin letters around it, nothing to strip)."""
    return f"Register {core} page"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    s = new_site(Path(tmp_path_factory.mktemp("unicode")) / "site")
    yield s
    s.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(core=values)
def test_every_revision_operation_round_trips_any_text(site, core):
    repo, admin = site.repo, site.admin
    text = english(core) + f" {next(_numbers)}"  # never the title it has already
    before = repo.load(repo.resolve(ITEM))
    n = before.revision
    edited = repo.edit(admin, ITEM, set={"title@en": text}, message=f"title {core}")
    assert edited.revision == n + 1
    history = repo.history(admin, ITEM)
    assert [r.number for r in history] == list(range(1, n + 2))
    assert history[-1].message == f"title {core}"
    lines = repo.diff(admin, ITEM, n, n + 1)
    assert any(d.sign == "+" and d.what == "title@en" and d.value == text.strip()
               for d in lines), lines
    assert repo.state_at(edited, n) == before.tracked_quads(repo.mgmt)
    assert repo.state_at(edited, n + 1) == edited.tracked_quads(repo.mgmt)
    reverted = repo.revert(admin, ITEM, n)
    assert reverted.description == before.description
    assert repo.diff(admin, ITEM, n, n + 2) == []
    # an object made with such a value: its first revision is recovered by undoing patches
    made = repo.create(admin, FILE, "item", {"title": {"en": text}},
                       slug=f"u-{next(_numbers)}")
    repo.edit(admin, made.path, set={"title@en": english(core + "x")})
    first = repo.state_at(repo.load(made.iri), 1)
    assert first == made.tracked_quads(repo.mgmt)
    assert repo.revert(admin, made.path, 1).description == made.description


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(core=values, surrogate=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))
def test_a_lone_surrogate_is_refused_before_anything_is_written(site, core, surrogate):
    repo, admin = site.repo, site.admin
    n = repo.load(repo.resolve(ITEM)).revision
    with pytest.raises(Invalid, match="surrogate"):
        repo.edit(admin, ITEM, set={"title@en": english(core + surrogate)})
    with pytest.raises(Invalid, match="surrogate"):
        repo.create(admin, FILE, "item", {"title": {"en": english(surrogate + core)}})
    assert repo.load(repo.resolve(ITEM)).revision == n
    repo.edit(admin, ITEM, set={"note@en": english(f"{core} {next(_numbers)}")})  # free
