"""Fixity read speed beside ``dd`` on the same files (issue 14: fixity ≥ 80 % of the disk's
sequential read speed).

    python -m bench.fixity [--size-mb 1024] [--file-mb 64] [--repeat 3] [--dir DIR] [--out DIR]

A site folder is made under ``--dir`` (default: the system's temporary folder, i.e. the same
disk as a site would be on here) whose OCFL root (written by :mod:`preservation.ocfl`, the
site's own writer) holds ``--size-mb`` of originals in files of ``--file-mb``, sealed with
the site's keyring as the file store seals them (random bytes: masters do not compress),
four files an object, with ``lantai/files.json``. Then, ``--repeat`` times, in this order:

- ``dd``: ``dd if=FILE of=/dev/null bs=1M`` over every content file, one after the other
  (the anchor: the disk's sequential read speed through the page cache's read-ahead);
- ``fixity``: :func:`preservation.fixity.check` without the key (SHA-256 of the stored
  bytes against the inventories: what ``lantai fixity --no-deep`` does);
- ``fixity 1 thread``: the same, one object at a time (``workers=1``);
- ``fixity --deep``: the same plus every AES-GCM chunk opened and the plaintext's SHA-256.

Each is timed with a cold cache: before every run the files' pages are dropped — with
``echo 3 > /proc/sys/vm/drop_caches`` when the process may (root, not in a container that
forbids it), else with ``posix_fadvise(DONTNEED)`` on each file, which drops a file's clean
pages without privileges (the row's note says which). A second set of rows is timed warm
(the files read once just before): that is the CPU's side (hashing, decrypting) without the
disk. Figures are medians in MB/s (10⁶ bytes), with the ratio to ``dd`` of the same
temperature beside the goal (0.8), and the MB checked per CPU-second of the process (what
fixity would reach on an idle machine, where the disk and not the CPU bounds it); rows go to
``bench/out/fixity-<time>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import ROOT, commit

DEFAULT_OUT = ROOT / "bench" / "out"
GOAL = 0.8
PER_OBJECT = 4


@dataclass
class Row:
    what: str
    cache: str
    mb_s: float
    dd_mb_s: float
    cpu_mb_s: float | None = None  # MB per CPU-second of this process (all its threads)
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.mb_s / self.dd_mb_s if self.dd_mb_s else 0.0


def build_site(home: Path, size_mb: int, file_mb: int) -> list[Path]:
    """The site's OCFL root with sealed originals; the content files' paths."""
    from preservation import crypt, keys
    from preservation.keyring import Keyring
    from preservation.ocfl import StorageRoot

    keys.site_master_key(home, create=True)
    ring = Keyring.open(home)
    root = StorageRoot(home / "files")
    work = home / "tmp" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    count = max(1, size_mb // file_mb)
    plain_size = file_mb * 1_000_000
    n = 0
    while n < count:
        object_id = f"https://archive.example.org/id/file/B{n // PER_OBJECT:05d}"
        files: dict[str, Path] = {}
        entries = []
        for _ in range(min(PER_OBJECT, count - n)):
            plain = os.urandom(plain_size)
            digest = "sha256:" + hashlib.sha256(plain).hexdigest()
            logical = f"page-{n:05d}/master.tif"
            source = work / f"{n}.sealed"
            with open(source, "wb") as f:
                for piece in crypt.seal_chunks([plain], plain_size,
                                               ring.data_key(digest, create=True)):
                    f.write(piece)
            files[logical] = source
            entries.append({"path": logical, "digest": digest, "size": plain_size,
                            "mediaType": "image/tiff", "sealed": True, "keyringName": digest})
            n += 1
        listing = work / "files.json"
        listing.write_text(json.dumps({"files": entries}))
        files["lantai/files.json"] = listing
        root.add_version(object_id, files, message="bench", move=True)
    ring.close()
    shutil.rmtree(work, ignore_errors=True)
    return sorted(p for p in (home / "files").rglob("*") if p.is_file() and "/content/" in
                  p.as_posix() and not p.name.endswith(".json"))


def drop_caches(paths: list[Path]) -> str:
    """Drop the files' pages from the page cache; how it was done."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return "drop_caches"
    except OSError:
        pass
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return "fadvise DONTNEED per file (drop_caches refused)"


