"""The add and edit forms of the staff workspace (issue 11, items 3 and 11; script escaped).

A real site on disk, the real app and its staff sessions; every save goes through the
repository, and each test reads the result back from the store (``Repository.open``), not
from the page that says it worked.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest
from lxml import html as lxml_html

sys.path.insert(0, str(Path(__file__).parent))

from staff_support import set_password, signed_in
from support import AGENTS, FILE, FONDS, SERIES, Site

from ontology import profile as profile_module
from ontology.profile import load_profile
from publisher.app import create_app
from repo.repository import Repository

STAFF_USERS = ("reader", "contributor", "editor", "manager", "admin")


def make_app(site: Site):
    for name in STAFF_USERS:
        set_password(site.repo, name)
    site.close()
    return create_app(site.home)


@pytest.fixture
def app(site):
    return make_app(site)


@pytest.fixture
def editor(app):
    return signed_in(app, "editor")


def stored(home: Path, ref: str) -> tuple[dict, int]:
    with Repository.open(home) as repo:
        obj = repo.get(repo.user("admin"), ref)
        return obj.fields(repo.base), obj.revision


def form_values(body: str) -> dict[str, list[str]]:
    """What a browser would send for the page's record form (inputs, selects, textareas)."""
    tree = lxml_html.fromstring(body)
    form = tree.xpath('//form[contains(@class, "record-form")]')[0]
    out: dict[str, list[str]] = {}
    for el in form.xpath(".//input[@name] | .//textarea[@name] | .//select[@name]"):
        if el.tag == "select":
            chosen = el.xpath("./option[@selected]/@value")
            value = chosen[0] if chosen else ""
        elif el.tag == "textarea":
            value = el.text or ""
        else:
            value = el.get("value", "")
        out.setdefault(el.get("name"), []).append(value)
    return out


def field_errors(body: str, name: str) -> list[str]:
    tree = lxml_html.fromstring(body)
    return [p.text_content() for p in tree.xpath(
        f'//fieldset[@id="field-{name}"]//p[@class="field-error"]')]


def text(body: str) -> str:
    return lxml_html.fromstring(body).text_content()


# ---------------------------------------------------------------------- generated from the profile
def containers(repo: Repository) -> dict[str, str]:
    """A path for each container type the types may be placed in ('root': '/')."""
    admin = repo.user("admin")
    found = {"root": ""}
    for _depth, obj in repo.walk(admin, "/"):
        found.setdefault(obj.type_name, obj.path.strip("/"))
    for t in load_profile().types.values():  # a container of a type the tree lacks
        if not t.allowed_in & set(found):
            holder = next(n for n in sorted(t.allowed_in)
                          if "root" in load_profile().type(n).allowed_in)
            made = repo.create(admin, "/", holder, {"title": {"zh": "容器", "en": "Holder"}})
            found[holder] = made.path.strip("/")
    return found


def test_every_field_of_every_type_appears_in_its_add_form(site):
    places = containers(site.repo)
    app = make_app(site)
    staff = signed_in(app, "admin")
    for t in load_profile().types.values():
        where = next(places[c] for c in sorted(t.allowed_in) if c in places)
        r = staff.get(f"/staff/add/{where}?type={t.name}")
        assert r.status_code == 200, (t.name, r.status_code)
        body = r.get_data(as_text=True)
        tree = lxml_html.fromstring(body)
        names = set(form_values(body))
        for f in t.fields.values():
            assert tree.xpath(f'//fieldset[@id="field-{f.name}"]'), (t.name, f.name)
            if f.set_by_ingest:
                assert f.name not in names, f"{t.name}.{f.name} is set by media ingest only"
            elif f.is_text:
                assert {f"{f.name}@zh", f"{f.name}@en"} <= names, (t.name, f.name)
            else:
                assert f.name in names, (t.name, f.name)
        for control in tree.xpath('//form[contains(@class,"record-form")]'
                                  '//*[self::input or self::select or self::textarea]'
                                  '[not(@type="hidden")]'):
            ident = control.get("id")
            assert ident and tree.xpath(f'//label[@for="{ident}"]'), \
                f"{t.name}: control {control.get('name')} has no label"


