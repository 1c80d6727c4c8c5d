"""Every API route answers only the methods it was registered for (issue 10, item 1).

``HEAD /api/{path}`` with a Manager's token used to delete the object: Flask adds HEAD to a
GET rule, and the hand-written dispatcher sent every method that was not GET, POST or PATCH
to delete. Here HEAD is sent where it counts, and the store is compared before and after.
"""

from __future__ import annotations

import pytest
from support import FILE, ITEM, SERIES, read_only_snapshot
from test_api import Api


@pytest.fixture
def api(site) -> Api:
    return Api(site)


def test_head_is_get_without_a_body_and_changes_nothing(api):
    before = read_only_snapshot(api.home)
    for user in ("manager", "admin", "editor"):
        for path in (ITEM, FILE, SERIES, "/", ITEM + "/@history", FILE + "/@access"):
            got = api.get(path, user=user)
            head = api.client.head("/api" + path, headers=api.headers(user))
            assert head.status_code == got.status_code == 200, (user, path, head.status_code)
            assert head.data == b"", (user, path)
            assert head.headers.get("ETag") == got.headers.get("ETag"), (user, path)
    assert read_only_snapshot(api.home) == before
    assert api.get(ITEM, user="manager").status_code == 200
