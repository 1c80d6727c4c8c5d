"""The shared live demo server answers (the fixture other publisher tests build on)."""

import json
import urllib.request


def test_demo_server_health(demo_server):
    with urllib.request.urlopen(demo_server + "/healthz") as resp:
        assert json.load(resp) == {"status": "ok"}
    with urllib.request.urlopen(demo_server + "/") as resp:
        assert "Lantai" in resp.read().decode() or resp.status == 200