def test_edit_form_shows_the_values_side_by_side(editor):
    body = editor.get("/staff/edit/xjtu/students/register-1957",
                      headers={"Accept-Language": "zh"}).get_data(as_text=True)
    values = form_values(body)
    assert values["title@zh"] == ["1957年新生名册"]
    assert values["title@en"] == ["Register of freshmen 1957"]
    assert values["place"][0] == "/agents/xian"  # a link shown as the path, not the IRI
    assert values["revision"] == ["1"]
    titles = lxml_html.fromstring(body).xpath(
        '//fieldset[@id="field-place"]//*[@class="linked-title"]/text()')
    assert titles == ["西安"]  # the linked place's title beside the link
    item = editor.get("/staff/edit/xjtu/students/register-1957/page-1").get_data(as_text=True)
    assert form_values(item)["language"][0] in ("chi", "zh")
    vocab = lxml_html.fromstring(body).xpath('//select[@name="category"]/option/@value')
    assert {"XS", "XZ", "JX"} <= set(vocab)  # the 门类 scheme, as a select


def test_a_property_added_to_a_copy_of_the_profile_shows_up_and_saves(site, tmp_path,
                                                                     monkeypatch):
    copy = tmp_path / "profile.ttl"
    copy.write_text(profile_module.PROFILE_TTL.read_text(encoding="utf-8") + """
lt:p-shelfmark a sh:PropertyShape ; sh:path rico:physicalOrLogicalExtent ; sh:name "shelfmark" ;
    sh:datatype xsd:string ; sh:maxCount 1 ; sh:description "排架号 Shelf mark" .
lt:FileShape sh:property lt:p-shelfmark .
""", encoding="utf-8")
    monkeypatch.setattr(profile_module, "PROFILE_TTL", copy)
    profile_module.shapes_graph.cache_clear()
    profile_module.load_profile.cache_clear()
    try:
        app = make_app(site)
        staff = signed_in(app, "editor")
        body = staff.get("/staff/edit/xjtu/students/register-1957").get_data(as_text=True)
        assert "shelfmark" in form_values(body)
        assert "排架号" in text(body)
        sent = {**form_values(body), "shelfmark": ["B-12-3"]}
        r = staff.post("/staff/edit/xjtu/students/register-1957", sent)
        assert r.status_code == 303, text(r.get_data(as_text=True))[-800:]
        fields, revision = stored(site.home, FILE)
        assert fields["shelfmark"] == ["B-12-3"] and revision == 2
    finally:
        monkeypatch.undo()
        profile_module.shapes_graph.cache_clear()
        profile_module.load_profile.cache_clear()


# ---------------------------------------------------------------------- saving
def test_edit_saves_only_what_changed_through_the_repository(site, app, editor):
    body = editor.get("/staff/edit/xjtu/students/register-1957").get_data(as_text=True)
    sent = form_values(body)
    sent["title@en"] = ["Register of new students, 1957"]
    sent["scope@zh"] = ["一九五七年入学新生名册。"]
    sent["_lang.note"], sent["_text.note"] = ["bo"], ["ཐོ་གཞུང་།"]
    sent["message"] = ["better English title"]
    r = editor.post("/staff/edit/xjtu/students/register-1957", sent)
    assert r.status_code == 303 and r.headers["Location"].endswith("saved=1")
    fields, revision = stored(site.home, FILE)
    assert revision == 2
    assert ("Register of new students, 1957", "en") in fields["title"]
    assert ("1957年新生名册", "zh") in fields["title"]  # untouched: kept
    assert fields["scope"] == [("一九五七年入学新生名册。", "zh")]
    assert fields["note"] == [("ཐོ་གཞུང་།", "bo")]
    assert fields["refcode"] == ["0421-XS·1957-Y-0001"]
    with Repository.open(site.home) as repo:
        last = repo.history(repo.user("admin"), FILE)[-1]
        assert (last.author, last.message) == ("editor", "better English title")
    page = editor.get(r.headers["Location"]).get_data(as_text=True)
    assert "revision 2" in text(page)
    assert form_values(page)["note@bo"] == ["ཐོ་གཞུང་།"]  # another language, kept and shown
    # clearing a value removes it; a save with nothing changed is the repository's refusal
    sent = form_values(page)
    sent["scope@zh"] = [""]
    assert editor.post("/staff/edit/xjtu/students/register-1957", sent).status_code == 303
    fields, revision = stored(site.home, FILE)
    assert "scope" not in fields and revision == 3
    again = editor.post("/staff/edit/xjtu/students/register-1957",
                        form_values(editor.get("/staff/edit/xjtu/students/register-1957")
                                    .get_data(as_text=True)))
    assert again.status_code == 422 and "nothing to change" in text(again.get_data(as_text=True))
    assert stored(site.home, FILE)[1] == 3


