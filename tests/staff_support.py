"""Signing in to the staff workspace from tests: a Flask test client that keeps its session
cookie and sends the page's CSRF token with every form, as a browser would.

    staff = signed_in(app, "editor")          # password set through the repository first
    page = staff.get("/staff/")
    staff.post("/staff/…", data={...})        # csrf_token added from the last page seen
"""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

PASSWORD = "staff-password-1"
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"|name="csrf_token" value="([^"]+)"')


class StaffClient:
    """A browser-like client of one Flask app, signed in as one account."""

    def __init__(self, app: Flask, lang: str = "en") -> None:
        self.client: FlaskClient = app.test_client()
        self.client.environ_base["wsgi.url_scheme"] = "https"  # the test site's base is https
        # a browser asking for English (tests read the English message ids) or for Chinese
        # (tests that read Chinese titles); a request's own Accept-Language or ?lang= still
        # chooses (tests/test_staff_i18n.py)
        self.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
        self.csrf = ""

    def _remember(self, resp):
        m = _CSRF.search(resp.get_data(as_text=True)) if resp.mimetype == "text/html" else None
        if m:
            self.csrf = m.group(1) or m.group(2)
        return resp

    def get(self, url: str, **kw):
        return self._remember(self.client.get(url, **kw))

    def post(self, url: str, data: dict | None = None, *, csrf: bool = True, **kw):
        data = dict(data or {})
        if csrf and "csrf_token" not in data:
            data["csrf_token"] = self.csrf
        return self._remember(self.client.post(url, data=data, **kw))

    def sign_in(self, username: str, password: str = PASSWORD):
        self.get("/staff/login")
        return self.post("/staff/login", {"username": username, "password": password})


def set_password(repo, username: str, password: str = PASSWORD) -> None:
    """Give ``username`` a password (as the admin), so that it can sign in."""
    repo.set_password(repo.user("admin"), username, password)


def signed_in(app: Flask, username: str, password: str = PASSWORD, *,
              lang: str = "en") -> StaffClient:
    staff = StaffClient(app, lang)
    resp = staff.sign_in(username, password)
    assert resp.status_code == 302, resp.get_data(as_text=True)[-500:]
    staff.get("/staff/")
    return staff
