"""A real nginx (Debian's ``nginx``) for tests (issue 15, items 3-4), run privately: its own
prefix folder, a free port, ``daemon off``, pid, logs and temporary files in the prefix;
never the system service (which the Debian package would start on port 80: `.ci/run`
installs it with service starts refused, and nothing here depends on it).

Owned by the `engines` part (the binary and how a private nginx runs); the configuration
under test (``deploy/nginx/lantai.conf``) belongs to part `cache`, whose tests pass its
``server`` block to :func:`nginx` as ``site_conf``::

    with nginx(tmp_path / "nginx", site_conf, port) as url: ...

Under CI a missing nginx is a failure (support.require), elsewhere a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import requests
from engine_support import EngineStartError, _running, port_is_free
from support import require


def nginx_binary() -> str:
    """The nginx binary (``/usr/sbin/nginx`` is not on every PATH); requires it."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
    require(found, "nginx is not installed (Debian package nginx)")
    assert found
    return found


def nginx_version() -> str:
    """``nginx/1.22.1`` (what ``nginx -v`` says), or "" without nginx."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
    if not found:
        return ""
    out = subprocess.run([found, "-v"], capture_output=True, text=True, timeout=30)
    return (out.stderr or out.stdout).strip().removeprefix("nginx version: ")


def main_config(prefix: Path, include: Path) -> str:
    """An nginx.conf that keeps everything in ``prefix`` (pid, logs, temporary files), runs
    in the foreground with one worker, and includes ``include`` inside its ``http`` block."""
    user = "user root root;\n" if os.geteuid() == 0 else ""  # workers must read tmp folders
    temp = "\n".join(f"  {kind}_temp_path {prefix / 'tmp' / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"{user}daemon off;\nworker_processes 1;\npid {prefix / 'nginx.pid'};\n"
            f"error_log {prefix / 'error.log'} warn;\n"
            "events { worker_connections 512; }\n"
            "http {\n  include /etc/nginx/mime.types;\n"
            "  default_type application/octet-stream;\n"
            f"  access_log {prefix / 'access.log'};\n{temp}\n"
            f"  include {include};\n}}\n")


@contextlib.contextmanager
def nginx(prefix: Path, site_conf: str, port: int, *, ready: str = "/healthz",
          timeout: float = 20.0) -> Iterator[str]:
    """Run nginx with ``site_conf`` (its ``server`` blocks, listening on 127.0.0.1:``port``)
    until the block ends; yields ``http://127.0.0.1:PORT`` once a GET of ``ready`` answers
    (any status: what nginx proxies to may answer an error). The configuration is checked
    first (``nginx -t``: its message in the error). A busy port is refused. Stopped whatever
    happens: SIGQUIT (the master finishes its workers), then SIGKILL to its process group."""
    binary = nginx_binary()
    if not port_is_free(port):
        raise EngineStartError(f"port {port} of 127.0.0.1 is busy: nginx is never started "
                               "where another server may answer in its place")
    for sub in ("tmp", "cache", "logs"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    site = prefix / "site.conf"
    site.write_text(site_conf, encoding="utf-8")
    conf = prefix / "nginx.conf"
    conf.write_text(main_config(prefix, site), encoding="utf-8")
    # -e: the error log before the configuration is read (else /var/log/nginx/error.log)
    args = [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    check = subprocess.run([*args, "-t"], capture_output=True, text=True, timeout=30)
    if check.returncode:
        raise EngineStartError(f"nginx -t refused {conf}: {check.stderr.strip()}")
    url = f"http://127.0.0.1:{port}"

    def probe() -> bool:
        try:
            requests.get(url + ready, timeout=2)
            return True
        except requests.RequestException:
            return False

    with _running(args, prefix / "nginx.out", cwd=prefix, ready=probe, timeout=timeout,
                  what=f"nginx on port {port}", stop_signal="SIGQUIT", port=port):
        yield url