def test_add_a_file_with_a_date_as_written_and_the_code_the_repository_gives(site, app, editor):
    page = editor.get("/staff/add/xjtu/students?type=file").get_data(as_text=True)
    sent = form_values(page)
    sent.update({"title@zh": ["1958年新生名册"], "title@en": ["Register of freshmen 1958"],
                 "date": ["1958年9月"], "creator": ["/agents/zhang-san"]})
    r = editor.post("/staff/add/xjtu/students?type=file", sent)
    assert r.status_code == 303, text(r.get_data(as_text=True))[-800:]
    assert r.headers["Location"].startswith("/staff/edit/xjtu/students/")
    with Repository.open(site.home) as repo:
        obj = repo.get(repo.user("admin"), r.headers["Location"][len("/staff/edit"):]
                       .split("?")[0])
        fields = obj.fields(repo.base)
        assert (obj.type_name, obj.owner, obj.state) == ("file", "editor", "private")
    assert fields["date"] == ["1958年9月"]
    assert fields["begin"] == ["1958-09"] and fields["end"] == ["1958-09"]
    assert fields["refcode"] == ["0421-XS·1958-Y-0001"]  # numbered by the repository
    assert fields["creator"] == [site.iris[f"{AGENTS}/zhang-san"]]


@pytest.mark.parametrize("written, begin, end", [
    ("1957-09", "1957-09", "1957-09"), ("1956/1958", "1956", "1958"), ("约1950", "1950", "1950"),
    ("1956年8月", "1956-08", "1956-08"), ("1950年代", "1950", "1959"),
])
def test_dates_as_archivists_write_them(site, app, editor, written, begin, end):
    sent = {"title@zh": ["日期测试"], "title@en": ["Date test"], "date": [written]}
    r = editor.post("/staff/add/xjtu/students?type=file", sent)
    assert r.status_code == 303, text(r.get_data(as_text=True))[-800:]
    fields, _ = stored(site.home, r.headers["Location"][len("/staff/edit"):].split("?")[0])
    assert (fields["date"], fields["begin"], fields["end"]) == ([written], [begin], [end])


def test_a_date_that_cannot_be_read_asks_for_the_normalised_dates(site, app, editor):
    sent = {"title@zh": ["民国档案"], "title@en": ["Republican records"], "date": ["民国时期"]}
    r = editor.post("/staff/add/xjtu/students?type=file", sent)
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    assert field_errors(body, "date") and "民国时期" in field_errors(body, "date")[0]
    assert form_values(body)["date"][0] == "民国时期"  # kept as typed
    with Repository.open(site.home) as repo:
        assert len(repo.children(repo.user("admin"), SERIES)) == 1  # nothing was made
    sent.update({"begin": ["1912"], "end": ["1949年"]})
    r = editor.post("/staff/add/xjtu/students?type=file", sent)
    assert r.status_code == 303
    fields, _ = stored(site.home, r.headers["Location"][len("/staff/edit"):].split("?")[0])
    assert (fields["date"], fields["begin"], fields["end"]) == (["民国时期"], ["1912"], ["1949"])


