"""The private nginx of the tests (tests/proxy_support.py): it proxies to a real upstream
on its own port with everything in its prefix, refuses a busy port, stops with its workers
whatever happens, and is a failure under CI when missing."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest
import requests
from engine_support import EngineStartError, port_is_free
from proxy_support import nginx, nginx_binary, nginx_version
from support import free_port, served


def hello(environ, start_response):
    body = f"upstream saw {environ['PATH_INFO']} via {environ.get('HTTP_X_VIA', '-')}".encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Length", str(len(body)))])
    return [body]


def site(port: int, upstream: str) -> str:
    return ("server {\n"
            f"  listen 127.0.0.1:{port};\n"
            "  location / {\n"
            f"    proxy_pass {upstream};\n"
            "    proxy_set_header X-Via nginx;\n"
            "    add_header X-Proxy lantai-test always;\n"
            "  }\n"
            "}\n")


def nginx_pids(prefix: Path) -> list[int]:
    """The master (its pid file) and its workers (children of the master)."""
    master = int((prefix / "nginx.pid").read_text())
    pids = [master]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == master:
                pids.append(int(proc.name))
    return pids


def test_nginx_proxies_to_an_upstream_and_stops_with_its_workers(tmp_path: Path):
    assert nginx_version().startswith("nginx/") or not os.environ.get("CI")
    prefix = tmp_path / "nginx"
    port = free_port()
    class Boom(Exception):
        pass

    with (served(hello) as upstream, pytest.raises(Boom),
          nginx(prefix, site(port, upstream), port, ready="/") as url):
        answer = requests.get(url + "/兰台/x", timeout=10)
        assert answer.status_code == 200
        assert answer.headers["X-Proxy"] == "lantai-test"
        assert answer.text == "upstream saw /å\x85°å\x8f°/x via nginx"  # WSGI: latin-1
        pids = nginx_pids(prefix)
        assert len(pids) == 2, pids  # the master and its one worker
        assert (prefix / "access.log").read_text().count("GET /") >= 1
        raise Boom  # stopped whatever is raised
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not port_is_free(port):
        time.sleep(0.1)
    assert port_is_free(port)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_busy_port_is_refused(tmp_path: Path):
    nginx_binary()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with (pytest.raises(EngineStartError, match=f"port {port} .* busy"),
              nginx(tmp_path / "nginx", site(port, "http://127.0.0.1:9"), port)):
            pytest.fail("nginx was started on a busy port")


def test_a_bad_configuration_is_refused_with_nginx_s_message(tmp_path: Path):
    nginx_binary()
    port = free_port()
    with (pytest.raises(EngineStartError, match="unknown directive"),
          nginx(tmp_path / "nginx", "server { listen 127.0.0.1:1; no_such_thing on; }", port)):
        pytest.fail("nginx was started with a bad configuration")


def test_under_ci_a_missing_nginx_fails(monkeypatch):
    import proxy_support

    monkeypatch.setattr(proxy_support.shutil, "which", lambda name: None)
    monkeypatch.setattr(proxy_support, "Path", lambda p: Path("/nonexistent") / p.lstrip("/"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="nginx"):
        nginx_binary()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="nginx"):
        nginx_binary()
