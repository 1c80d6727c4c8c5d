"""What nginx's cache in front of Lantai costs and gives, by design (issue 15, item 4).

    python -m bench.proxy_cache [--requests 300] [--clients 1 4]

A fresh demo site, one ``lantai serve`` worker, and the shipped ``deploy/nginx/lantai.conf``
in front of it, in four set-ups, each measured with 1 and 4 client *processes* (keep-alive
``http.client``) asking for the demo's record pages (HTML) in turn, after one warm-up pass:

- ``direct``: the worker alone, every page rendered (the anchor);
- ``revalidate`` (shipped): nginx stores each page and asks the worker on every hit with
  ``If-None-Match``; the worker answers 304 before rendering (``publisher/caching.py``);
- ``auth_request`` (the other design weighed): nginx learns the generation per request from a
  subrequest to the worker and serves true HITs keyed on it. Lantai has no generation
  endpoint, so the subrequest goes to ``/healthz`` (a route as small as one would be) and the
  key does not change: the *cost* of the design, not a safe configuration;
- ``hit`` (unsafe bound): nginx serves HITs for 10 minutes without asking — what a cache
  that ignored closure would give.

Rows: requests/s, p50 and p99 in ms per set-up and client count, and the ratio to ``direct``.
Measure on a quiet machine if you can; say the load average (printed) when you cannot.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from bench import ROOT, commit

CONF = ROOT / "deploy" / "nginx" / "lantai.conf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 60) -> None:
    parts = urllib.parse.urlsplit(url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer") from None
            time.sleep(0.1)


def site_config(variant: str, port: int, worker: int, cache: Path) -> str:
    text = CONF.read_text(encoding="utf-8")
    text = text.replace("    server 127.0.0.1:5000;", f"    server 127.0.0.1:{worker};")
    text = text.replace("/var/cache/nginx/lantai-tiles", str(cache / "tiles"))
    text = text.replace("/var/cache/nginx/lantai ", f"{cache / 'pages'} ")
    text = text.replace("    listen 80;", f"    listen 127.0.0.1:{port};")
    text = text.replace("root /opt/lantai/publisher;", f"root {ROOT / 'publisher'};")
    unsafe = ("    proxy_ignore_headers Cache-Control Expires X-Accel-Expires;\n"
              "    proxy_cache_valid 200 10m;\n")
    if variant == "hit":
        text = text.replace("    proxy_ignore_headers Cache-Control Expires;\n", unsafe)
    elif variant == "auth_request":
        text = text.replace("    proxy_ignore_headers Cache-Control Expires;\n", unsafe + (
            "    auth_request /_lantai_generation;\n"
            "    auth_request_set $lantai_generation $upstream_http_x_lantai_generation;\n"))
        text = text.replace('$cookie_lang";', '$cookie_lang|$lantai_generation";')
        text = text.replace("    location / {\n", (
            "    location = /_lantai_generation {\n        internal;\n        auth_request off;\n"
            "        proxy_cache off;\n        proxy_pass_request_body off;\n"
            '        proxy_set_header Content-Length "";\n'
            "        proxy_pass http://lantai/healthz;\n    }\n    location / {\n"))
    return text


@contextlib.contextmanager
def nginx(prefix: Path, site_conf: str, port: int) -> Iterator[str]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    for sub in ("tmp", "cache"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    (prefix / "site.conf").write_text(site_conf, encoding="utf-8")
    user = "user root root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(f"  {k}_temp_path {prefix / 'tmp' / k};"
                     for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (prefix / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} warn;\nevents {{ worker_connections 512; }}\n"
        "http {\n  include /etc/nginx/mime.types;\n  access_log off;\n"
        f"{temp}\n  include {prefix / 'site.conf'};\n}}\n", encoding="utf-8")
    proc = subprocess.Popen([binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                             "-e", str(prefix / "error.log")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(url, 20)
        yield url
    finally:
        proc.send_signal(3)  # SIGQUIT: the master stops its workers
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def client(args: tuple[str, list[str], int]) -> list[float]:
    url, paths, n = args
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    times = []
    for i in range(n):
        path = paths[i % len(paths)]
        started = time.perf_counter()
        conn.request("GET", path, headers={"Accept": "text/html"})
        resp = conn.getresponse()
        resp.read()
        times.append(time.perf_counter() - started)
        if resp.status != 200:
            raise RuntimeError(f"{path}: {resp.status}")
    conn.close()
    return times


def measure(url: str, paths: list[str], clients: int, n: int) -> dict:
    client((url, paths, len(paths)))  # warm-up: every page once (stored, rendered)
    started = time.perf_counter()
    with multiprocessing.Pool(clients) as pool:
        runs = pool.map(client, [(url, paths, n)] * clients)
    elapsed = time.perf_counter() - started
    times = sorted(t for run in runs for t in run)
    return {"rps": round(len(times) / elapsed, 1),
            "p50_ms": round(statistics.median(times) * 1000, 2),
            "p99_ms": round(times[int(len(times) * 0.99) - 1] * 1000, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="per client process")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args(argv)
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        print("nginx is not installed (Debian package nginx): nothing measured",
              file=sys.stderr)
        return 1
    from repo.demo import load_demo
    from repo.repository import Repository

    rows = []
    with tempfile.TemporaryDirectory(prefix="lantai-proxy-") as tmp:
        root = Path(tmp)
        port, worker = free_port(), free_port()
        home = root / "home"
        repo, _ = Repository.init(home, f"http://127.0.0.1:{port}")
        load_demo(repo, repo.user("admin"))
        repo.close()
        exe = Path(sys.executable).with_name("lantai")
        serve = subprocess.Popen([str(exe), "--home", str(home), "serve", "--port", str(worker),
                                  "--quiet"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            direct = f"http://127.0.0.1:{worker}"
            wait_for(direct)
            conn = http.client.HTTPConnection("127.0.0.1", worker, timeout=60)
            conn.request("GET", "/sitemap.xml")
            sitemap = conn.getresponse().read().decode()
            paths = [urllib.parse.urlsplit(u).path
                     for u in re.findall(r"<loc>([^<]+/id/record/[^<]+)</loc>", sitemap)][:20]
            for variant in ("direct", "revalidate", "auth_request", "hit"):
                for clients in args.clients:
                    if variant == "direct":
                        figures = measure(direct, paths, clients, args.requests)
                    else:
                        prefix = root / f"nginx-{variant}-{clients}"
                        conf = site_config(variant, port, worker, prefix / "cache")
                        with nginx(prefix, conf, port) as url:
                            figures = measure(url, paths, clients, args.requests)
                    rows.append({"setup": variant, "clients": clients, **figures})
                    print(json.dumps(rows[-1]), flush=True)
        finally:
            serve.terminate()
            serve.wait(timeout=20)
    anchor = {r["clients"]: r["rps"] for r in rows if r["setup"] == "direct"}
    print(f"\nload average {os.getloadavg()[0]:.1f}, commit {commit()}, "
          f"{len(paths)} record pages, {args.requests} requests per client process")
    print(f"{'set-up':<14}{'clients':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'× direct':>10}")
    for r in rows:
        print(f"{r['setup']:<14}{r['clients']:>8}{r['rps']:>10}{r['p50_ms']:>9}"
              f"{r['p99_ms']:>9}{r['rps'] / anchor[r['clients']]:>10.2f}")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"proxy_cache-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps({"commit": commit(), "load": os.getloadavg(), "rows": rows},
                              indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