def test_the_repository_refusals_appear_next_to_their_fields_with_the_input_kept(site, app,
                                                                                editor):
    url = "/staff/edit/xjtu/students/register-1957"
    base = form_values(editor.get(url).get_data(as_text=True))
    cases = [
        ({"title@zh": ["Register"]}, "title", "CJK"),  # Latin text tagged Chinese
        ({"begin": ["1957-13"]}, "begin", "not a date"),
        ({"begin": ["1960"], "end": ["1958"]}, "begin", "after end"),
        ({"creator": ["/agents/nobody-here"]}, "creator", "no object"),
        ({"place": ["/xjtu/students"]}, "place", "expected Place"),
        ({"refcode": ["0999-XS·1957-Y-0001"]}, "refcode", "fonds"),
        ({"title@zh": [""], "title@en": [""]}, "title", "required"),
    ]
    for change, name, words in cases:
        r = editor.post(url, {**base, **change})
        body = r.get_data(as_text=True)
        assert r.status_code in (409, 422), (change, r.status_code)
        errors = field_errors(body, name)
        assert errors and words in " ".join(errors), (change, errors, text(body)[-600:])
        kept = form_values(body)
        for key, value in change.items():
            assert [v for v in kept.get(key, []) if v] == [v for v in value if v], key
    assert stored(site.home, FILE)[1] == 1  # nothing was saved


def test_add_another_row_without_script(editor):
    url = "/staff/edit/xjtu/students/register-1957"
    sent = form_values(editor.get(url).get_data(as_text=True))
    r = editor.post(url, {**sent, "creator": ["/agents/zhang-san"], "_more": "creator"})
    assert r.status_code == 200
    values = form_values(r.get_data(as_text=True))
    assert values["creator"] == ["/agents/zhang-san", "", ""]


def test_refcode_proposed_and_checked_as_one_types(site, app, editor):
    editor.get("/staff/add/xjtu/students?type=file")
    url = "/staff/lookup/refcode?type=file&path=/xjtu/students&new=1"
    proposed = editor.post(url, {"date": "1957年", "title@zh": "新"}).get_data(as_text=True)
    assert "0421-XS·1957-Y-0002" in proposed  # 0001 is taken by register-1957
    taken = editor.post(url, {"refcode": "0421-XS·1957-Y-0001", "begin": "1957"})
    assert "already used" in taken.get_data(as_text=True)
    fits = editor.post(url, {"refcode": "0421-XS·1957-Y-0007", "begin": "1957"})
    assert "fits and is free" in fits.get_data(as_text=True)
    wrong = editor.post(url, {"refcode": "0421-XZ·1957-Y-0007"}).get_data(as_text=True)
    assert "category" in wrong and "error" in wrong
    own = editor.post("/staff/lookup/refcode?type=file&path=/xjtu/students/register-1957&new=0",
                      {"refcode": "0421-XS·1957-Y-0001"}).get_data(as_text=True)
    assert "fits and is free" in own  # its own code is not "taken"
    # the no-script button gives the same answer in the form
    r = editor.post("/staff/add/xjtu/students?type=file", {"date": "1957", "_check": "refcode"})
    assert r.status_code == 200 and "0421-XS·1957-Y-0002" in text(r.get_data(as_text=True))
    with Repository.open(site.home) as repo:
        assert len(repo.children(repo.user("admin"), SERIES)) == 1  # asking wrote nothing


def test_date_hint(editor):
    body = editor.get("/staff/lookup/date?field=date&date=约1950").get_data(as_text=True)
    assert "1950" in body and "approximate" in body
    body = editor.get("/staff/lookup/date?field=begin&begin=1956年8月至1957年6月")
    assert "1956-08 – 1957-06" in body.get_data(as_text=True)
    bad = editor.get("/staff/lookup/date?field=date&date=<b>x</b>").get_data(as_text=True)
    assert "<b>" not in bad and "&lt;b&gt;" in bad


def test_type_ahead_offers_objects_of_the_classes_the_field_takes(editor):
    def offered(field: str, typed: str, type_name: str = "file") -> list[str]:
        r = editor.get(f"/staff/lookup/objects?field={field}&type={type_name}&{field}={typed}")
        assert r.status_code == 200
        return lxml_html.fragment_fromstring(r.get_data(as_text=True) or "<p/>",
                                             create_parent="datalist").xpath("//option/@value")
    assert offered("creator", "张") == ["/agents/zhang-san"]
    assert offered("creator", "zha") == ["/agents/zhang-san"]  # a prefix, still typing
    assert offered("place", "西") == ["/agents/xian"]  # places only: not the person
    assert offered("creator", "西安") == []  # a place is no creator
    assert offered("creator", "/agents/") == []  # a path is typed, not searched
    r = editor.get("/staff/lookup/objects?field=title&type=file&title=x")
    assert r.status_code == 400


