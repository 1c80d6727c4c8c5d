"""Two people edit the same record (issue 11, item 10): the second save is a conflict shown to
the user, with both versions field by field, and nothing either of them wrote is lost.

Two signed-in clients of the real app (each its own session and CSRF token), the real store
read back after every step.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from lxml import html as lxml_html

sys.path.insert(0, str(Path(__file__).parent))

from staff_support import signed_in
from support import FILE
from test_staff_forms import form_values, make_app, stored, text

URL = "/staff/edit/xjtu/students/register-1957"


@pytest.fixture
def app(site):
    return make_app(site)


def test_the_second_save_is_a_conflict_and_nothing_is_lost(site, app):
    anna, bo = signed_in(app, "editor"), signed_in(app, "manager")
    annas = form_values(anna.get(URL).get_data(as_text=True))
    bos = form_values(bo.get(URL).get_data(as_text=True))
    assert annas["revision"] == bos["revision"] == ["1"]

    # Bo saves first: a better English title and a note
    bos.update({"title@en": ["Register of new students (1957)"], "note@zh": ["博的附注。"]})
    assert bo.post(URL, bos).status_code == 303
    # Anna saves the form she opened before: her own English title, and a scope note
    annas.update({"title@en": ["Freshmen register, 1957"], "scope@zh": ["安娜写的内容提要。"]})
    r = anna.post(URL, annas)
    body = r.get_data(as_text=True)
    assert r.status_code == 409
    fields, revision = stored(site.home, FILE)
    assert revision == 2 and "scope" not in fields  # Anna's save did not happen …
    assert ("Register of new students (1957)", "en") in fields["title"]  # … Bo's stands

    # the page shows both versions, field by field
    tree = lxml_html.fromstring(body)
    rows = {r.xpath("./th")[0].text_content(): [td.text_content().strip() for td in r.xpath("./td")]
            for r in tree.xpath('//table[contains(@class,"diff")]/tbody/tr')}
    assert rows["title@en"][:2] == ["Register of new students (1957)", "Freshmen register, 1957"]
    assert "both" in tree.xpath('//tr[th="title@en"]/@class')[0]
    assert rows["note@zh"][0] == "博的附注。"  # theirs only
    assert rows["scope@zh"][1] == "安娜写的内容提要。"  # yours only
    assert "manager" in text(body)  # who saved in between

    # … and the form again: Anna's changes on top of Bo's revision, nothing lost
    again = form_values(body)
    assert again["revision"] == ["2"]
    assert again["title@en"] == ["Freshmen register, 1957"]  # yours (both changed it)
    assert again["scope@zh"] == ["安娜写的内容提要。"]  # yours
    assert again["note@zh"] == ["博的附注。"]  # theirs: Anna did not touch it
    assert again["title@zh"] == ["1957年新生名册"]

    # saving that form keeps both
    assert anna.post(URL, again).status_code == 303
    fields, revision = stored(site.home, FILE)
    assert revision == 3
    assert fields["scope"] == [("安娜写的内容提要。", "zh")]
    assert fields["note"] == [("博的附注。", "zh")]
    assert ("Freshmen register, 1957", "en") in fields["title"]


def test_a_save_from_an_old_form_never_undoes_what_others_did(site, app):
    """Fields neither side changed and fields only they changed stay theirs, even when the
    user goes back to the page and sends the old form again."""
    anna, bo = signed_in(app, "editor"), signed_in(app, "admin")
    old = form_values(anna.get(URL).get_data(as_text=True))
    theirs = {**form_values(bo.get(URL).get_data(as_text=True)), "place": [""]}
    assert bo.post(URL, theirs).status_code == 303  # Bo removes the place
    for _ in range(2):  # the old form, sent twice (a double click, the back button)
        assert anna.post(URL, {**old, "extent@zh": ["一册"]}).status_code == 409
    fields, revision = stored(site.home, FILE)
    assert revision == 2 and "place" not in fields and "extent" not in fields


def test_the_repository_guards_the_revision_too(site, app):
    """The revision check is the repository's (``expected_revision``): a save whose revision
    is stale by the time the write lock is held is refused there, not only by the page."""
    from repo.errors import Conflict
    from repo.repository import Repository

    with Repository.open(site.home) as repo:
        repo.edit(repo.user("admin"), FILE, set={"note@en": "First."})
        with pytest.raises(Conflict):
            repo.edit(repo.user("admin"), FILE, set={"note@en": "Second."}, expected_revision=1)
