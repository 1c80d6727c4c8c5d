"""IIIF benchmarks (issues 5 and 15). Part here: image tiles, side by side in one run.

    python -m bench.iiif tiles [--width 6000 --height 8000] [--clients 4] [--seconds 6]
                               [--tiles 256,512] [--phases cold,warm,render]
                               [--workers 1,2] [--no-sealed] [--reference] [--no-iipimage]
    python -m bench.iiif site HOME BASE KEY=IMAGE...      (helper: a site serving IMAGEs)
    python -m bench.iiif serve HOME --port P [--processes N]   (helper: waitress)

**tiles**: a synthetic 6000×8000 scan (libvips noise and text, so JPEG tiles are as costly
as a real scan's) becomes the published image instantiation of two fresh sites, one with
its files (and so its derivatives) sealed, as every new site has them, one unsealed; their
pyramidal TIFFs are made once. The same tile requests (256 and 512 px, every zoom level, a
fixed random order, as a viewer computes them from info.json) are fetched by the same
client (client *processes*, one keep-alive connection each) from the servers below, per
tile size and phase, each with 1 client (the latency one viewer sees) and ``--clients``:

- **cold**: every tile of the grid (all zoom levels) once, shuffled; the 1-client and the
  N-client runs get disjoint parts, so every request is the first of its tile (no
  server-side cache can answer it; the OS page cache does hold the files, for all);
- **warm**: after one pass over every tile, the tiles again with each zoom level equally
  often (what caches of rendered tiles are for: edge tiles, the few deep levels);
- **render**: the cold phase's tiles asked for 12 px narrower (``w,``), each once: nothing
  stored or cached matches, every server decodes, scales and encodes every tile (the
  issue's "rendered 256 px tiles").

1. **ours**, a row per site (``lantai``: unsealed, ``sealed``) and number of worker
   processes (``--workers``, ``1w``/``2w``): ``lantai serve --workers N --quiet`` when
   ``lantai serve`` has worker processes (issue 15, part ``workers``), else this module's
   own server (``serve --processes N``: waitress, 8 threads, pre-forked N times on one
   socket), and with one worker waitress in one process, as ``lantai serve`` was;
2. **iipimage**: Debian's ``iipimage-server`` (C++), FastCGI ×2 behind lighttpd (its
   cache of answers at 64 MB per process, ours is 64 MB), reading the very same
   (unsealed) pyramids through its IIIF interface: ``pyramid.tif`` (256 px tiles) for
   256 px requests, ``pyramid-512.tif`` for 512 px ones (its best case);
3. **reference**, only with ``--reference``: the PyPI ``iiif`` reference implementation
   (``iiif_testserver.py``, Pillow), installed in a venv of its own (``OUT/iiif-ref-venv``)
   and run isolated (``python -I``) so that our own ``iiif`` package cannot shadow it. It
   has no pyramid support and no cache: it decodes the whole 48-MP original for every tile
   (about one tile a second), so its ratios (hundreds to a thousand) measure nothing a
   viewer would meet; it is off by default, and the output says so.

It prints p50/p99 latency, throughput and the servers' CPU per tile (all their processes,
from ``/proc``) per server, tile size and phase, the load average of the (shared) machine at
each phase, and our throughput over iipimage's with 1 and N clients (goal ≥ 1.0×), and
writes ``bench/out/iiif-tiles-<time>.json``. An anchor that cannot be installed or started
is reported in a banner on stdout and stderr, in the table and in the JSON, and the exit
status is 3.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import commit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "out"
GOAL_P50_MS = 15.0
GOAL_VS_IIPIMAGE = 1.0  # issue 15: rendered 256 px tiles at least at iipimage's rate
IMAGE_KEY = "bench-scan"
PHASES = ("cold", "warm", "render")


# --------------------------------------------------------------------------- a site
def make_image_site(home: Path, base: str, images: dict[str, Path], *,
                    encrypted: bool = True) -> None:
    """A new site at ``home`` whose published fonds holds one item per image, each with a
    published, open image instantiation of key ``key`` (what ``lantai ingest media`` makes,
    built here through the Repository API so that this works on its own). ``encrypted``:
    the site's files (and so its derivatives) are sealed, as on every new site; False makes
    a site as they were before issue 14 (the other side of ``bench/tiles_sealed.py``)."""
    import dataclasses

    import pyvips

    from repo.config import read_settings, write_settings
    from repo.files import FileStore
    from repo.repository import NewObject, Repository

    repo, _token = Repository.init(home, base)
    try:
        if not encrypted:
            write_settings(home, dataclasses.replace(read_settings(home), files_encrypted=False))
        admin = repo.user("admin")
        files = FileStore.for_site(home)
        specs = [NewObject(parent="/", type="fonds", slug="bench", key="bench", state="published",
                           fields={"title": {"zh": "测试全宗", "en": "Test fonds"},
                                   "refcode": "9999"})]
        for n, (key, path) in enumerate(sorted(images.items()), start=1):
            digest = files.put(path)
            header = pyvips.Image.new_from_file(str(path))
            mime = {".png": "image/png", ".tif": "image/tiff", ".tiff": "image/tiff"}.get(
                path.suffix.lower(), "image/jpeg")
            specs.append(NewObject(parent="/bench", type="item", slug=f"item-{n}",
                                   key=f"item-{n}", state="published", access="open",
                                   fields={"title": {"zh": f"图像{n}", "en": f"Image {n}"}}))
            specs.append(NewObject(parent=f"/bench/item-{n}", type="instantiation",
                                   slug=key, key=key, state="published",
                                   fields={"mime": mime, "digest": digest,
                                           "width": str(header.width),
                                           "height": str(header.height)}))
        files.close()
        repo.ingest(admin, specs, message="bench: images")
    finally:
        repo.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def _site_main(args: argparse.Namespace) -> int:
    images = {}
    for spec in args.images:
        key, _, path = spec.partition("=")
        images[key] = Path(path)
    make_image_site(Path(args.home), args.base, images)
    return 0


def _serve_main(args: argparse.Namespace) -> int:
    """Serve a site with waitress (what ``lantai serve`` did before issue 15), for the
    scripts here; with ``--processes N``, N pre-forked processes of it accepting on one
    listening socket (the bench's own multi-process server, used while ``lantai serve``
    has no ``--workers``: see :func:`start_lantai`)."""
    from waitress import serve

    if args.processes <= 1:
        from publisher.app import create_app

        serve(create_app(Path(args.home)), host="127.0.0.1", port=args.port,
              threads=args.threads, _quiet=True, asyncore_use_poll=True)
        return 0
    # the listening socket first, then the children; nothing with threads (libvips) is
    # imported before the fork: each child builds its own app, as workers share nothing
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(1024)
    children = []
    for _ in range(args.processes):
        pid = os.fork()
        if pid == 0:  # a worker
            code = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                from publisher.app import create_app

                serve(create_app(Path(args.home)), sockets=[sock], threads=args.threads,
                      _quiet=True, asyncore_use_poll=True)
                code = 0
            finally:
                os._exit(code)
        children.append(pid)

    def stop(_signum, _frame) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        while True:
            try:
                os.waitpid(child, 0)
                break
            except ChildProcessError:
                break
            except InterruptedError:
                continue
    return 0


# --------------------------------------------------------------------------- tiles
def tile_requests(width: int, height: int, tile: int, levels: int, n: int,
                  seed: int = 5) -> list[tuple[str, str]]:
    """``n`` (region, size) pairs: tiles of ``tile`` px at every scale factor, shuffled.

    Scale factors are those a viewer would use for the pyramid (1, 2, 4, … while the
    level is at least one tile), as OpenSeadragon computes them from info.json.
    """
    rng = random.Random(seed)
    all_tiles = _all_tiles(width, height, tile, levels)
    # every zoom level equally often (the deep levels have few tiles, viewers ask for all)
    by_level: dict[int, list] = {}
    for region, size, k in all_tiles:
        by_level.setdefault(k, []).append((region, size))
    out: list[tuple[str, str]] = []
    ks = sorted(by_level)
    while len(out) < n:
        k = ks[len(out) % len(ks)]
        out.append(rng.choice(by_level[k]))
    return out


def grid_tiles(width: int, height: int, tile: int, levels: int, seed: int = 7,
               shrink: int = 0) -> list[tuple[str, str]]:
    """Every (region, size) of the ``tile`` px grid at every scale factor, once, shuffled:
    the cold phase's requests (each the first of its tile). With ``shrink``, each tile is
    asked for ``shrink`` px narrower (``w,``): no server holds that ready, every one must
    decode, scale and encode (the render phase)."""
    tiles = [(region, size if not shrink else f"{int(size.split(',')[0]) - shrink},")
             for region, size, _k in _all_tiles(width, height, tile, levels)]
    random.Random(seed).shuffle(tiles)
    return tiles


def _all_tiles(width: int, height: int, tile: int, levels: int) -> list[tuple[str, str, int]]:
    out = []
    for k in range(levels):
        sf = 2 ** k
        span = tile * sf
        if span > max(width, height) * 2:
            break
        for y in range(0, height, span):
            for x in range(0, width, span):
                w, h = min(span, width - x), min(span, height - y)
                size = f"{-(-w // sf)},{-(-h // sf)}"  # ceil, as viewers compute
                out.append((f"{x},{y},{w},{h}", size, k))
    return out


def synthetic_scan(path: Path, width: int, height: int) -> None:
    """A 'scan': paper-coloured noise under lines of text, saved as a JPEG original.

    Noise keeps the JPEG tiles as costly to decode and encode as a real page's (a flat
    synthetic image would flatter every server).
    """
    import pyvips

    noise = pyvips.Image.gaussnoise(width, height, mean=222, sigma=14)
    paper = noise.bandjoin([noise - 8, noise - 24]).cast("uchar").copy(interpretation="srgb")
    try:
        line = "兰台档案 Lantai archive 西迁 1956 年 — synthetic page for the tile benchmark. "
        text = pyvips.Image.text(line * (width // 60) * (height // 120), width=width - 400,
                                 dpi=300, font="sans 10")
        text = text.crop(0, 0, text.width, min(text.height, height - 600))
        mask = text.embed(200, 300, width, height)
        page = (paper - mask * 0.75).cast("uchar").copy(interpretation="srgb")
    except pyvips.Error:  # no fonts: a grid of dark strokes instead of text
        grid = pyvips.Image.xyz(width, height)
        mask = ((grid[1] % 60) < 6) & ((grid[0] % 400) < 330)
        page = (paper - (mask / 255 * 160)).cast("uchar").copy(interpretation="srgb")
    page.jpegsave(str(path), Q=90)


# --------------------------------------------------------------------------- servers
@dataclass
class Server:
    name: str
    url_for: Callable[..., str]  # (region, size, tile=256) -> URL
    stop: Callable[[], None] | None = None
    note: str = ""
    pid: int | None = None  # the server's process: its CPU (and its children's) is counted


@dataclass
class Result:
    name: str
    tile: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    load: float = 0.0  # 1-minute load average when the run started
    phase: str = ""  # cold, warm or render
    clients: int = 1
    cpu: float = 0.0  # CPU seconds the server's processes used during the run
    rounds: int = 1

    def add(self, other: Result) -> Result:
        """Pool another round of the same server, tile, phase and clients."""
        self.load = (self.load * self.rounds + other.load) / (self.rounds + 1)
        self.rounds += 1
        self.latencies += other.latencies
        self.errors += other.errors
        self.seconds += other.seconds
        self.cpu += other.cpu
        return self

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        """Server CPU per answered tile (ms), all its processes."""
        return self.cpu / len(self.latencies) * 1000 if self.latencies else float("nan")

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(q * len(data)))] * 1000


def _tree_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) of process ``pid`` and every live descendant."""
    if pid is None:
        return 0.0
    stats: dict[int, tuple[int, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the name: state ppid ... utime(12th) stime(13th), counted from state = 0
        stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        if current in stats:
            total += stats[current][1]
        todo.extend(child for child, (parent, _) in stats.items() if parent == current)
    return total


def _client(urls: list[str], once: bool, stop_at: float, start, queue) -> None:
    """One client process: a keep-alive connection (``http.client``, a light client), the
    ``urls`` in order (once, or round and round until ``stop_at``); puts its latencies."""
    import http.client
    import urllib.parse

    start.wait()
    conn = None
    local: list[float] = []
    errors = 0
    i = 0
    while time.perf_counter() < stop_at and (not once or i < len(urls)):
        url = urllib.parse.urlsplit(urls[i % len(urls)])
        i += 1
        path = url.path + (f"?{url.query}" if url.query else "")
        t0 = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port,
                                                  timeout=30)
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            ok = r.status == 200 and len(body) > 100
            if r.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            ok = False
            if conn is not None:
                conn.close()
            conn = None
        dt = time.perf_counter() - t0
        if ok:
            local.append(dt)
        else:
            errors += 1
    if conn is not None:
        conn.close()
    queue.put((local, errors))


def run_load(server: Server, requests_list: list[tuple[str, str]], clients: int,
             seconds: float, tile: int, once: bool = False) -> Result:
    """``clients`` client *processes* (a Python client in threads was GIL-bound near a
    thousand tiles a second, which flattened the ratios), each with its own keep-alive
    connection, for ``seconds`` (or, with ``once``, until every request of the list was
    made once, split between the clients, whichever is first). The server's CPU (all its
    processes) is read from ``/proc`` before and after."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    urls = [server.url_for(region, size, tile) for region, size in requests_list]
    if not urls:
        return Result(server.name, tile, clients=clients)
    start, queue = ctx.Event(), ctx.Queue()
    stop_at = time.perf_counter() + seconds + 1.0  # + the processes' start
    procs = []
    for k in range(clients):
        mine = urls[k::clients] if once else urls[k * len(urls) // clients:] + \
            urls[:k * len(urls) // clients]
        procs.append(ctx.Process(target=_client, args=(mine, once, stop_at, start, queue)))
    for proc in procs:
        proc.start()
    result = Result(server.name, tile, load=os.getloadavg()[0], clients=clients)
    time.sleep(0.05)
    cpu0 = _tree_cpu(server.pid)
    t0 = time.perf_counter()
    start.set()
    for _ in procs:
        local, errors = queue.get(timeout=seconds + 120)
        result.latencies.extend(local)
        result.errors += errors
    result.seconds = time.perf_counter() - t0
    result.cpu = _tree_cpu(server.pid) - cpu0
    for proc in procs:
        proc.join()
    return result


def _lantai_command() -> list[str]:
    return [sys.executable, "-c", "import sys; sys.argv[0] = 'lantai'; "
            "from repo.cli import run; run()"]


def lantai_serve_has_workers() -> bool:
    """Whether ``lantai serve`` runs worker processes (``--workers``, issue 15)."""
    r = subprocess.run([*_lantai_command(), "serve", "--help"], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    return "--workers" in r.stdout


def start_lantai(home: Path, *, workers: int = 1, name: str = "lantai",
                 use_lantai_serve: bool | None = None) -> Server:
    """Our server on ``home``: ``lantai serve --workers N --quiet`` when it has worker
    processes; else (before issue 15's part ``workers`` landed) this module's own server,
    waitress with 8 threads, pre-forked into ``workers`` processes on one socket."""
    port = free_port()
    if use_lantai_serve is None:
        use_lantai_serve = workers > 1 and lantai_serve_has_workers()
    if use_lantai_serve:
        cmd = [*_lantai_command(), "--home", str(home), "serve", "--port", str(port),
               "--workers", str(workers), "--quiet"]
        note = f"lantai serve --workers {workers}"
    else:
        cmd = [sys.executable, "-m", "bench.iiif", "serve", str(home), "--port", str(port),
               "--processes", str(workers)]
        note = (f"waitress 8 threads × {workers} pre-forked processes (bench.iiif serve)"
                if workers > 1 else "waitress, 8 threads, one process (bench.iiif serve)")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:  # a loaded machine (load 15 on 2 cores) took more than 30 s to import the app
        wait_for(f"{base}/healthz", timeout=180, proc=proc)
    except RuntimeError as exc:
        _stop(proc)
        raise RuntimeError(f"{exc}: {proc.stderr.read().decode()[-400:] if proc.stderr else ''}"
                           ) from None
    prefix = f"{base}/iiif/3/{IMAGE_KEY}"
    return Server(name, lambda r, s, t=256: f"{prefix}/{r}/{s}/0/default.jpg",
                  stop=lambda: _stop(proc), note=note, pid=proc.pid)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (its workers too), SIGKILL after 10 s."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.kill()
            proc.wait(10)


def start_reference(work: Path, original: Path, venv: Path) -> Server:
    """The PyPI ``iiif`` reference implementation in its own venv (``OUT/iiif-ref-venv``).

    Every command in that venv runs isolated (``python -I``: no current folder, no
    ``PYTHONPATH``, no user site on ``sys.path``) from inside the venv: the check that it
    is installed used to run in the project's folder, where our own ``iiif`` package was
    what ``import iiif`` found, so on a fresh machine the reference was never installed,
    and then never ran."""
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True,
                       capture_output=True)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    server_script = venv / "bin" / "iiif_testserver.py"
    probe = [str(py), "-I", "-c", "import iiif.manipulator_pil, sys; "
             "sys.exit(0 if iiif.__file__.startswith(sys.prefix) else 3)"]
    if not server_script.exists() or subprocess.run(probe, cwd=venv, env=clean,
                                                     capture_output=True).returncode:
        r = subprocess.run([str(py), "-I", "-m", "pip", "install", "-q", "iiif"], cwd=venv,
                           env=clean, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"pip install iiif failed: {r.stderr.strip()[-300:]}")
    if not server_script.exists():
        raise RuntimeError(f"the iiif package installed no {server_script.name}")
    images = work / "ref-images"
    images.mkdir(exist_ok=True)
    # the reference server serves what is in its folder by file name (id = stem)
    shutil.copy(original, images / f"{IMAGE_KEY}.jpg")
    port = free_port()
    proc = subprocess.Popen([str(py), "-I", str(server_script), "--host", "127.0.0.1",
                             "--port", str(port), "--image-dir", str(images),
                             "--api-versions", "3.0", "--manipulators", "pil",
                             "--auth-types", "none"],
                            cwd=work,  # its iiif_testserver.pid goes here, not in the repo
                            env=clean, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    prefix = f"{base}/3.0_pil/{IMAGE_KEY}"
    try:
        wait_for(f"{prefix}/info.json", timeout=60, proc=proc)
    except RuntimeError as exc:
        _stop(proc)
        raise RuntimeError(f"{exc}: {proc.stderr.read().decode()[-300:] if proc.stderr else ''}"
                           ) from None
    return Server("reference", lambda r, s, t=256: f"{prefix}/{r}/{s}/0/default.jpg",
                  stop=lambda: _stop(proc), pid=proc.pid,
                  note="PyPI iiif (iiif_testserver.py, Pillow), same JPEG original")


def start_iipimage(work: Path, pyramid: Path) -> Server:
    """Debian's iipimage-server as FastCGI behind lighttpd, on the same pyramids (the
    256 px one for 256 px tiles, the 512 px one for 512 px tiles)."""
    from iiif.derivatives import TILE_SIZES, tiled_pyramid

    fcgi = Path("/usr/lib/iipimage-server/iipsrv.fcgi")
    lighttpd = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
    missing = not fcgi.exists() or not Path(lighttpd).exists()
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "iipimage-server", "lighttpd"],
                       capture_output=True, env={**os.environ,
                                                 "DEBIAN_FRONTEND": "noninteractive"})
    if not fcgi.exists():
        raise RuntimeError("iipimage-server is not installed (apt-get install iipimage-server)")
    if not Path(lighttpd).exists():
        raise RuntimeError("lighttpd is not installed (apt-get install lighttpd)")
    images = work / "iip-images"
    images.mkdir(exist_ok=True)
    for tile in TILE_SIZES:
        target = images / f"{IMAGE_KEY}-{tile}.tif"
        if not target.exists():
            os.symlink(tiled_pyramid(pyramid, tile), target)
    port = free_port()
    conf = work / "lighttpd.conf"
    conf.write_text(f"""
server.modules = ("mod_fastcgi")
server.document-root = "{images}"
server.port = {port}
server.bind = "127.0.0.1"
server.errorlog = "{work}/lighttpd-error.log"
server.max-keep-alive-requests = 100000
fastcgi.server = ( "/fcgi-bin/iipsrv.fcgi" => ((
    "socket" => "{work}/iipsrv.sock",
    "check-local" => "disable",
    "min-procs" => 1, "max-procs" => 2,
    "bin-path" => "{fcgi}",
    "bin-environment" => (
        "FILESYSTEM_PREFIX" => "{images}/",
        "LOGLEVEL" => "0",
        "JPEG_QUALITY" => "85",
        "MAX_CVT" => "10000",
        "MAX_IMAGE_CACHE_SIZE" => "64",
        "URI_MAP" => "iiif=>IIIF",
        "CORS" => "*"
    )
)))
""")
    proc = subprocess.Popen([lighttpd, "-D", "-f", str(conf)], cwd=work,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    prefix = f"http://127.0.0.1:{port}/fcgi-bin/iipsrv.fcgi?IIIF={IMAGE_KEY}"
    try:
        wait_for(f"{prefix}-256.tif/info.json", timeout=30, proc=proc)
    except RuntimeError:
        _stop(proc)
        raise
    return Server("iipimage", lambda r, s, t=256: f"{prefix}-{t}.tif/{r}/{s}/0/default.jpg",
                  stop=lambda: _stop(proc), pid=proc.pid,
                  note="iipimage-server (Debian, C++) FastCGI x2 behind lighttpd, same pyramids")


# --------------------------------------------------------------------------- the run
def _tiles_main(args: argparse.Namespace) -> int:
    import requests

    from iiif.derivatives import ensure_image_derivatives, pyramid_path, tiled_pyramid
    from repo.files import FileStore

    # everything this run writes (the servers' pid and temporary files included: the
    # reference's iiif_testserver.py drops a .pid file in its working folder) stays under
    # ``out``; absolute, since the servers run in other working folders
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="iiif-tiles-", dir=out))
    servers: list[Server] = []
    not_run: dict[str, str] = {}
    tiles = [int(t) for t in args.tiles.split(",")]
    phases = [p for p in args.phases.split(",") if p]
    workers = [int(w) for w in args.workers.split(",")]
    if not args.reference:
        not_run["reference"] = ("not asked for (--reference): the PyPI iiif reference decodes "
                                "the whole original for every tile (~1 tile/s here), a strawman")
    try:
        original = work / "scan.jpg"
        t0 = time.perf_counter()
        synthetic_scan(original, args.width, args.height)
        print(f"synthetic scan {args.width}×{args.height}: {original.stat().st_size / 1e6:.1f} MB "
              f"JPEG in {time.perf_counter() - t0:.1f} s", flush=True)
        # the unsealed site's pyramids are what iipimage reads too; the sealed site holds
        # the same image sealed (every new site's files are)
        homes = {"lantai": work / "site"}
        if args.sealed:
            homes["sealed"] = work / "sealed"
        derive_s = 0.0
        info = None
        pyramid = None
        for label, home in homes.items():
            make_image_site(home, "http://127.0.0.1:1", {IMAGE_KEY: original},
                            encrypted=label == "sealed")
            with FileStore.for_site(home) as store:
                digest = store.put(original)
            t0 = time.perf_counter()
            made = ensure_image_derivatives(home, digest)
            if label == "lantai":
                derive_s = time.perf_counter() - t0
                info, pyramid = made, pyramid_path(home, digest)
        assert info is not None and pyramid is not None
        p512 = tiled_pyramid(pyramid, 512)
        print(f"pyramid.tif: {pyramid.stat().st_size / 1e6:.1f} MB, {len(info.levels)} levels; "
              f"pyramid-512.tif: {p512.stat().st_size / 1e6:.1f} MB; "
              f"made in {derive_s:.1f} s", flush=True)

        serve_has_workers = lantai_serve_has_workers()
        starters: list[tuple[str, Callable[[], Server]]] = []
        for label, home in homes.items():
            for n in workers:
                starters.append((f"{label} {n}w", functools.partial(
                    start_lantai, home, workers=n, name=f"{label} {n}w",
                    use_lantai_serve=serve_has_workers and n > 1)))
        if args.reference:
            starters.append(("reference", lambda: start_reference(
                work, original, Path(args.reference_venv or out / "iiif-ref-venv"))))
        if not args.no_iipimage:
            starters.append(("iipimage", lambda: start_iipimage(work, pyramid)))
        else:
            not_run["iipimage"] = "left out (--no-iipimage)"
        for name, start in starters:
            try:
                servers.append(start())
            except Exception as exc:  # an anchor we cannot run is reported, loudly
                if not name.startswith(("reference", "iipimage")):
                    raise
                not_run[name] = f"COULD NOT START: {exc}"
                _shout(f"ANCHOR NOT RUN: {name}: {exc}")
        print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores, "
              "shared)", flush=True)
        for server in servers:
            print(f"  {server.name:<10} {server.note}", flush=True)
        for server in servers:  # connections, imports, info.json: not tiles
            for tile in tiles:
                requests.get(server.url_for("full", "max", tile).rsplit("/full/", 1)[0]
                             + "/info.json", timeout=60)
        pooled: dict[tuple[str, int, str, int], Result] = {}

        def measure(server: Server, reqs: list, clients: int, seconds: float, tile: int,
                    phase: str, once: bool) -> None:
            res = run_load(server, reqs, clients, seconds, tile, once=once)
            res.phase = phase
            key = (server.name, tile, phase, clients)
            pooled[key] = pooled[key].add(res) if key in pooled else res

        rounds = max(1, args.rounds)
        for tile in tiles:
            levels = len(info.levels)
            cold = grid_tiles(args.width, args.height, tile, levels)
            cut = len(cold) // 3  # 1 client gets a third, N clients the rest: disjoint
            rendered = grid_tiles(args.width, args.height, tile, levels, seed=11, shrink=12)
            warm = tile_requests(args.width, args.height, tile, levels, 4000)
            # the servers take turns, round after round (who goes first turns too), so
            # that the drift of the shared machine's load hits each of them alike; every
            # cold and render round has its own tiles
            # render before cold: a server that keeps decoded tiles (iipimage does, 64 MB
            # per process) must not have them from the cold phase's requests of the same
            # tiles, or the render phase measures its cache rather than its rendering
            for phase, reqs in (("render", rendered), ("cold", cold)):
                if phase not in phases:
                    continue
                for r in range(rounds):
                    for server in servers[r % len(servers):] + servers[:r % len(servers)]:
                        seconds = (args.reference_seconds if server.name == "reference"
                                   else args.seconds) / rounds
                        measure(server, reqs[:cut][r::rounds], 1, seconds / 2, tile, phase,
                                True)
                        measure(server, reqs[cut:][r::rounds], args.clients, seconds, tile,
                                phase, True)
            if "warm" in phases:
                for server in servers:
                    if server.name != "reference":  # no cache: its warm figures are cold
                        # one pass over every tile (a viewer's first visit), then warm
                        run_load(server, cold, args.clients, 120, tile, once=True)
                for r in range(rounds):
                    for server in servers[r % len(servers):] + servers[:r % len(servers)]:
                        if server.name != "reference":
                            seconds = args.seconds / rounds
                            measure(server, warm, 1, seconds / 2, tile, "warm", False)
                            measure(server, warm, args.clients, seconds, tile, "warm", False)
            for server in servers:
                for phase in phases:
                    one = pooled.get((server.name, tile, phase, 1))
                    many = pooled.get((server.name, tile, phase, args.clients))
                    if one and many:
                        _print(one, many, phase)
        report = _report(list(pooled.values()), not_run, servers, args, derive_s, tiles,
                         phases)
        print(report["table"])
        stamp = time.strftime("%Y%m%dT%H%M%S")
        (out / f"iiif-tiles-{stamp}.json").write_text(json.dumps(report, indent=2,
                                                                  ensure_ascii=False))
        print(f"written: {out / f'iiif-tiles-{stamp}.json'}")
    finally:
        for server in servers:
            if server.stop:
                server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    failed = [name for name, why in not_run.items() if why.startswith("COULD NOT START")]
    for name in failed:
        _shout(f"ANCHOR NOT RUN: {name} ({not_run[name]})")
    return 3 if failed else 0


def _shout(message: str) -> None:
    """An anchor that did not run, where nobody can miss it (stdout and stderr)."""
    line = "!" * 78
    for stream in (sys.stdout, sys.stderr):
        print(f"{line}\n!!! {message}\n{line}", file=stream, flush=True)


def _print(one: Result, many: Result, phase: str) -> None:
    print(f"  {one.name:<10} {one.tile}px {phase:<6} 1 client: p50={one.pct(.5):7.1f} ms "
          f"p99={one.pct(.99):7.1f} ms n={len(one.latencies):>4} | {many.clients} clients: "
          f"p50={many.pct(.5):7.1f} ms p99={many.pct(.99):7.1f} ms "
          f"{many.throughput:7.1f} tiles/s cpu={many.cpu_ms:5.2f} ms/tile "
          f"n={len(many.latencies):>5} errors={one.errors + many.errors} load={many.load:.1f}",
          flush=True)


def _report(results: list[Result], not_run: dict[str, str], servers: list[Server], args,
            derive_s: float, tiles: list[int], phases: list[str]) -> dict:
    """The side-by-side table: per tile size and phase, latency and throughput with one
    client and with ``--clients``, server CPU per tile, and each of our servers'
    throughput over iipimage's (and the reference's, when it ran) with 1 and N clients."""
    n = args.clients
    by = {(r.name, r.tile, r.phase, r.clients): r for r in results}
    names = [s.name for s in servers]
    ours = [name for name in names if name not in ("reference", "iipimage")]

    def get(name: str, tile: int, phase: str, clients: int) -> Result | None:
        found = by.get((name, tile, phase, clients))
        if found is None and name == "reference" and phase == "warm":
            found = by.get((name, tile, "cold", clients))
        return found

    lines = [f"IIIF tiles: {args.width}×{args.height} scan, {os.cpu_count()} cores shared, "
             f"load average now {os.getloadavg()[0]:.1f} (each row: load at its start); "
             f"clients are processes",
             *(f"  {s.name:<10} {s.note}" for s in servers),
             *(f"  {name:<10} NOT RUN: {why}" for name, why in not_run.items()),
             f"{'tile':>4} {'phase':<6} {'server':<10} {'1c p50':>7} {'1c p99':>7} "
             f"{'1c /s':>6} {f'{n}c p50':>7} {f'{n}c p99':>7} {f'{n}c /s':>7} {'cpu ms':>6} "
             f"{'n':>6} {'err':>4} {'load':>5} {'÷iip 1c':>7} {f'÷iip {n}c':>7}"]
    rows = []
    goals = []
    for tile in tiles:
        for phase in phases:
            iip1, iipn = get("iipimage", tile, phase, 1), get("iipimage", tile, phase, n)
            for name in names:
                one, many = get(name, tile, phase, 1), get(name, tile, phase, n)
                if one is None or many is None:
                    continue
                r1 = one.throughput / iip1.throughput if iip1 and iip1.throughput else None
                rn = many.throughput / iipn.throughput if iipn and iipn.throughput else None
                mine = name in ours
                same = "*" if name == "reference" and phase == "warm" else ""
                lines.append(
                    f"{tile:>4} {phase:<6} {name + same:<10} {one.pct(.5):>7.1f} "
                    f"{one.pct(.99):>7.1f} {one.throughput:>6.1f} {many.pct(.5):>7.1f} "
                    f"{many.pct(.99):>7.1f} {many.throughput:>7.1f} {many.cpu_ms:>6.2f} "
                    f"{len(one.latencies) + len(many.latencies):>6} "
                    f"{one.errors + many.errors:>4} {many.load:>5.1f} "
                    f"{f'{r1:.2f}' if mine and r1 else '':>7} "
                    f"{f'{rn:.2f}' if mine and rn else '':>7}")
                rows.append({"server": name, "tile": tile, "phase": phase,
                             "as_cold": bool(same), "clients": n,
                             "requests_1_client": len(one.latencies),
                             "requests": len(many.latencies),
                             "errors": one.errors + many.errors,
                             "p50_ms_1_client": round(one.pct(.5), 2),
                             "p99_ms_1_client": round(one.pct(.99), 2),
                             "throughput_1_client": round(one.throughput, 1),
                             "p50_ms": round(many.pct(.5), 2), "p99_ms": round(many.pct(.99), 2),
                             "throughput": round(many.throughput, 1),
                             "cpu_ms_per_tile": round(many.cpu_ms, 3),
                             "load_1_client": round(one.load, 2), "load": round(many.load, 2),
                             "vs_iipimage_1_client": round(r1, 2) if mine and r1 else None,
                             "vs_iipimage": round(rn, 2) if mine and rn else None})
                if mine and rn is not None:
                    goals.append(f"{tile}px {phase} {name}: {rn:.2f}× iipimage with {n} "
                                 f"clients, {r1:.2f}× with 1 (goal ≥ {GOAL_VS_IIPIMAGE:g}×): "
                                 f"{'met' if rn >= GOAL_VS_IIPIMAGE else 'NOT met'}")
                if mine:
                    ok = one.pct(.5) <= GOAL_P50_MS and many.pct(.5) <= GOAL_P50_MS
                    goals.append(f"{tile}px {phase} {name}: p50 {one.pct(.5):.1f} ms with 1 "
                                 f"client, {many.pct(.5):.1f} ms with {n} (goal ≤ "
                                 f"{GOAL_P50_MS:g}): {'met' if ok else 'NOT met'}")
    for name, why in not_run.items():
        goals.append(f"{name}: NOT RUN ({why})")
    if any(r["as_cold"] for r in rows):
        lines.append("* no cache: every request decodes the original, so its warm figures are "
                     "its cold ones")
    table = "\n".join([*lines, "", *goals])
    return {"table": table, "rows": rows, "not_run": not_run, "goals": goals,
            "servers": {s.name: s.note for s in servers},
            "derive_seconds": round(derive_s, 2), "commit": commit(),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "platform": platform.platform(), "load_at_end": os.getloadavg()},
            "args": {k: v for k, v in vars(args).items() if k != "func"}}


# --------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.iiif", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="part", required=True)
    t = sub.add_parser("tiles", help="tile latency/throughput vs iipimage (and the reference)")
    t.add_argument("--width", type=int, default=6000)
    t.add_argument("--height", type=int, default=8000)
    t.add_argument("--clients", type=int, default=4, help="client processes (besides 1)")
    t.add_argument("--seconds", type=float, default=6.0,
                   help="per server, tile size and phase (N clients; 1 client gets half)")
    t.add_argument("--rounds", type=int, default=2,
                   help="the servers take turns this many times per phase")
    t.add_argument("--tiles", default="256,512", help="tile sizes, e.g. 256")
    t.add_argument("--phases", default=",".join(PHASES), help="of cold,warm,render")
    t.add_argument("--workers", default="1,2",
                   help="our server with this many worker processes (each a row)")
    t.add_argument("--no-sealed", dest="sealed", action="store_false",
                   help="leave out our server on a sealed site")
    t.add_argument("--reference", action="store_true",
                   help="also run the PyPI iiif reference (a strawman: slow, see above)")
    t.add_argument("--reference-seconds", type=float, default=10.0,
                   help="the reference is slow: give it longer to get enough samples")
    t.add_argument("--no-iipimage", action="store_true")
    t.add_argument("--keep", action="store_true", help="keep the work folder")
    t.add_argument("--out", default=str(DEFAULT_OUT))
    t.add_argument("--reference-venv", default=None,
                   help="the reference's venv (default OUT/iiif-ref-venv, made if missing)")
    t.set_defaults(func=_tiles_main)
    s = sub.add_parser("site", help="make a site serving images (KEY=PATH ...)")
    s.add_argument("home")
    s.add_argument("base")
    s.add_argument("images", nargs="+")
    s.set_defaults(func=_site_main)
    v = sub.add_parser("serve", help="serve a site with waitress")
    v.add_argument("home")
    v.add_argument("--port", type=int, required=True)
    v.add_argument("--threads", type=int, default=8)
    v.add_argument("--processes", type=int, default=1,
                   help="pre-forked processes sharing the listening socket")
    v.set_defaults(func=_serve_main)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
