"""The shared live demo server answers (the fixture other publisher tests build on)."""

import json
import urllib.request

from repo.config import read_settings


def test_demo_server_health(demo_server, demo_server_home):
    with urllib.request.urlopen(demo_server + "/healthz") as resp:
        assert json.load(resp) == {"status": "ok"}
    request = urllib.request.Request(demo_server + "/?lang=zh", headers={"Accept": "text/html"})
    with urllib.request.urlopen(request) as resp:
        page = resp.read().decode()
    # the home page of this site, not any answer: its name and a link into the demo fonds
    assert f"<h1>{read_settings(demo_server_home).site_name_zh}</h1>" in page
    assert f'href="{demo_server}/id/' in page
