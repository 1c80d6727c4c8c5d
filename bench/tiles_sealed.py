"""IIIF tiles from sealed pyramids beside unsealed ones, in one run (issue 14, item 2).

    python -m bench.tiles_sealed [--width 4000 --height 5000] [--clients 4] [--rounds 5]
                                 [--seconds 3] [--builds 3] [--out DIR]

Goal (issue 14, "Performance"): serving IIIF tiles from encrypted files at ≥ 0.8× the
throughput of unencrypted ones, both measured in one run.

One synthetic scan (``bench.iiif.synthetic_scan``: paper noise under text, a JPEG as costly
as a real page) becomes the published, open image of two fresh sites that differ only in
``files_encrypted``: on one the original and its derivatives are sealed (AES-256-GCM,
:mod:`iiif.derivative_files`), on the other they are plain files, as before issue 14. Both
sites are served by the same server (``bench.iiif serve``: Flask + waitress, 8 threads), and
the same client (``bench.iiif.run_load``: threads with keep-alive connections) asks both for
the same tiles:

- **stored 256 cold**: every tile of the 256 px grid at every scale factor, each asked once
  (split over the rounds): the first request of each tile, so the sealed site decrypts its
  chunks (the bounded cache of decrypted chunks, ``iiif.derivative_files.ChunkCache``, holds
  only what was read before: a neighbour's chunk at most). Few requests per round: noisy;
- **stored 256** and **stored 512**: every tile of the 256 px (then 512 px) grid at every
  scale factor, shuffled, asked over and over for ``--seconds`` (the answer is the stored
  JPEG bytes: for the sealed site, read through the sealed pyramid's reader, from the first
  pass on mostly from its cache of decrypted chunks, as the plain pyramid's bytes come from
  the page cache; the edge tiles, which are not whole stored tiles, are rendered once and
  then cached, alike);
- **rendered**: the 256 px grid asked 12, 20, … 52 px narrower (``244,``): nothing stored or
  cached matches, every request (each made once) crops, scales and encodes (the sealed
  site's libvips reads its pyramid through a custom source over the decrypting reader).

The two servers take turns, ``--rounds`` times per kind (who goes first alternates), each
round with its own slice of the tiles, ``--clients`` clients at once: so the drift of the
shared machine's load hits both alike. Each round gives a throughput per server; the table
shows their medians, the median of the per-round ratios (sealed ÷ unsealed) beside the goal
of 0.8, and the p50 latency of all requests. Every answer is checked (200, a body); a
sample of tiles is compared byte for byte between the two servers (stored tiles are the
same bytes, since both pyramids are made from the same image by the same libvips).

Also (not a goal of the issue; the brief asks which is faster): the time to build the
derivatives of the sealed original from its decrypted stream (a libvips custom source, what
``iiif.derivatives`` does) beside the time from a decrypted temporary copy
(``FileStore.local_path``) and from the unsealed original: medians of ``--builds`` builds.

The rows go to ``bench/out/tiles-sealed-<time>.json`` with the machine, the load average
and the commit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import commit
from bench.iiif import (
    IMAGE_KEY,
    Result,
    Server,
    grid_tiles,
    make_image_site,
    run_load,
    start_lantai,
    synthetic_scan,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "out"
GOAL_RATIO = 0.8  # sealed ÷ unsealed throughput, at least
KINDS = ("stored 256 cold", "stored 256", "stored 512", "rendered")
SAMPLE = 40  # tiles compared byte for byte between the two servers
RENDER_SHRINKS = (12, 20, 28, 36, 44, 52)  # px narrower than the stored tile: never stored


def _requests(width: int, height: int, levels: int) -> dict[str, tuple[int, list]]:
    """Per kind: the tile size asked for and the (region, size) list, in one fixed order.
    Rendered requests are each made once (a rendering is cached: asked again, it is no
    longer rendered), so there are several narrower sizes of every tile."""
    rendered = [t for shrink in RENDER_SHRINKS
                for t in grid_tiles(width, height, 256, levels, seed=11, shrink=shrink)]
    return {"stored 256 cold": (256, grid_tiles(width, height, 256, levels, seed=3)),
            "stored 256": (256, grid_tiles(width, height, 256, levels)),
            "stored 512": (512, grid_tiles(width, height, 512, levels)),
            "rendered": (256, rendered)}


def _build_times(sealed_home: Path, plain_home: Path, builds: int) -> dict[str, float]:
    """Median seconds to build an image's derivatives (both pyramids and the thumbnail):
    from the sealed original's stream, from its decrypted copy, from the plain original."""
    from iiif import derivatives
    from repo.files import FileStore

    def digest_of(home: Path) -> str:
        with FileStore.for_site(home) as store:
            return next(iter(store.digests()))

    def once(home: Path, opener_kind: str) -> float:
        digest = digest_of(home)
        folder = derivatives.derivatives_folder(home, digest)
        shutil.rmtree(folder, ignore_errors=True)
        t0 = time.perf_counter()
        if opener_kind == "stream":
            derivatives.ensure_image_derivatives(home, digest)
        else:  # the other way: a decrypted temporary copy, read by libvips by its path
            with FileStore.for_site(home) as store, store.local_path(digest) as plain:
                # the same work as ensure_image_derivatives, reading the copy
                image = derivatives.open_original(plain)
                files = derivatives.files_for(folder / derivatives.PYRAMID)
                for tile in derivatives.TILE_SIZES:
                    target = folder / derivatives.pyramid_name(tile)
                    with files.plaintext_file(target) as tmp:
                        derivatives._save_pyramid(image, tmp, tile)
                        if tile == derivatives.TILE:
                            with files.plaintext_file(folder / derivatives.THUMB) as thumb:
                                derivatives._save_thumb(tmp, thumb)
                                files.store(thumb, folder / derivatives.THUMB)
                        files.store(tmp, target)
        return time.perf_counter() - t0

    out: dict[str, list[float]] = {"sealed, from the decrypted stream": [],
                                   "sealed, from a decrypted temporary copy": [],
                                   "unsealed, from the file": []}
    for _ in range(builds):  # interleaved: the machine's drift hits all three alike
        out["sealed, from the decrypted stream"].append(once(sealed_home, "stream"))
        out["sealed, from a decrypted temporary copy"].append(once(sealed_home, "copy"))
        out["unsealed, from the file"].append(once(plain_home, "stream"))
    for home in (sealed_home, plain_home):  # leave both sites with their derivatives made
        from iiif.derivatives import ensure_image_derivatives

        ensure_image_derivatives(home, digest_of(home))
    return {k: statistics.median(v) for k, v in out.items() if v}


