"""The staff history page (issue 11, item 5): revisions with who, when and why; a readable
diff of any two (field labels and value labels, old and new side by side); compare with the
last published revision; revert and undelete with one click. Real site, real app."""

from __future__ import annotations

import html
import re

import pytest
from staff_support import signed_in
from support import FILE, ITEM, PLACE, SERIES, Site
from test_staff_workflow import make_app, repository, text

FILE_URL = FILE.lstrip("/")
SERIES_URL = SERIES.lstrip("/")


@pytest.fixture
def edited(site: Site):
    """The file retitled by the editor; the retention period of /xjtu/admin changed."""
    repo, admin, clock = site.repo, site.admin, site.clock
    clock.advance(minutes=1)
    repo.edit(site.role("Editor"), FILE, set={"title@en": "Freshmen, 1957"},
              message="shorter English title")
    repo.edit(admin, "/xjtu/admin", set={"retention": "D10"}, message="wrong retention")
    return site


def rows(page: str) -> dict[str, tuple[str, ...]]:
    """The diff table: label → (old cell, new cell) as text."""
    body = page.split('class="diff"')[1].split("</table>")[0]
    out = {}
    for label, old, new in re.findall(
            r'<th scope="row">(.*?)</th>\s*<td>(.*?)</td>\s*<td>(.*?)</td>', body, re.S):
        out[label] = tuple(html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
                           for cell in (old, new))
    return out


def test_revisions_with_who_when_and_why(edited):
    app = make_app(edited)
    page = text(signed_in(app, "reader").get(f"/staff/history/{FILE_URL}?lang=en"))
    assert page.count('name="b"') == 2  # two revisions
    assert "shorter English title" in page and ">editor<" in page and ">admin<" in page
    assert 'name="revision"' not in page  # a Reader may not revert


def test_a_diff_names_fields_and_values_by_their_labels(edited):
    app = make_app(edited)
    staff = signed_in(app, "editor")
    diff = rows(text(staff.get(f"/staff/history/{FILE_URL}?a=1&b=2&lang=en")))
    assert diff["Title (English)"] == ("Register of freshmen 1957", "Freshmen, 1957")
    zh = rows(text(staff.get("/staff/history/xjtu/admin?a=1&b=2&lang=zh")))
    assert zh["保管期限"] == ("定期30年", "定期10年")  # labels, not …/vocab/retention/D30
    # the place is a linked record: its title and path, not its IRI
    with repository(edited) as repo:
        repo.edit(repo.user("admin"), FILE, unset=["place"])
    full = rows(text(staff.get(f"/staff/history/{FILE_URL}?a=1&b=3&lang=en")))
    assert full["Place"] == (f"Xi'an ({PLACE})", "—")
    assert "https://archive.example.edu/id/" not in "".join(map(str, full.values()))


def test_compare_with_last_published_and_management_changes(edited):
    with repository(edited) as repo:
        admin = repo.user("admin")
        repo.transition(admin, FILE, "publish")
        repo.edit(admin, FILE, set={"title@en": "Freshmen of 1957"})
        published, current = repo.last_published(admin, FILE), repo.get(admin, FILE).revision
    app = make_app(edited)
    staff = signed_in(app, "reviewer")
    page = text(staff.get(f"/staff/history/{FILE_URL}?lang=en"))
    assert f"?a={published}&amp;b={current}" in page and "Compare with last published" in page
    diff = rows(text(staff.get(f"/staff/history/{FILE_URL}?a=2&b=3&lang=en")))
    assert diff["Workflow state"] == ("private", "published")


