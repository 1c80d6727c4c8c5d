"""The staff workspace's files page (``/staff/files/<path>``): uploads staged, resumable and
checked by content, ingested by the code ``lantai ingest media`` runs; derivatives served to
staff only; pages reordered; failed OCR recorded and listed.

Real files (Pillow), the real app and stores; what is stored is checked in the file store,
the staging folder and the working store.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from staff_support import set_password, signed_in

from iiif import jobs
from publisher.app import create_app
from repo.files import FileStore
from repo.repository import Repository

ITEM = "xjtu/students/register-1957/page-1"
FILES_URL = f"/staff/files/{ITEM}"


def jpeg(color=(200, 180, 150), size=(300, 420)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def pdf_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (200, 280), (255, 255, 255)).save(buf, format="PDF", resolution=72)
    return buf.getvalue()


@pytest.fixture
def app(site):
    for name in ("editor", "reader", "reviewer", "manager"):
        set_password(site.repo, name)
    home = site.home
    site.close()
    return create_app(home)


def stored(home: Path) -> set[str]:
    return set(FileStore.for_site(home).digests())


def staged(home: Path) -> list[Path]:
    root = home / "staff" / "uploads"
    return sorted(root.iterdir()) if root.is_dir() else []


def instantiations(home: Path) -> list[str]:
    repo = Repository.open(home, wait=5)
    try:
        admin = repo.user("admin")
        return [o.slug for o in repo.children(admin, "/" + ITEM)
                if o.type_name == "instantiation"]
    finally:
        repo.close()


def test_the_page_lists_no_files_and_offers_the_upload_form(app):
    staff = signed_in(app, "editor")
    page = staff.get(FILES_URL)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and 'name="csrf_token"' in html
    assert "<label for=\"upload-files\">" in html
    assert page.headers["Cache-Control"] == "private, no-store"


def test_a_plain_form_upload_attaches_the_scans_and_shows_them(app):
    staff = signed_in(app, "editor")
    staff.get(FILES_URL)
    resp = staff.post(FILES_URL, {"files": [(io.BytesIO(jpeg()), "scan-1.jpg"),
                                            (io.BytesIO(jpeg((10, 20, 30))), "scan-2.jpg")]},
                      content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_data(as_text=True)[-800:]
    home = app.config["LANTAI_HOME"]
    assert instantiations(home) == ["scan-1.jpg", "scan-2.jpg"]
    assert staged(home) == []
    html = staff.get(FILES_URL).get_data(as_text=True)
    assert "/staff/files/-/derivative/" in html  # thumbnails through the staff route
    thumb = html.split('src="/staff/files/-/derivative/')[1].split('"')[0]
    img = staff.get("/staff/files/-/derivative/" + thumb)
    assert img.status_code == 200 and img.mimetype == "image/jpeg"
    assert img.headers["Cache-Control"] == "private, no-store"


def test_a_jpg_that_is_a_pdf_or_a_program_is_refused_with_415_and_nothing_stored(app):
    staff = signed_in(app, "editor")
    staff.get(FILES_URL)
    home = app.config["LANTAI_HOME"]
    before = stored(home)
    for data, words in ((pdf_bytes(), "a PDF document"),
                        (b"\x7fELF\x02\x01\x01" + b"\0" * 200, "an executable program")):
        resp = staff.post(FILES_URL, {"files": [(io.BytesIO(jpeg()), "fine.jpg"),
                                                (io.BytesIO(data), "scan.jpg")]},
                          content_type="multipart/form-data")
        assert resp.status_code == 415
        assert words in resp.get_data(as_text=True)
    assert stored(home) == before
    assert staged(home) == []
    assert instantiations(home) == []


def test_a_reader_may_not_upload(app):
    staff = signed_in(app, "reader")
    page = staff.get(FILES_URL)
    assert page.status_code == 200
    assert "upload-form" not in page.get_data(as_text=True)
    resp = staff.post(FILES_URL, {"files": [(io.BytesIO(jpeg()), "scan-1.jpg")]},
                      content_type="multipart/form-data")
    assert resp.status_code == 403
    home = app.config["LANTAI_HOME"]
    assert instantiations(home) == [] and staged(home) == []
    assert stored(home) == set()


def test_a_post_without_the_csrf_token_changes_nothing(app):
    staff = signed_in(app, "editor")
    resp = staff.post(FILES_URL, {"files": [(io.BytesIO(jpeg()), "scan-1.jpg")]},
                      csrf=False, content_type="multipart/form-data")
    assert resp.status_code == 400
    assert instantiations(app.config["LANTAI_HOME"]) == []


def test_an_upload_above_the_site_limit_is_413_before_anything_is_stored(app):
    staff = signed_in(app, "editor")
    staff.get(FILES_URL)
    resp = staff.client.post("/staff/files/-/uploads", data={
        "path": "/" + ITEM, "name": "huge.mp4", "size": str(1 << 45)},
        headers={"X-CSRF-Token": staff.csrf})
    assert resp.status_code == 413
    assert "limit" in resp.get_json()["error"]
    assert staged(app.config["LANTAI_HOME"]) == []


def test_resumable_upload_in_parts_then_ingest(app):
    staff = signed_in(app, "editor")
    staff.get(FILES_URL)
    headers = {"X-CSRF-Token": staff.csrf}
    data = jpeg(size=(900, 1200))
    begin = staff.client.post("/staff/files/-/uploads", headers=headers, data={
        "path": "/" + ITEM, "name": "big-scan.jpg", "size": str(len(data))})
    assert begin.status_code == 201, begin.get_data(as_text=True)
    up = begin.get_json()["id"]
    url = f"/staff/files/-/uploads/{up}"
    half = len(data) // 2
    r = staff.client.put(url, data=data[:half], headers={**headers, "Upload-Offset": "0"})
    assert r.status_code == 200 and r.get_json()["received"] == half
    # a part that does not start where the file ends: 409, and the client asks
    r = staff.client.put(url, data=data[half + 10:], headers={**headers,
                                                             "Upload-Offset": str(half + 10)})
    assert r.status_code == 409
    assert staff.client.get(url).get_json()["received"] == half
    r = staff.client.put(url, data=data[half:], headers={**headers,
                                                        "Upload-Offset": str(half)})
    assert r.get_json()["received"] == len(data)
    done = staff.client.post("/staff/files/-/ingest", headers=headers, data={"upload": up})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert [a["file"] for a in done.get_json()["attached"]] == ["big-scan.jpg"]
    home = app.config["LANTAI_HOME"]
    assert instantiations(home) == ["big-scan.jpg"]
    assert staged(home) == []
    assert staff.client.get(url).status_code == 404  # finished: gone


def test_a_part_whose_first_bytes_contradict_the_name_ends_the_upload(app):
    staff = signed_in(app, "editor")
    staff.get(FILES_URL)
    headers = {"X-CSRF-Token": staff.csrf}
    data = b"MZ\x90\x00" + b"\0" * 5000
    up = staff.client.post("/staff/files/-/uploads", headers=headers, data={
        "path": "/" + ITEM, "name": "photo.png", "size": str(len(data))}).get_json()["id"]
    r = staff.client.put(f"/staff/files/-/uploads/{up}", data=data[:1000],
                         headers={**headers, "Upload-Offset": "0"})
    assert r.status_code == 415
    assert "executable program (Windows)" in r.get_json()["error"]
    assert staged(app.config["LANTAI_HOME"]) == []


def test_another_accounts_upload_is_not_found(app):
    editor = signed_in(app, "editor")
    editor.get(FILES_URL)
    up = editor.client.post("/staff/files/-/uploads", headers={"X-CSRF-Token": editor.csrf},
                            data={"path": "/" + ITEM, "name": "a.jpg", "size": "100"}
                            ).get_json()["id"]
    manager = signed_in(app, "manager")
    assert manager.client.get(f"/staff/files/-/uploads/{up}").status_code == 404
    r = manager.client.put(f"/staff/files/-/uploads/{up}", data=b"x" * 10,
                           headers={"X-CSRF-Token": manager.csrf, "Upload-Offset": "0"})
    assert r.status_code == 404


def test_pages_are_reordered_and_the_order_is_kept(app):
    staff = signed_in(app, "editor")
    staff.get(FILES_URL)
    staff.post(FILES_URL, {"files": [(io.BytesIO(jpeg((i * 40, 0, 0))), f"p{i}.jpg")
                                     for i in range(1, 4)]},
               content_type="multipart/form-data")
    home = app.config["LANTAI_HOME"]
    assert instantiations(home) == ["p1.jpg", "p2.jpg", "p3.jpg"]
    html = staff.get(FILES_URL).get_data(as_text=True)
    key3 = html.split('id="f-')[3].split('"')[0]
    r = staff.post("/staff/files/-/order", {"path": "/" + ITEM, "key": key3, "dir": "up"})
    assert r.status_code == 303
    assert instantiations(home) == ["p1.jpg", "p3.jpg", "p2.jpg"]


def test_a_failed_ocr_is_recorded_and_shown(app, monkeypatch):
    import iiif.ocr

    def broken(home, digest, mime=None):
        raise iiif.ocr.OCRError("the recogniser crashed")
    monkeypatch.setattr(iiif.ocr, "ocr_for_ingest", broken)
    staff = signed_in(app, "editor")
    staff.get(FILES_URL)
    resp = staff.post(FILES_URL, {"files": [(io.BytesIO(jpeg()), "scan-1.jpg")]},
                      content_type="multipart/form-data")
    assert resp.status_code == 201
    home = app.config["LANTAI_HOME"]
    failed = jobs.failures(home)
    assert [(f.job, f.target, f.message) for f in failed] == [
        ("ocr", "/" + ITEM, "the recogniser crashed")]
    html = staff.get(FILES_URL).get_data(as_text=True)
    assert "the recogniser crashed" in html
    dashboard = staff.get("/staff/").get_data(as_text=True)
    section = dashboard.split('id="failed-jobs-heading"')[1].split("</section>")[0]
    assert "the recogniser crashed" in section and f'href="{FILES_URL}"' in section
    monkeypatch.undo()
    jobs.succeeded(home, "ocr", [failed[0].digest])
    assert jobs.failures(home) == []


def test_a_private_record_shows_no_public_viewer(app):
    staff = signed_in(app, "editor")
    html = staff.get(FILES_URL).get_data(as_text=True)
    assert "data-iiif-manifest" not in html
    assert "not public" in html


def test_a_plain_form_above_the_limit_is_413_before_it_is_read(site):
    import dataclasses

    from repo.config import write_settings

    set_password(site.repo, "editor")
    write_settings(site.home, dataclasses.replace(site.repo.settings, staff_upload_max_mb=1))
    home = site.home
    site.close()
    staff = signed_in(create_app(home), "editor")
    staff.get(FILES_URL)
    over = b"\xff\xd8\xff" + bytes(3 << 19)  # 1.5 MiB: a form may carry it, a file may not
    resp = staff.post(FILES_URL, {"files": [(io.BytesIO(over), "s.jpg")]},
                      content_type="multipart/form-data")
    assert resp.status_code == 413
    assert f"{len(over)} bytes, above this site" in resp.get_data(as_text=True)
    # a body above what a form may carry is refused from its length, before it is read
    resp = staff.post(FILES_URL, {"files": [(io.BytesIO(bytes(6 << 20)), "s.jpg")]},
                      content_type="multipart/form-data")
    assert resp.status_code == 413
    assert "larger than this site accepts" in resp.get_data(as_text=True)
    assert staged(home) == [] and instantiations(home) == []


def test_the_dashboard_says_when_no_job_failed(app):
    staff = signed_in(app, "editor")
    html = staff.get("/staff/").get_data(as_text=True)
    assert 'id="failed-jobs-heading"' in html


@pytest.mark.parametrize("url", [
    "/staff/files/-/derivative/nokey/thumb", "/staff/files/-/derivative/BAD KEY/thumb",
    "/staff/files/-/derivative/abc/../../etc", "/staff/files/-/original/abc",
    "/staff/files/-/uploads/notanid", "/staff/files/xjtu/nowhere",
    "/staff/files/xjtu",  # a fonds has no files
])
def test_bad_addresses_are_404_pages(app, url):
    staff = signed_in(app, "editor")
    resp = staff.get(url)
    assert resp.status_code == 404, (url, resp.status_code)


def test_routes_answer_only_their_methods(app):
    staff = signed_in(app, "editor")
    staff.get(FILES_URL)
    assert staff.client.put(FILES_URL, headers={"X-CSRF-Token": staff.csrf}).status_code == 405
    assert staff.client.delete("/staff/files/-/ingest",
                               headers={"X-CSRF-Token": staff.csrf}).status_code == 405
    assert staff.client.get("/staff/files/-/ingest").status_code in (404, 405)


def test_a_public_record_shows_the_public_viewer(site):
    admin = site.admin
    path = ""
    for slug in ITEM.split("/"):
        path += "/" + slug
        if site.repo.get(admin, path).access != "open":
            site.repo.set_access(admin, path, "open")
        site.repo.transition(admin, path, "publish")
    set_password(site.repo, "manager")
    home = site.home
    site.close()
    app = create_app(home)
    staff = signed_in(app, "manager")
    staff.get(FILES_URL)
    resp = staff.post(FILES_URL, {"files": [(io.BytesIO(jpeg()), "scan-1.jpg")]},
                      content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_data(as_text=True)[-600:]
    html = staff.get(FILES_URL).get_data(as_text=True)
    assert 'data-iiif-manifest="https://archive.example.edu/iiif/manifest/' in html
    assert "data-words=" in html and ' style="' not in html  # the staff CSP: no inline style
    manifest = html.split('data-iiif-manifest="https://archive.example.edu')[1].split('"')[0]
    public = app.test_client().get(manifest)  # the same manifest, public, without a session
    assert public.status_code == 200 and public.get_json()["type"] == "Manifest"