def _ungated(home: Path) -> None:
    """Let one client render as much as it likes: the bench's clients share one address, and
    the per-client gate (``expensive_per_client``, 429) is not what is measured here."""
    import dataclasses

    from repo.config import read_settings, write_settings

    write_settings(home, dataclasses.replace(read_settings(home), expensive_per_client=64,
                                             expensive_queue=64))


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as r:  # our own local server
        return r.read()


def _same_bytes(servers: dict[str, Server], reqs: dict[str, tuple[int, list]]) -> int:
    """Tiles compared between the two servers; raises when one differs."""
    checked = 0
    for kind in ("stored 256", "stored 512"):
        tile, tiles = reqs[kind]
        for region, size in tiles[:SAMPLE // 2]:
            a = _fetch(servers["unsealed"].url_for(region, size, tile))
            b = _fetch(servers["sealed"].url_for(region, size, tile))
            if a != b:
                raise SystemExit(f"tiles differ: {kind} {region}/{size}")
            checked += 1
    return checked


def _main(args: argparse.Namespace) -> int:
    from iiif.derivatives import ensure_image_derivatives
    from repo.files import FileStore

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="tiles-sealed-", dir=out))
    servers: dict[str, Server] = {}
    try:
        original = work / "scan.jpg"
        synthetic_scan(original, args.width, args.height)
        print(f"synthetic scan {args.width}×{args.height}: "
              f"{original.stat().st_size / 1e6:.1f} MB JPEG", flush=True)
        homes = {"sealed": work / "sealed", "unsealed": work / "unsealed"}
        levels = 0
        for name, home in homes.items():
            make_image_site(home, "http://127.0.0.1:1", {IMAGE_KEY: original},
                            encrypted=name == "sealed")
            _ungated(home)
            with FileStore.for_site(home) as store:
                digest = next(iter(store.digests()))
            levels = len(ensure_image_derivatives(home, digest).levels)
        builds = _build_times(homes["sealed"], homes["unsealed"], args.builds)
        for what, seconds in builds.items():
            print(f"derivatives built {what}: {seconds:.2f} s (median of {args.builds})",
                  flush=True)
        for name, home in homes.items():
            servers[name] = start_lantai(home)
        reqs = _requests(args.width, args.height, levels)
        for server in servers.values():  # imports, info.json, the first pyramid opened
            _fetch(server.url_for("full", "max", 256).rsplit("/full/", 1)[0] + "/info.json")
        checked = _same_bytes(servers, reqs)
        print(f"{checked} stored tiles byte-equal between the two sites", flush=True)

        per_round: dict[tuple[str, str], list[Result]] = {}
        for kind in KINDS:
            tile, tiles = reqs[kind]
            for r in range(args.rounds):
                order = ["unsealed", "sealed"] if r % 2 == 0 else ["sealed", "unsealed"]
                for name in order:
                    # stored tiles: the grid over and over for the round's seconds (nothing
                    # caches them but the OS, for both); renderings: each asked once
                    once = kind in ("rendered", "stored 256 cold")
                    res = run_load(servers[name], tiles[r::args.rounds] if once else tiles,
                                   args.clients, args.seconds, tile, once=once)
                    per_round.setdefault((kind, name), []).append(res)
        report = _report(per_round, builds, args, checked)
        print(report["table"])
        stamp = time.strftime("%Y%m%dT%H%M%S")
        target = out / f"tiles-sealed-{stamp}.json"
        target.write_text(json.dumps(report, indent=2, ensure_ascii=False))
        print(f"written: {target}")
    finally:
        for server in servers.values():
            if server.stop:
                server.stop()  # type: ignore[operator]
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _report(per_round: dict[tuple[str, str], list[Result]], builds: dict[str, float],
            args: argparse.Namespace, checked: int) -> dict:
    lines = [f"IIIF tiles, sealed vs unsealed: {args.width}×{args.height} scan, "
             f"{args.clients} clients, {args.rounds} rounds, {os.cpu_count()} cores shared, "
             f"load average now {os.getloadavg()[0]:.1f}",
             f"{'kind':<15} {'unsealed /s':>11} {'sealed /s':>10} {'ratio':>6} {'goal':>5} "
             f"{'p50 unsealed':>13} {'p50 sealed':>11} {'n':>6} {'err':>4}  verdict"]
    rows = []
    verdicts = []
    for kind in KINDS:
        plain, sealed = per_round[(kind, "unsealed")], per_round[(kind, "sealed")]
        ratios = [s.throughput / p.throughput for s, p in zip(sealed, plain, strict=True)
                  if p.throughput]
        ratio = statistics.median(ratios) if ratios else float("nan")
        tp_plain = statistics.median(r.throughput for r in plain)
        tp_sealed = statistics.median(r.throughput for r in sealed)
        p50_plain = statistics.median(lat for r in plain for lat in r.latencies) * 1000
        p50_sealed = statistics.median(lat for r in sealed for lat in r.latencies) * 1000
        n = sum(len(r.latencies) for r in plain + sealed)
        errors = sum(r.errors for r in plain + sealed)
        met = ratio >= GOAL_RATIO and errors == 0
        verdicts.append(met)
        lines.append(f"{kind:<15} {tp_plain:>11.1f} {tp_sealed:>10.1f} {ratio:>6.2f} "
                     f"{GOAL_RATIO:>5.2f} {p50_plain:>11.2f}ms {p50_sealed:>9.2f}ms {n:>6} "
                     f"{errors:>4}  {'met' if met else 'NOT met'}")
        rows.append({"kind": kind, "throughput_unsealed": round(tp_plain, 1),
                     "throughput_sealed": round(tp_sealed, 1), "ratio": round(ratio, 3),
                     "ratios_per_round": [round(x, 3) for x in ratios], "goal": GOAL_RATIO,
                     "p50_ms_unsealed": round(p50_plain, 2),
                     "p50_ms_sealed": round(p50_sealed, 2), "requests": n, "errors": errors,
                     "load": [round(r.load, 2) for r in plain + sealed], "met": met})
    lines.append("")
    lines.extend(f"derivatives built {what}: {seconds:.2f} s" for what, seconds in builds.items())
    lines.append(f"goal (sealed ≥ {GOAL_RATIO}× unsealed) "
                 f"{'met for every kind' if all(verdicts) else 'NOT met for every kind'}")
    return {"table": "\n".join(lines), "rows": rows, "goal": GOAL_RATIO,
            "build_seconds": {k: round(v, 3) for k, v in builds.items()},
            "tiles_compared": checked, "commit": commit(),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "platform": platform.platform(), "load_at_end": os.getloadavg()},
            "args": {k: v for k, v in vars(args).items() if k != "func"}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tiles_sealed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="at most this long per server, kind and round")
    parser.add_argument("--builds", type=int, default=3,
                        help="derivative builds timed per way (0: skip)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    return _main(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