def warm(paths: list[Path]) -> None:
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 22):
                pass


CPU: dict[str, list[float]] = {}


def run_dd(paths: list[Path]) -> float:
    started = time.perf_counter()
    for p in paths:
        subprocess.run(["dd", f"if={p}", "of=/dev/null", "bs=1M"], check=True,
                       capture_output=True)
    return time.perf_counter() - started


def run_fixity(home: Path, deep: bool, workers: int) -> Callable[[list[Path]], float]:
    from preservation import fixity
    from preservation.keyring import Keyring

    def run(paths: list[Path]) -> float:
        ring = Keyring.open(home) if deep else None
        try:
            started, cpu = time.perf_counter(), time.process_time()
            report = fixity.check(home, deep=deep, keyring=ring, record=False,
                                  workers=workers)
            took = time.perf_counter() - started
            CPU.setdefault(f"{deep}/{workers}", []).append(time.process_time() - cpu)
        finally:
            if ring is not None:
                ring.close()
        assert report.ok, [p.line() for p in report.problems]
        return took
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fixity",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="originals in all (MB)")
    parser.add_argument("--file-mb", type=int, default=64, help="size of one original (MB)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, per cache state")
    parser.add_argument("--dir", type=Path, default=None, help="where the site is made")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="lantai-fixity-bench-", dir=args.dir))
    home = folder / "site"
    home.mkdir()
    os.environ["LANTAI_KEY_FILE"] = str(folder / "site.key")
    try:
        print(f"making {args.size_mb} MB of sealed originals in {home} …", flush=True)
        paths = build_site(home, args.size_mb, args.file_mb)
        total = sum(p.stat().st_size for p in paths)
        from preservation.fixity import WORKERS

        runs = {"dd": run_dd, "fixity": run_fixity(home, False, WORKERS),
                "fixity 1 thread": run_fixity(home, False, 1),
                "fixity --deep": run_fixity(home, True, WORKERS)}
        rows: list[Row] = []
        for cache in ("cold", "warm"):
            times: dict[str, list[float]] = {name: [] for name in runs}
            how = ""
            for _ in range(args.repeat):
                for name, run in runs.items():
                    if cache == "cold":
                        how = drop_caches(paths)
                    else:
                        warm(paths)
                    times[name].append(run(paths))
            speed = {name: total / 1e6 / statistics.median(t) for name, t in times.items()}
            cpu = {k: total / 1e6 / statistics.median(v) for k, v in CPU.items()}
            CPU.clear()
            keys = {"fixity": f"False/{WORKERS}", "fixity 1 thread": "False/1",
                    "fixity --deep": f"True/{WORKERS}"}
            for name in runs:
                per_cpu = cpu.get(keys.get(name, ""))
                rows.append(Row(name, cache, round(speed[name], 1), round(speed["dd"], 1),
                                round(per_cpu, 1) if per_cpu else None,
                                how if cache == "cold" else "files read just before"))
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(folder)
    print(f"{len(paths)} files, {total / 1e6:.0f} MB stored; medians of {args.repeat}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'what':<16} {'cache':<5} {'MB/s':>8} {'dd MB/s':>8} {'ratio':>6} {'goal':>5} "
          f"{'MB/CPU-s':>9}  note")
    for r in rows:
        per_cpu = f"{r.cpu_mb_s:.0f}" if r.cpu_mb_s else "—"
        print(f"{r.what:<16} {r.cache:<5} {r.mb_s:>8.1f} {r.dd_mb_s:>8.1f} {r.ratio:>6.2f} "
              f"{GOAL:>5} {per_cpu:>9}  {r.note}")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"fixity-{stamp}.json").write_text(json.dumps({
        "machine": platform.platform(), "cpus": os.cpu_count(), "python": sys.version,
        "commit": commit(), "load": os.getloadavg(), "files": len(paths), "bytes": total,
        "rows": [asdict(r) | {"ratio": r.ratio} for r in rows]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