def test_type_ahead_offers_only_what_the_user_may_view(site):
    """Someone with a local role on one fonds only: the agents folder is not theirs to see, so
    its people are neither offered nor titled in the form."""
    admin = site.repo.user("admin")
    site.repo.grant(admin, "nobody", "Editor", on=FONDS)
    set_password(site.repo, "nobody")
    app = make_app(site)
    local = signed_in(app, "nobody")
    r = local.get("/staff/lookup/objects?field=creator&type=file&creator=zha")
    assert r.status_code == 200 and "zhang-san" not in r.get_data(as_text=True)
    body = local.get("/staff/edit/xjtu/students/register-1957").get_data(as_text=True)
    tree = lxml_html.fromstring(body)
    assert not tree.xpath('//fieldset[@id="field-place"]//*[@class="linked-title"]')  # no title
    assert form_values(body)["place"][0] == site.iris["/agents/xian"]  # … only the IRI held
    editor = signed_in(app, "editor")
    r = editor.get("/staff/lookup/objects?field=creator&type=file&creator=zha")
    assert "zhang-san" in r.get_data(as_text=True)


def test_type_ahead_without_a_catalog_says_so_never_a_500(site, app, editor):
    import shutil

    shutil.rmtree(site.home / "catalog" / "staff")  # as during a rebuild
    r = editor.get("/staff/lookup/objects?field=creator&type=file&creator=zha")
    assert r.status_code == 503 and "type a path" in r.get_data(as_text=True)


# ---------------------------------------------------------------------- who may
def test_a_reader_sees_no_controls_and_is_refused(site, app):
    reader = signed_in(app, "reader")
    page = reader.get("/staff/edit/xjtu/students/register-1957").get_data(as_text=True)
    tree = lxml_html.fromstring(page)
    assert tree.xpath('//fieldset[@class="form-body"][@disabled]')
    assert not tree.xpath('//form[contains(@class,"record-form")]//button[@class="primary"]')
    sent = {**form_values(page), "title@en": ["Changed by a reader"]}
    r = reader.post("/staff/edit/xjtu/students/register-1957", sent)
    assert r.status_code == 403 and "may not" in text(r.get_data(as_text=True))
    r = reader.post("/staff/add/xjtu/students?type=file",
                    {"title@zh": ["读者"], "title@en": ["Reader's"]})
    assert r.status_code == 403
    assert stored(site.home, FILE)[1] == 1
    with Repository.open(site.home) as repo:
        assert len(repo.children(repo.user("admin"), SERIES)) == 1


def test_personal_fields_marked_ingest_fields_read_only(site):
    from repo.files import FileStore  # noqa: F401  (the media ingest path sets file identity)

    with site.repo.ingesting_files():
        site.repo.create(site.admin, "/xjtu/students/register-1957/page-1", "instantiation",
                         {"digest": "sha256:" + "a" * 64, "mime": "image/jpeg"},
                         slug="scan-1", key="scan-1")
    app = make_app(site)
    staff = signed_in(app, "editor")
    person = staff.get("/staff/edit/agents/zhang-san").get_data(as_text=True)
    tree = lxml_html.fromstring(person)
    assert tree.xpath('//fieldset[@id="field-birthDate"]//span[contains(@class,"personal")]')
    scan = staff.get("/staff/edit/xjtu/students/register-1957/page-1/scan-1")
    body = scan.get_data(as_text=True)
    assert "a" * 64 in body and "digest" not in form_values(body)
    sent = {**form_values(body), "digest": ["sha256:" + "b" * 64], "title@en": ["Scan one"]}
    r = staff.post("/staff/edit/xjtu/students/register-1957/page-1/scan-1", sent)
    assert r.status_code == 303
    fields, _ = stored(site.home, "/xjtu/students/register-1957/page-1/scan-1")
    assert fields["digest"] == ["sha256:" + "a" * 64]  # not sent: media ingest's alone


