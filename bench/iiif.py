"""IIIF benchmarks (issue 5, item 8). Part here: image tiles, side by side in one run.

    python -m bench.iiif tiles [--width 6000 --height 8000] [--clients 4] [--seconds 6]
    python -m bench.iiif site HOME BASE KEY=IMAGE...      (helper: a site serving IMAGEs)

**tiles**: a synthetic 6000×8000 scan (libvips noise and text, so JPEG tiles are as costly
as a real scan's) becomes a published image instantiation of a fresh site; its pyramidal
TIFFs are made once. The same tile requests (256 and 512 px, every zoom level, a fixed
random order, as a viewer computes them from info.json) are fetched by the same client
(threads with keep-alive connections) from the three servers below, in two phases per
tile size, each with 1 client (the latency one viewer sees) and ``--clients`` clients:

- **cold**: every tile of the grid (all zoom levels) once, shuffled; the 1-client and the
  N-client runs get disjoint halves, so every request is the first of its tile (no
  server-side cache can answer it; the OS page cache does hold the files, for all);
- **warm**: after one pass over every tile, the tiles again with each zoom level equally
  often (what caches of rendered tiles are for: edge tiles, the few deep levels);
- **render**: the cold phase's tiles asked for 12 px narrower (``w,``), each once: nothing
  stored or cached matches, every server decodes, scales and encodes every tile.

1. **Lantai**: our Flask app under waitress (8 threads), ``/iiif/3/{id}/…``;
2. **reference**: the PyPI ``iiif`` reference implementation (``iiif_testserver.py``,
   Pillow manipulator, Image API 3.0), installed in its own venv under ``bench/out/``;
3. **iipimage**: Debian's ``iipimage-server`` (C++), FastCGI ×2 behind lighttpd (its
   cache of answers at 64 MB per process, ours is 64 MB), reading
   the very same pyramids through its IIIF interface: ``pyramid.tif`` (256 px tiles)
   for 256 px requests, ``pyramid-512.tif`` for 512 px ones (its best case: one stored
   tile decoded per request, as ours serves one stored tile).

It prints p50/p99 latency and throughput per server, tile size and phase, the load
average of the (shared) machine at each phase, and the ratios against the anchors (goals:
p50 ≤ 15 ms, ≥ 5× the reference's throughput, ≥ ½ of iipimage's), and writes
``bench/out/iiif-tiles-<time>.json``. The reference has no cache: every request decodes
the original, so it runs the cold phase only and its warm figures are its cold ones. An
anchor that cannot be installed or started is skipped with the reason.
"""

from __future__ import annotations

import argparse
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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "out"
GOAL_P50_MS = 15.0
GOAL_VS_REFERENCE = 5.0
GOAL_VS_IIPIMAGE = 0.5
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
    """Serve a site with waitress (what ``lantai serve`` does), for the scripts here."""
    from waitress import serve

    from publisher.app import create_app

    serve(create_app(Path(args.home)), host="127.0.0.1", port=args.port, threads=args.threads,
          _quiet=True, asyncore_use_poll=True)
    return 0


# --------------------------------------------------------------------------- tiles
@dataclass
class Server:
    name: str
    url_for: object  # (region, size, tile=256) -> URL
    stop: object = None
    note: str = ""


@dataclass
class Result:
    name: str
    tile: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    load: float = 0.0  # 1-minute load average when the run started
    phase: str = ""  # cold or warm
    clients: int = 1

    def add(self, other: Result) -> Result:
        """Pool another round of the same server, tile, phase and clients."""
        rounds = getattr(self, "_rounds", 1)
        self.load = (self.load * rounds + other.load) / (rounds + 1)
        self._rounds = rounds + 1
        self.latencies += other.latencies
        self.errors += other.errors
        self.seconds += other.seconds
        return self

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(q * len(data)))] * 1000


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
    out = []
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


