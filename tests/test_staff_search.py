"""Staff search (issue 11, item 8): the staff catalog with its facets, filtered to what the
signed-in user may view; results link to the staff pages.

A real site and the real app; the same catalog ``lantai search`` and ``@search`` use.
"""

from __future__ import annotations

import re
from functools import partial

import staff_support
from staff_support import set_password
from support import FILE, SERIES, Site

from publisher.app import create_app

# these tests read the tree's Chinese titles: the workspace in Chinese (its own words too)
signed_in = partial(staff_support.signed_in, lang="zh")

USERS = ("reader", "editor", "manager", "nobody")


def make_app(site: Site):
    for name in USERS:
        set_password(site.repo, name)
    site.close()
    return create_app(site.home)


def hits(html: str) -> list[str]:
    """The staff paths the results link to, in order."""
    return re.findall(r'<h3><a href="/staff/browse/([^"]*)">', html)


def test_search_finds_what_the_catalog_holds_with_facets_and_links(site):
    app = make_app(site)
    staff = signed_in(app, "editor")
    resp = staff.get("/staff/search?q=名册")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert sorted(hits(html)) == ["xjtu/students/register-1957",
                                  "xjtu/students/register-1957/page-1"]
    assert "<mark>名册</mark>" in html  # the match marked, the rest escaped
    assert "2 条结果" in html
    facets = html.split('class="facets"', 1)[1].split("</aside>", 1)[0]
    assert "案卷 (1)" in facets and "件 (1)" in facets  # type facet, in Chinese labels
    # a facet value is a link that filters, and (chosen) takes the filter away again
    link = re.search(r'href="(\?q=[^"]*type=item)"', facets).group(1).replace("&amp;", "&")
    only_items = staff.get("/staff/search" + link).get_data(as_text=True)
    assert hits(only_items) == ["xjtu/students/register-1957/page-1"]
    facets = only_items.split('class="facets"', 1)[1].split("</aside>", 1)[0]
    assert 'aria-current="true"' in facets
    assert 'href="?q=%E5%90%8D%E5%86%8C"' in facets  # clear all filters
    # no words: everything, in archival order, paged
    everything = staff.get("/staff/search?size=20").get_data(as_text=True)
    assert "8 条结果" in everything


def test_search_inside_a_folder_from_the_browse_header(site):
    iri = site.iris[SERIES.replace("students", "admin")]
    app = make_app(site)
    staff = signed_in(app, "editor")
    inside = staff.get("/staff/search", query_string={"q": "名册", "within": iri})
    assert inside.status_code == 200 and hits(inside.get_data(as_text=True)) == []
    students = staff.get("/staff/search", query_string={"q": "名册",
                                                        "within": site_iri(site, SERIES)})
    assert len(hits(students.get_data(as_text=True))) == 2


def site_iri(site: Site, path: str) -> str:
    return site.iris[path]


def test_results_are_what_the_user_may_view(site):
    repo, admin = site.repo, site.admin
    repo.grant(admin, "nobody", "Reader", on=FILE)
    app = make_app(site)
    nobody = signed_in(app, "nobody")
    html = nobody.get("/staff/search?q=名册").get_data(as_text=True)
    assert sorted(hits(html)) == ["xjtu/students/register-1957",
                                  "xjtu/students/register-1957/page-1"]
    assert hits(nobody.get("/staff/search?q=学生类").get_data(as_text=True)) == []
    assert hits(nobody.get("/staff/search").get_data(as_text=True)) == hits(html)[:0] + [
        p for p in hits(nobody.get("/staff/search").get_data(as_text=True))
        if p.startswith("xjtu/students/register-1957")]
    # a folder the user may not see is not found (nor confirmed to exist)
    hidden = nobody.get("/staff/search", query_string={"q": "x", "within": site.iris[SERIES]})
    assert hidden.status_code == 404
    reader = signed_in(app, "reader")  # a site-wide role views everything
    assert len(hits(reader.get("/staff/search?q=学生类").get_data(as_text=True))) >= 1


def test_bad_search_input_is_a_clear_4xx(site):
    app = make_app(site)
    staff = signed_in(app, "editor")
    for query in ("q=" + "x" * 1001, "sort=shoe-size", "page=0", "page=abc", "size=1000",
                  "colour=red", "year=sometime", "q=" + "\"" * 3):
        resp = staff.get("/staff/search?" + query)
        assert 400 <= resp.status_code < 500 or resp.status_code == 200, query
        assert resp.status_code != 500 and "Traceback" not in resp.get_data(as_text=True)
    assert staff.get("/staff/search?sort=shoe-size").status_code == 400
    assert staff.get("/staff/search?year=sometime").status_code == 422  # the catalog's Invalid
    assert staff.get("/staff/search?colour=red").status_code == 400
    assert staff.post("/staff/search").status_code == 405
    # script in the words comes back escaped
    html = staff.get("/staff/search", query_string={"q": "<script>x</script>"}) \
        .get_data(as_text=True)
    assert "<script>x</script>" not in html


def test_search_needs_a_session(site):
    app = make_app(site)
    resp = app.test_client().get("/staff/search?q=名册")
    assert resp.status_code == 302 and "/staff/login" in resp.headers["Location"]
