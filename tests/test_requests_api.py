"""The requests' JSON channel (``/api/requests``, issue 12 item 7), through the Flask test
client against a real site and a real SMTP server: the whole flow a WeChat mini-program
would drive (request, image, e-mail code, status code, status, download link, download);
bad bodies answered 4xx JSON; the same answer for an unknown number and a wrong e-mail; a
token that opens one request and nothing else; the throttles; the OpenAPI document."""

from __future__ import annotations

import base64
import hashlib
import io
import struct
import zlib

import pytest
from PIL import Image

from publisher.app import create_app
from services.requests.model import Copy
from services.requests.store import RequestStore, new_code

EMAIL = "zhao.siyuan@example.org"
FIELDS = {"name": "赵思远 <script>alert(1)</script>", "student_number": "2005012345",
          "year_from": 2005, "year_to": 2009, "department": "电气工程学院",
          "id_type": "resident_id", "id_number": "61010219870101123X", "kind": "transcript",
          "languages": ["en", "zh"], "copies": 2, "purpose": "visa",
          "delivery": "electronic", "email": EMAIL, "phone": "+86 138 0000 0000"}


@pytest.fixture
def app(site, smtp):
    smtp.configure(site.home)
    home = site.home
    site.close()
    return create_app(home, TESTING=True)