def test_revert_with_one_click_and_refusals(edited):
    app = make_app(edited)
    editor = signed_in(app, "editor")
    page = text(editor.get(f"/staff/history/{FILE_URL}"))
    assert 'name="revision"' in page
    resp = editor.post(f"/staff/history/{FILE_URL}", {"revision": "1"})
    assert resp.status_code == 303
    assert "Reverted to revision 1" in text(editor.get(resp.headers["Location"] + "&lang=en"))
    with repository(edited) as repo:
        obj = repo.get(repo.user("admin"), FILE)
        assert obj.title("en") == "Register of freshmen 1957" and obj.revision == 3
        before = sorted(map(str, repo.working))
    reader = signed_in(app, "reader")
    assert reader.post(f"/staff/history/{FILE_URL}", {"revision": "1"}).status_code == 403
    for data in ({"revision": "3"}, {"revision": "99"}, {"revision": "-1"},
                 {"revision": "x" * 100}, {}):
        resp = editor.post(f"/staff/history/{FILE_URL}", data)
        assert 400 <= resp.status_code < 500, (data, resp.status_code)
    assert editor.post(f"/staff/history/{FILE_URL}", {"revision": "1"},
                       csrf=False).status_code == 400
    with repository(edited) as repo:
        assert sorted(map(str, repo.working)) == before


def test_bad_revision_numbers_are_a_clear_4xx(edited):
    app = make_app(edited)
    staff = signed_in(app, "editor")
    for query in ("a=abc", "a=1&b=99", "a=99", "a=-1", "a=" + "9" * 50, "a=1&b=%00"):
        resp = staff.get(f"/staff/history/{FILE_URL}?{query}")
        assert 400 <= resp.status_code < 500, (query, resp.status_code)
        assert "Traceback" not in text(resp)
    assert staff.get("/staff/history/no/such/object").status_code == 404
    never = staff.get(f"/staff/history/{FILE_URL}?a=published&lang=en")  # never published
    assert never.status_code == 422 and "never published" in text(never)


def test_undelete_from_the_container_with_one_click(site):
    with repository(site) as repo:
        repo.edit(repo.user("admin"), ITEM, set={"title@en": "<script>alert('x')</script>"})
        repo.delete(repo.user("editor"), FILE, recursive=True, message="by mistake")
    app = make_app(site)
    editor = signed_in(app, "editor")
    page = text(editor.get(f"/staff/history/{SERIES_URL}?lang=en"))
    deleted = page.split('id="deleted-heading"')[1]
    assert "1957年新生名册" in deleted or "Register of freshmen 1957" in deleted
    assert f"<code>{FILE}</code>" in deleted
    iri = re.search(r'name="iri" value="([^"]+)"', deleted).group(1)
    assert text(signed_in(app, "reader").get(f"/staff/history/{SERIES_URL}")).count(
        'name="iri"') == 0
    assert signed_in(app, "reader").post(f"/staff/undelete/{SERIES_URL}",
                                         {"iri": iri}).status_code == 404
    for bad in ("", "not an iri", "https://archive.example.edu/id/record/nope",
                "https://" + "x" * 3000):
        resp = editor.post(f"/staff/undelete/{SERIES_URL}", {"iri": bad})
        assert 400 <= resp.status_code < 500, (bad, resp.status_code)
    resp = editor.post(f"/staff/undelete/{SERIES_URL}", {"iri": iri})
    assert resp.status_code == 303
    assert "2 object(s)" in text(editor.get(resp.headers["Location"] + "&lang=en"))
    with repository(site) as repo:
        admin = repo.user("admin")
        assert repo.get(admin, FILE).state == "private"
        assert repo.get(admin, ITEM).title("en") == "<script>alert('x')</script>"
    page = text(editor.get(f"/staff/history/{ITEM.lstrip('/')}?a=1&b=2"))
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_the_top_of_the_tree_lists_what_was_deleted_there(site):
    with repository(site) as repo:
        admin = repo.user("admin")
        repo.create(admin, "/", "folder", {"title": {"en": "Scratch"}}, slug="scratch")
        repo.delete(admin, "/scratch")
    app = make_app(site)
    manager = signed_in(app, "manager")
    page = text(manager.get("/staff/history/"))
    assert "<code>/scratch</code>" in page
    iri = re.search(r'name="iri" value="([^"]+)"', page).group(1)
    assert manager.post("/staff/undelete/", {"iri": iri}).status_code == 303
    with repository(site) as repo:
        assert repo.resolve("/scratch") == iri
