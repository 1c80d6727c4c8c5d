"""Taking access back (issue 10, item 11): roles, local roles, tokens, accounts.

Over real HTTP: a site served by waitress as ``lantai serve`` serves it, the real ``lantai``
executable run in between, and the next request must see the change (the API reads accounts
on every request; no cache may keep a revoked token alive). Every change is in the history.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from support import FILE, ITEM, SERIES, run_lantai, served
from test_api import Api

from repo.security import token_hash


def call(url: str, token: str, method: str = "GET", path: str = ITEM,
         body: dict | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + "/api" + path, data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def live(site):
    api = Api(site)
    with served(api.app) as api.url:
        yield api


@pytest.mark.slow
def test_revocations_by_the_command_line_count_at_the_next_request(live):
    url, home, t = live.url, live.home, live.tokens
    edits = iter(range(100))

    def title() -> dict:
        return {"fields": {"title": {"en": f"Edited {next(edits)}"}}}

    # a site role
    assert call(url, t["editor"], "PATCH", body=title()) == 200
    run_lantai(home, "users", "revoke", "editor", "Editor", "-m", "left the team")
    assert call(url, t["editor"]) == 404  # no role: cannot even see it
    assert call(url, t["editor"], "PATCH", body=title()) in (403, 404)
    # a local role
    run_lantai(home, "users", "grant", "reader", "Editor", "--on", SERIES)
    assert call(url, t["reader"], "PATCH", body=title()) == 200
    run_lantai(home, "users", "revoke", "reader", "Editor", "--on", SERIES)
    assert call(url, t["reader"], "PATCH", body=title()) == 403
    assert call(url, t["reader"]) == 200  # still a Reader
    # a new token replaces the old one, unless --keep
    new = run_lantai(home, "users", "token", "reader").stdout.strip()
    assert call(url, t["reader"]) == 401 and call(url, new) == 200
    kept = run_lantai(home, "users", "token", "reader", "--keep").stdout.strip()
    assert call(url, new) == 200 and call(url, kept) == 200
    ids = run_lantai(home, "users", "tokens", "reader").stdout.split()
    assert len(ids) == 2
    new_id = token_hash(new)[:12]  # a token's id is the start of its SHA-256
    assert new_id in ids
    run_lantai(home, "users", "revoke", "reader", new_id, "--token")
    assert call(url, new) == 401 and call(url, kept) == 200
    # an account disabled, then enabled again
    run_lantai(home, "users", "disable", "manager")
    assert call(url, t["manager"]) == 401
    assert run_lantai(home, "show", ITEM, user="manager", check=False).returncode == 4
    run_lantai(home, "users", "enable", "manager")
    assert call(url, t["manager"]) == 200
    # an account removed: its token is dead, its name stays in the history, never reused
    run_lantai(home, "users", "remove", "editor", "-m", "retired")
    assert call(url, t["editor"]) == 401
    proc = run_lantai(home, "users", "add", "editor", "--role", "Editor", "--token",
                      check=False)
    assert proc.returncode == 6 and "never reused" in proc.stderr
    assert call(url, t["editor"]) == 401
    history = json.loads(urllib.request.urlopen(urllib.request.Request(
        url + "/api" + ITEM + "/@history", headers={"Authorization": f"Bearer {t['admin']}"}),
        timeout=60).read())
    assert "editor" in [h["author"] for h in history["items"]]
    listing = json.loads(run_lantai(home, "users", "list", "--json").stdout)
    assert {"name": "editor", "status": "removed", "roles": [],
            "fullname": "The editor"} in listing
    # each change is a changeset: who, what, why
    log = run_lantai(home, "users", "history", "editor").stdout
    assert "admin  revoke  left the team" in log and "admin  remove  retired" in log
    local = run_lantai(home, "history", SERIES).stdout
    assert "grant Editor to reader" in local and "revoke Editor from reader" in local


def test_revocation_through_the_api_is_for_managers(site):
    api = Api(site)

    def post(path: str, body: dict, user: str = "manager"):
        return api.post("/@users/" + path, body, user=user)

    assert api.get("/@users", user="editor").status_code == 403
    assert post("reader/@disable", {}, user="editor").status_code == 403
    assert api.get("/", user="reader").status_code == 200
    accounts = {a["name"]: a for a in api.get("/@users", user="manager").json["items"]}
    assert accounts["reader"]["status"] == "active" and len(accounts["reader"]["tokens"]) == 1
    # a token by its id
    token_id = accounts["reader"]["tokens"][0]
    resp = post("reader/@revoke", {"token": token_id, "message": "lost laptop"})
    assert resp.status_code == 200 and resp.json["tokens"] == []
    assert api.get("/", user="reader").status_code == 401
    # a site role, a local role
    assert post("editor/@revoke", {"role": "Editor"}).json["roles"] == []
    assert api.get(FILE, user="editor").status_code == 404
    assert post("editor/@revoke", {"role": "Editor"}).status_code == 404  # not there now
    assert post("contributor/@revoke", {"role": "Editor", "on": SERIES}).status_code == 404
    # bad input is a clear 4xx and changes nothing
    for body in ({}, {"role": "Editor", "token": "x"}, {"token": "x", "on": SERIES},
                 {"role": "Wizard"}, {"role": 5}):
        resp = post("contributor/@revoke", body)
        assert 400 <= resp.status_code < 500 and resp.json["message"], body
    assert api.get("/@users/NO%20SUCH", user="manager").status_code == 404
    assert api.get("/@users/ghost", user="manager").status_code == 404
    # disable, enable, remove
    assert post("contributor/@disable", {}).json["status"] == "disabled"
    assert api.get("/", user="contributor").status_code == 401
    assert post("contributor/@enable", {}).json["status"] == "active"
    assert api.get("/", user="contributor").status_code == 200
    resp = api.delete("/@users/contributor?message=gone", user="manager")
    assert resp.status_code == 200 and resp.json["status"] == "removed"
    assert api.get("/", user="contributor").status_code == 401
    assert api.delete("/@users/contributor", user="manager").status_code == 409
    assert api.delete("/@users/manager", user="manager").status_code == 409  # not oneself
    log = api.get("/@users/contributor/@history", user="manager").json["items"]
    assert [(e["author"], e["action"]) for e in log][-3:] == [
        ("manager", "disable"), ("manager", "enable"), ("manager", "remove")]
    assert log[-1]["message"] == "gone"


def test_a_new_token_revokes_the_previous_one(site):
    repo, admin = site.repo, site.repo.user("admin")
    first = repo.new_token(admin, "reader")
    assert repo.user_for_token(first).name == "reader"
    second = repo.new_token(admin, "reader")
    with pytest.raises(Exception, match="unknown token"):
        repo.user_for_token(first)
    third = repo.new_token(admin, "reader", keep=True)
    assert repo.user_for_token(second).name == repo.user_for_token(third).name == "reader"
    # the secrets never reach the history
    text = "\n".join(str(q) for q in repo.working)
    assert text.count(token_hash(second)) == 1  # the account's own fact only