# ---------------------------------------------------------------------- bad input
def test_bad_input_is_a_clear_refusal_never_a_500(site, app, editor):
    url = "/staff/edit/xjtu/students/register-1957"
    sent = form_values(editor.get(url).get_data(as_text=True))
    long = editor.post(url, {**sent, "title@en": ["x" * 30_000]})
    assert long.status_code == 422 and "longer than" in text(long.get_data(as_text=True))
    huge = editor.post(url, {**sent, "scope@en": ["y" * 3_000_000]})
    assert 400 <= huge.status_code < 500
    for revision in ("", "abc", "0", "99", "1" * 30):
        r = editor.post(url, {**sent, "revision": [revision]})
        assert r.status_code in (400, 422), revision
    assert editor.post(url, {**sent, "_lang.title": ["zh\n"], "_text.title": ["别的"]}
                       ).status_code == 422
    raw = editor.client.post(url, data=f"csrf_token={editor.csrf}&revision=1&title%40en=%ED%A0%80"
                             "&title%40zh=%FF%FE", content_type="application/x-www-form-urlencoded")
    assert raw.status_code in (400, 422)  # bytes that are not UTF-8: refused, never a 500
    token = {"X-CSRF-Token": editor.csrf}
    assert editor.client.put(url, headers=token).status_code == 405
    assert editor.client.delete("/staff/add/xjtu?type=file", headers=token).status_code == 405
    assert editor.client.put("/staff/lookup/refcode", headers=token).status_code == 405
    assert editor.get("/staff/edit/xjtu/nowhere").status_code == 404
    chooser = editor.get("/staff/add/xjtu/students?type=person")
    assert chooser.status_code == 400
    offered = lxml_html.fromstring(chooser.data).xpath("//select[@name='type']/option/@value")
    assert "file" in offered and "person" not in offered
    assert editor.get("/staff/add/xjtu/students").status_code == 200
    assert stored(site.home, FILE)[1] == 1


# ---------------------------------------------------------------------- script is text
EVIL_EN = '</script><script>alert("x")</script>'
EVIL_ZH = '名册"><img src=x onerror=alert(1)>'


def test_script_in_any_field_is_rendered_escaped_on_staff_and_public_pages(site, app, editor):
    url = "/staff/edit/xjtu/students/register-1957"
    sent = form_values(editor.get(url).get_data(as_text=True))
    sent.update({"title@en": [EVIL_EN], "title@zh": [EVIL_ZH],
                 "scope@en": ['<a href="javascript:alert(1)">x</a> scope']})
    assert editor.post(url, sent).status_code == 303
    for page in (url, "/staff/edit/xjtu/students/register-1957/page-1"):
        body = editor.get(page).get_data(as_text=True)
        assert "<script>alert" not in body and "<img src=x" not in body
        assert 'href="javascript:' not in body
    body = editor.get(url).get_data(as_text=True)
    assert form_values(body)["title@en"] == [EVIL_EN]  # shown as typed, as text
    hint = editor.get("/staff/lookup/objects?field=subject&type=item&subject=alert")
    assert "<script>" not in hint.get_data(as_text=True)
    # an edit conflict page shows both versions escaped too
    conflict = editor.post(url, {**sent, "revision": ["1"], "title@en": [EVIL_EN + "2"]})
    assert conflict.status_code == 409 and "<script>alert" not in conflict.get_data(as_text=True)
    with Repository.open(site.home) as repo:
        admin = repo.user("admin")
        for ref in (FONDS, SERIES, FILE):
            repo.transition(admin, ref, "publish")
        assert repo.is_public(site.iris[FILE])
    public = app.test_client()
    key = site.iris[FILE].split("/id/", 1)[1]
    for lang in ("en", "zh"):
        body = public.get(f"/id/{key}?lang={lang}").get_data(as_text=True)
        assert "<script>alert" not in body and "<img src=x" not in body
        assert (EVIL_EN if lang == "en" else EVIL_ZH) in text(body)
    del public
    gc.collect()