def client(app, address: str = "198.51.100.7"):
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = address
    return c


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def png(width: int = 64, height: int = 40) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def bomb() -> bytes:
    """A small PNG whose header claims 100,000 × 100,000 pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))


def make(c, smtp, **changes) -> tuple[str, str]:
    """A new request over JSON: its pending token and the code e-mailed for it."""
    seen = len(smtp.messages)
    resp = c.post("/api/requests", json={**FIELDS, **changes})
    assert resp.status_code == 201, resp.get_json()
    data = resp.get_json()
    assert data["status"] == "unverified" and data["code_sent"] is True
    msg = smtp.wait_for(to=changes.get("email", EMAIL), after=seen)
    return data["token"], smtp.code_in(msg)


def verified(c, smtp, **changes) -> str:
    token, code = make(c, smtp, **changes)
    resp = c.post("/api/requests/verify-email", json={"code": code}, headers=bearer(token))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["number"]


def opened(c, smtp, number: str, email: str = EMAIL) -> str:
    seen = len(smtp.messages)
    resp = c.post("/api/requests/status-code", json={"number": number, "email": email})
    assert resp.status_code == 202
    code = smtp.code_in(smtp.wait_for(to=email, after=seen))
    resp = c.post("/api/requests/open", json={"number": number, "code": code})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["token"]


def issue(home, number: str) -> Copy:
    """Staff issue a copy (the store's own step; certify makes the real PDF)."""
    store = RequestStore.open(home)
    pdf = b"%PDF-1.7\n% a certified copy of " + number.encode() + b"\n%%EOF\n"
    copy = Copy(code=new_code(), request_id=number, language="en",
                sha256=hashlib.sha256(pdf).hexdigest(), pages=1, signed_at="2026-12-07T10:00:00Z",
                signer="CN=test", issued_by="editor")
    store.add_copy(copy, pdf)
    return copy


# ---------------------------------------------------------------------- the flow
def test_the_whole_flow_over_json(app, smtp):
    c = client(app)
    token, code = make(c, smtp)
    # the identity image, base64 in JSON, kept re-encoded
    resp = c.post("/api/requests/id-image", json={"image": base64.b64encode(png()).decode()},
                  headers=bearer(token))
    assert resp.status_code == 200 and resp.get_json() == {"kept": True, "type": "image/png"}
    # a wrong code uses a try, the right one submits the request
    wrong = "000000" if code != "000000" else "111111"
    resp = c.post("/api/requests/verify-email", json={"code": wrong}, headers=bearer(token))
    assert resp.status_code == 422 and resp.get_json()["tries_left"] == 4
    resp = c.post("/api/requests/verify-email", json={"code": code}, headers=bearer(token))
    assert resp.status_code == 200
    number = resp.get_json()["number"]
    assert resp.get_json()["status"] == "submitted"
    store = RequestStore.open(app.config["LANTAI_HOME"])
    req = store.get(number, unseal=True)
    assert req.channel == "wechat" and req.has_id_image and req.copies == 2
    assert req.languages == ("en", "zh") or set(req.languages) == {"zh", "en"}
    assert req.personal.name == FIELDS["name"]  # kept as typed; escaped where shown
    # the status: number + e-mail → a code → a status token
    status_token = opened(c, smtp, number)
    resp = c.get("/api/requests/status", headers=bearer(status_token))
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    body = resp.get_json()
    assert body["number"] == number and body["status"] == "submitted"
    assert [s["action"] for s in body["steps"]][:2] == ["created", "submitted"]
    assert body["issued"] == [] and "name" not in body and EMAIL not in resp.get_data(True)
    # staff issue a copy: the status lists it, a download link fetches it
    copy = issue(app.config["LANTAI_HOME"], number)
    body = c.get("/api/requests/status", headers=bearer(status_token)).get_json()
    assert [x["code"] for x in body["issued"]] == [copy.code]
    resp = c.post("/api/requests/download-link", json={"code": copy.code},
                  headers=bearer(status_token))
    assert resp.status_code == 201
    url = resp.get_json()["url"]
    assert url.startswith(app.config["BASE"].rstrip("/") + "/requests/download/")
    pdf = c.get(url.removeprefix(app.config["BASE"].rstrip("/")))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert hashlib.sha256(pdf.get_data()).hexdigest() == copy.sha256
    # a withdrawn copy gets no new link
    store.revoke(copy.code, "editor", "issued by mistake")
    resp = c.post("/api/requests/download-link", json={"code": copy.code},
                  headers=bearer(status_token))
    assert resp.status_code == 410 and resp.get_json()["error"] == "gone"


def test_send_again_gives_a_new_code(app, smtp):
    c = client(app)
    token, first = make(c, smtp)
    seen = len(smtp.messages)
    resp = c.post("/api/requests/send-again", json={}, headers=bearer(token))
    assert resp.status_code == 202 and resp.get_json()["code_sent"] is True
    second = smtp.code_in(smtp.wait_for(to=EMAIL, after=seen))
    if first != second:  # the new code replaced the old one
        resp = c.post("/api/requests/verify-email", json={"code": first},
                      headers=bearer(token))
        assert resp.status_code == 422
    resp = c.post("/api/requests/verify-email", json={"code": second}, headers=bearer(token))
    assert resp.status_code == 200


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(("body", "ctype", "status"), [
    (b"{not json", "application/json", 400),
    (b"[1, 2]", "application/json", 400),
    (b"", "application/json", 400),
    (b'{"name": "x"}', "text/plain", 415),
    (b'{"name": "\\ud800"}', "application/json", 400),  # a lone surrogate
    (b"[" * 100_000, "application/json", 413),  # larger than any request needs
])
def test_bad_bodies_are_4xx_json(app, body, ctype, status):
    resp = client(app).post("/api/requests", data=body, content_type=ctype)
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    assert resp.is_json and set(resp.get_json()) >= {"error", "message"}


@pytest.mark.parametrize("change", [
    {"copies": "2"}, {"copies": 0}, {"copies": 21}, {"languages": "zh"},
    {"languages": ["fr"]}, {"languages": []}, {"kind": "diploma"}, {"year_from": "2005"},
    {"name": ["a"]}, {"name": "x" * 101}, {"email": "not an address"}, {"unknown": 1},
    {"id_number": "6101 0219"}, {"phone": "call me"}, {"purpose": None},
])
def test_wrong_types_and_values_are_400(app, change):
    resp = client(app).post("/api/requests", json={**FIELDS, **change})
    assert resp.status_code == 400, (change, resp.get_json())
    assert resp.get_json()["error"] == "bad-request"


@pytest.mark.parametrize(("change", "field"), [
    ({"delivery": "post"}, "address"), ({"kind": "other"}, "other_text"),
    ({"year_from": 2010, "year_to": 2009}, "year_to"), ({"name": "   "}, "name"),
    ({"purpose": "a\x00b"}, "purpose"),
])
def test_what_the_form_refuses_is_422_by_field(app, change, field):
    resp = client(app).post("/api/requests", json={**FIELDS, **change})
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["fields"]


def test_bad_images_are_refused(app, smtp):
    c = client(app)
    token, _ = make(c, smtp)
    for image, status in ((b"not an image at all", 415), (bomb(), 415)):
        resp = c.post("/api/requests/id-image", json={"image": base64.b64encode(image).decode()},
                      headers=bearer(token))
        assert resp.status_code == status and resp.is_json, resp.get_json()
    resp = c.post("/api/requests/id-image", json={"image": "@@@ not base64"},
                  headers=bearer(token))
    assert resp.status_code == 400
    # larger than requests_upload_max_mb (10 MB): refused before it is read
    big = b'{"image": "' + b"A" * (14 * 1024 * 1024) + b'"}'
    resp = c.post("/api/requests/id-image", data=big, content_type="application/json",
                  headers=bearer(token))
    assert resp.status_code == 413 and resp.is_json


def test_methods_and_unknown_endpoints(app):
    c = client(app)
    resp = c.get("/api/requests")
    assert resp.status_code == 405 and resp.headers["Allow"] and resp.is_json
    resp = c.post("/api/requests/status", json={})
    assert resp.status_code == 405 and "GET" in resp.headers["Allow"]
    assert c.delete("/api/requests/open").status_code == 405
    resp = c.get("/api/requests/nothing-here")
    assert resp.status_code == 404 and resp.is_json


# ---------------------------------------------------------------------- enumeration, tokens
def test_unknown_number_and_wrong_email_answer_the_same(app, smtp):
    c = client(app)
    number = verified(c, smtp)
    answers = []
    for body in ({"number": "CD2026-AAAA-BBBB-CCCC-DDDD", "email": EMAIL},
                 {"number": number, "email": "someone.else@example.org"},
                 {"number": number, "email": EMAIL}):
        resp = c.post("/api/requests/status-code", json=body)
        answers.append((resp.status_code, resp.get_data()))
    assert answers[0] == answers[1] == answers[2]
    # opening: an unknown number and a wrong code are the same 422
    wrong = []
    for body in ({"number": "CD2026-AAAA-BBBB-CCCC-DDDD", "code": "123456"},
                 {"number": number, "code": "12345 6"}):
        resp = c.post("/api/requests/open", json=body)
        wrong.append((resp.status_code, resp.get_json()["message"]))
    assert wrong[0] == wrong[1] and wrong[0][0] == 422


def test_a_token_opens_its_own_request_and_nothing_else(app, smtp):
    c = client(app)
    mine = verified(c, smtp)
    theirs = verified(c, smtp, email="other.person@example.org")
    their_copy = issue(app.config["LANTAI_HOME"], theirs)
    token = opened(c, smtp, mine)
    assert c.get("/api/requests/status", headers=bearer(token)).get_json()["number"] == mine
    # another request's copy: not in this request
    resp = c.post("/api/requests/download-link", json={"code": their_copy.code},
                  headers=bearer(token))
    assert resp.status_code == 404
    # a pending token is not a status token, a tampered one is nothing, none is 401
    pending, _ = make(c, smtp, email="third@example.org")
    for headers in (bearer(pending), bearer(token[:-2] + ("AA" if token[-2:] != "AA" else "BB")),
                    {}, {"Authorization": "Basic abc"}, bearer("x" * 500)):
        resp = c.get("/api/requests/status", headers=headers)
        assert resp.status_code == 401 and resp.is_json, headers
    # and a status token does not verify or upload for a pending request
    resp = c.post("/api/requests/verify-email", json={"code": "123456"}, headers=bearer(token))
    assert resp.status_code == 401


def test_failures_from_one_client_are_throttled(app, smtp):
    c = client(app, "203.0.113.9")
    for _ in range(10):
        resp = c.post("/api/requests/open", json={"number": "CD2026-AAAA-BBBB-CCCC-DDDD",
                                                  "code": "123456"})
        assert resp.status_code == 422
    resp = c.post("/api/requests/open", json={"number": "CD2026-AAAA-BBBB-CCCC-DDDD",
                                              "code": "123456"})
    assert resp.status_code == 429 and resp.headers["Retry-After"] and resp.is_json
    assert c.post("/api/requests/status-code", json={
        "number": "CD2026-AAAA-BBBB-CCCC-DDDD", "email": EMAIL}).status_code == 429
    # another client is not held back
    other = client(app, "203.0.113.10")
    assert other.post("/api/requests/open", json={"number": "CD2026-AAAA-BBBB-CCCC-DDDD",
                                                  "code": "123456"}).status_code == 422


def test_new_requests_from_one_client_are_throttled(app, smtp):
    c = client(app, "203.0.113.20")
    for i in range(20):  # the public form's limit: 20 an hour from one client
        resp = c.post("/api/requests", json={**FIELDS, "email": f"p{i}@example.org"})
        assert resp.status_code == 201, (i, resp.get_json())
    resp = c.post("/api/requests", json={**FIELDS, "email": "p99@example.org"})
    assert resp.status_code == 429


# ---------------------------------------------------------------------- the document
def test_the_openapi_document_lists_every_endpoint(app):
    doc = client(app).get("/api/openapi.json").get_json()
    ops = {(path, method): op for path, item in doc["paths"].items()
           for method, op in item.items() if path.startswith("/requests")}
    assert set(ops) == {("/requests", "post"), ("/requests/id-image", "post"),
                        ("/requests/verify-email", "post"), ("/requests/send-again", "post"),
                        ("/requests/status-code", "post"), ("/requests/open", "post"),
                        ("/requests/status", "get"), ("/requests/download-link", "post")}
    assert ops[("/requests", "post")]["security"] == []
    assert ops[("/requests/status", "get")]["security"] == [{"statusToken": []}]
    assert "429" in ops[("/requests/open", "post")]["responses"]
    new = doc["components"]["schemas"]["RequestNew"]
    assert new["additionalProperties"] is False and new["properties"]["name"]["maxLength"] == 100
    assert {"pendingToken", "statusToken"} <= set(doc["components"]["securitySchemes"])