def run_load(server: Server, requests_list: list[tuple[str, str]], clients: int,
             seconds: float, tile: int, once: bool = False) -> Result:
    """``clients`` threads, each with its own keep-alive connection (``http.client``: a
    light client, as the machine is shared with the servers), for ``seconds`` (or, with
    ``once``, until every request of the list was made once, whichever is first)."""
    import http.client
    import urllib.parse

    result = Result(server.name, tile, load=os.getloadavg()[0], clients=clients)
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds
    counter = iter(range(len(requests_list) if once else 10 ** 9))

    def worker() -> None:
        conn = None
        local: list[float] = []
        errors = 0
        while time.perf_counter() < stop_at:
            i = next(counter, None)
            if i is None:
                break
            region, size = requests_list[i % len(requests_list)]
            url = urllib.parse.urlsplit(server.url_for(region, size, tile))
            path = url.path + (f"?{url.query}" if url.query else "")
            t0 = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
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
        with lock:
            result.latencies.extend(local)
            result.errors += errors
        if conn is not None:
            conn.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - t0
    return result


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


def start_lantai(home: Path) -> Server:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.iiif", "serve", str(home),
                             "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/healthz", proc=proc)
    prefix = f"{base}/iiif/3/{IMAGE_KEY}"
    return Server("lantai", lambda r, s, t=256: f"{prefix}/{r}/{s}/0/default.jpg",
                  stop=lambda: _stop(proc), note="Flask + waitress (8 threads), pyvips")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def start_reference(work: Path, original: Path, venv: Path) -> Server:
    """The PyPI ``iiif`` reference implementation in its own venv (bench/out/iiif-ref-venv)."""
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if subprocess.run([str(py), "-c", "import iiif"], capture_output=True).returncode != 0:
        r = subprocess.run([str(py), "-m", "pip", "install", "-q", "iiif"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"pip install iiif failed: {r.stderr.strip()[-300:]}")
    server_script = venv / "bin" / "iiif_testserver.py"
    if not server_script.exists():
        raise RuntimeError("the iiif package has no iiif_testserver.py")
    images = work / "ref-images"
    images.mkdir(exist_ok=True)
    # the reference server serves what is in its folder by file name (id = stem)
    shutil.copy(original, images / f"{IMAGE_KEY}.jpg")
    port = free_port()
    proc = subprocess.Popen([str(py), str(server_script), "--host", "127.0.0.1",
                             "--port", str(port), "--image-dir", str(images),
                             "--api-versions", "3.0", "--manipulators", "pil",
                             "--auth-types", "none"],
                            cwd=work,  # its iiif_testserver.pid goes here, not in the repo
                            # our own ``iiif`` package must not shadow the reference's
                            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    prefix = f"{base}/3.0_pil/{IMAGE_KEY}"
    try:
        wait_for(f"{prefix}/info.json", timeout=30, proc=proc)
    except RuntimeError:
        _stop(proc)
        raise
    return Server("reference", lambda r, s, t=256: f"{prefix}/{r}/{s}/0/default.jpg",
                  stop=lambda: _stop(proc),
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
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    prefix = f"http://127.0.0.1:{port}/fcgi-bin/iipsrv.fcgi?IIIF={IMAGE_KEY}"
    try:
        wait_for(f"{prefix}-256.tif/info.json", timeout=20, proc=proc)
    except RuntimeError:
        _stop(proc)
        raise
    return Server("iipimage", lambda r, s, t=256: f"{prefix}-{t}.tif/{r}/{s}/0/default.jpg",
                  stop=lambda: _stop(proc),
                  note="iipimage-server (Debian, C++) FastCGI x2 behind lighttpd, same pyramids")


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
    skipped: dict[str, str] = {}
    try:
        original = work / "scan.jpg"
        t0 = time.perf_counter()
        synthetic_scan(original, args.width, args.height)
        print(f"synthetic scan {args.width}×{args.height}: {original.stat().st_size / 1e6:.1f} MB "
              f"JPEG in {time.perf_counter() - t0:.1f} s")
        home = work / "site"
        # unsealed: iipimage reads the very same pyramid files (bench/tiles_sealed.py
        # compares sealed with unsealed)
        make_image_site(home, "http://127.0.0.1:1", {IMAGE_KEY: original}, encrypted=False)
        with FileStore.for_site(home) as store:
            digest = store.put(original)
        t0 = time.perf_counter()
        info = ensure_image_derivatives(home, digest)
        pyramid = pyramid_path(home, digest)
        derive_s = time.perf_counter() - t0
        p512 = tiled_pyramid(pyramid, 512)
        print(f"pyramid.tif: {pyramid.stat().st_size / 1e6:.1f} MB, {len(info.levels)} levels; "
              f"pyramid-512.tif: {p512.stat().st_size / 1e6:.1f} MB; "
              f"made in {derive_s:.1f} s")

        starters = [("lantai", lambda: start_lantai(home))]
        if not args.no_reference:
            starters.append(("reference", lambda: start_reference(
                work, original, Path(args.reference_venv or out / "iiif-ref-venv"))))
        if not args.no_iipimage:
            starters.append(("iipimage", lambda: start_iipimage(work, pyramid)))
        for name, start in starters:
            try:
                servers.append(start())
            except Exception as exc:  # an anchor we cannot run is reported, not fatal
                skipped[name] = str(exc)
                print(f"SKIPPED {name}: {exc}")

        print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores, "
              "shared)")
        for server in servers:  # connections, imports, info.json: not tiles
            for tile in (256, 512):
                requests.get(server.url_for("full", "max", tile).rsplit("/full/", 1)[0]
                             + "/info.json", timeout=60)
        pooled: dict[tuple[str, int, str, int], Result] = {}

        def measure(server: Server, reqs: list, clients: int, seconds: float, tile: int,
                    phase: str, once: bool) -> None:
            res = _phase(run_load(server, reqs, clients, seconds, tile, once=once), phase)
            key = (server.name, tile, phase, clients)
            pooled[key] = pooled[key].add(res) if key in pooled else res

        rounds = max(1, args.rounds)
        for tile in (256, 512):
            levels = len(info.levels)
            cold = grid_tiles(args.width, args.height, tile, levels)
            cut = len(cold) // 3  # 1 client gets a third, N clients the rest: disjoint
            rendered = grid_tiles(args.width, args.height, tile, levels, seed=11, shrink=12)
            warm = tile_requests(args.width, args.height, tile, levels, 4000)
            # the servers take turns, round after round, so that the drift of the shared
            # machine's load hits each of them alike; every cold round has its own tiles
            for r in range(rounds):
                for server in servers:
                    seconds = (args.reference_seconds if server.name == "reference"
                               else args.seconds) / rounds
                    measure(server, cold[:cut][r::rounds], 1, seconds / 2, tile, "cold", True)
                    measure(server, cold[cut:][r::rounds], args.clients, seconds, tile, "cold",
                            True)
                    measure(server, rendered[:cut][r::rounds], 1, seconds / 2, tile, "render",
                            True)
                    measure(server, rendered[cut:][r::rounds], args.clients, seconds, tile,
                            "render", True)
            for server in servers:
                if server.name != "reference":  # no cache: its warm figures are its cold ones
                    # one pass over every tile (a viewer's first visit), then warm
                    run_load(server, cold, args.clients, 120, tile, once=True)
            for _ in range(rounds):
                for server in servers:
                    if server.name != "reference":
                        seconds = args.seconds / rounds
                        measure(server, warm, 1, seconds / 2, tile, "warm", False)
                        measure(server, warm, args.clients, seconds, tile, "warm", False)
            for server in servers:
                for phase in PHASES:
                    one = pooled.get((server.name, tile, phase, 1))
                    many = pooled.get((server.name, tile, phase, args.clients))
                    if one and many:
                        _print(one, many, phase)
        results = list(pooled.values())
        report = _report(results, skipped, args, derive_s)
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
    return 0


def _phase(result: Result, phase: str) -> Result:
    result.phase = phase
    return result


def _print(one: Result, many: Result, phase: str) -> None:
    print(f"  {one.name:<10} {one.tile}px {phase}  1 client: p50={one.pct(.5):7.1f} ms "
          f"p99={one.pct(.99):7.1f} ms n={len(one.latencies):>4} | {many.clients} clients: "
          f"p50={many.pct(.5):7.1f} ms p99={many.pct(.99):7.1f} ms "
          f"{many.throughput:7.1f} tiles/s n={len(many.latencies):>5} "
          f"errors={one.errors + many.errors} load={many.load:.1f}", flush=True)


def _report(results: list[Result], skipped: dict[str, str], args, derive_s: float) -> dict:
    """The side-by-side table: per tile size and phase, latency and throughput with one
    client and with ``--clients``, and our throughput over each anchor's (the reference
    has no cache, so its cold figures stand for warm too)."""
    n = args.clients
    by = {(r.name, r.tile, r.phase, r.clients): r for r in results}

    def get(name: str, tile: int, phase: str, clients: int) -> Result | None:
        found = by.get((name, tile, phase, clients))
        if found is None and name == "reference" and phase == "warm":
            found = by.get((name, tile, "cold", clients))
        return found

    lines = [f"IIIF tiles: {args.width}×{args.height} scan, {os.cpu_count()} cores shared, "
             f"load average now {os.getloadavg()[0]:.1f} (each row: load at its start)",
             f"{'tile':>4} {'phase':<5} {'server':<10} {'1c p50':>7} {'1c p99':>7} "
             f"{'1c /s':>6} {f'{n}c p50':>7} {f'{n}c p99':>7} {f'{n}c /s':>7} {'n':>6} "
             f"{'err':>4} {'load':>5} {'ours ÷ it':>9}"]
    rows = []
    goals = []
    for tile in (256, 512):
        for phase in PHASES:
            ours = get("lantai", tile, phase, n)
            for name in ("lantai", "reference", "iipimage"):
                one, many = get(name, tile, phase, 1), get(name, tile, phase, n)
                if one is None or many is None:
                    continue
                ratio = (ours.throughput / many.throughput
                         if ours and many.throughput else float("nan"))
                same = "*" if name == "reference" and phase == "warm" else ""
                lines.append(
                    f"{tile:>4} {phase:<5} {name + same:<10} {one.pct(.5):>7.1f} "
                    f"{one.pct(.99):>7.1f} {one.throughput:>6.1f} {many.pct(.5):>7.1f} "
                    f"{many.pct(.99):>7.1f} {many.throughput:>7.1f} "
                    f"{len(one.latencies) + len(many.latencies):>6} "
                    f"{one.errors + many.errors:>4} {many.load:>5.1f} "
                    f"{'' if name == 'lantai' else f'{ratio:.2f}':>9}")
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
                             "load_1_client": round(one.load, 2), "load": round(many.load, 2),
                             "lantai_throughput_ratio": None if name == "lantai"
                             else round(ratio, 2)})
            if ours is None:
                continue
            one = get("lantai", tile, phase, 1)
            goals.append(f"{tile}px {phase}: p50 {one.pct(.5):.1f} ms with 1 client, "
                         f"{ours.pct(.5):.1f} ms with {n} (goal ≤ {GOAL_P50_MS:g}): "
                         f"{'met' if one.pct(.5) <= GOAL_P50_MS else 'NOT met'} / "
                         f"{'met' if ours.pct(.5) <= GOAL_P50_MS else 'NOT met'}")
            for anchor, goal in (("reference", GOAL_VS_REFERENCE),
                                 ("iipimage", GOAL_VS_IIPIMAGE)):
                other = get(anchor, tile, phase, n)
                if other and other.throughput:
                    ratio = ours.throughput / other.throughput
                    goals.append(f"{tile}px {phase}: {ratio:.2f}× {anchor} throughput "
                                 f"(goal ≥ {goal:g}×) {'met' if ratio >= goal else 'NOT met'}")
    for name, why in skipped.items():
        goals.append(f"{name}: skipped ({why})")
    if any(r["as_cold"] for r in rows):
        lines.append("* no cache: every request decodes the original, so its warm figures are "
                     "its cold ones")
    table = "\n".join([*lines, "", *goals])
    return {"table": table, "rows": rows, "skipped": skipped, "goals": goals,
            "derive_seconds": round(derive_s, 2),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "platform": platform.platform(), "load_at_end": os.getloadavg()},
            "args": {k: v for k, v in vars(args).items() if k != "func"}}


# --------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.iiif", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="part", required=True)
    t = sub.add_parser("tiles", help="tile latency/throughput vs the reference and iipimage")
    t.add_argument("--width", type=int, default=6000)
    t.add_argument("--height", type=int, default=8000)
    t.add_argument("--clients", type=int, default=4)
    t.add_argument("--seconds", type=float, default=6.0,
                   help="per server, tile size and phase (N clients; 1 client gets half)")
    t.add_argument("--rounds", type=int, default=2,
                   help="the servers take turns this many times per phase")
    t.add_argument("--reference-seconds", type=float, default=10.0,
                   help="the reference is slow: give it longer to get enough samples")
    t.add_argument("--no-reference", action="store_true")
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
    v.set_defaults(func=_serve_main)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
