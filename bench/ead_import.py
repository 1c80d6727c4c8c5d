"""EAD import against lxml's parse of the same file alone, side by side.

    python -m bench.ead_import [--components 100000] [--out DIR] [--keep]

Generates a synthetic finding aid (bilingual zh/en titles with xml:lang, normalised and
written dates, unitids, nested c01…c04, a bilingual scope note on every file, a persname
from a pool of 200 and a dao on every tenth item), then, each in a fresh process so that
its peak RSS is its own:

(a) floor:  ``lxml.etree.iterparse`` over the file, clearing elements as it goes (the
            cheapest possible streaming read of the same bytes);
(b) reader: our two passes (``ead.scan`` + ``ead.read``) producing component records,
            without the repository;
(c) import: ``lantai import ead`` as a user runs it (``import_ead``: both passes, mapping,
            agents, validation, 档号 checks, bulk ingest into a fresh on-disk site).

Prints the three times, components per second and the ratios to the floor; writes
``bench/out/ead-import-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "out"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"
PINYIN = ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou"]


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def generate(path: Path, components: int, seed: int = 7) -> int:
    """Write a synthetic EAD file with exactly ``components`` components (incl. archdesc)."""
    rnd = random.Random(seed)
    names = [rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(GIVEN) for _ in range(200)]
    n_series, n_sub, n_files = 4, 40, 1600
    items = components - 1 - n_series - n_sub - n_files
    assert items > 0, "at least 1,646 components"
    per_file = [items // n_files + (1 if i < items % n_files else 0) for i in range(n_files)]
    count = 1
    with path.open("w", encoding="utf-8") as f:
        w = f.write
        w('<?xml version="1.0" encoding="UTF-8"?>\n<ead xmlns="urn:isbn:1-931666-22-9" '
          'xmlns:xlink="http://www.w3.org/1999/xlink"><eadheader><eadid>BENCH-0001</eadid>'
          '<filedesc><titlestmt><titleproper>基准测试全宗</titleproper></titlestmt></filedesc>'
          '<profiledesc><langusage><language langcode="chi"/><language langcode="eng"/>'
          '</langusage></profiledesc></eadheader>\n<archdesc level="fonds"><did>'
          '<unitid>BN01</unitid><unittitle xml:lang="zh">基准测试全宗</unittitle>'
          '<unittitle xml:lang="en">Benchmark fonds</unittitle>'
          '<unitdate normal="1896/2020">1896—2020年</unitdate></did><dsc>\n')
        file_no = 0
        for s in range(n_series):
            count += 1
            w(f'<c01 level="series"><did><unitid>S{s}</unitid><unittitle xml:lang="zh">第{s}类'
              f'</unittitle><unittitle xml:lang="en">Series {s}</unittitle></did>\n')
            for b in range(n_sub // n_series):
                count += 1
                w(f'<c02 level="subseries"><did><unitid>S{s}-{b}</unitid><unittitle xml:lang'
                  f'="zh">第{b}子类</unittitle><unittitle xml:lang="en">Subseries {b}'
                  f'</unittitle></did>\n')
                for _ in range(n_files // n_sub):
                    count += 1
                    year = 1950 + file_no % 70
                    w(f'<c03 level="file"><did><unitid>F{file_no:05d}</unitid>'
                      f'<unittitle xml:lang="zh">{year}年案卷{file_no}</unittitle>'
                      f'<unittitle xml:lang="en">File {file_no} of {year}</unittitle>'
                      f'<unitdate normal="{year}/{year + 1}">{year}—{year + 1}年</unitdate>'
                      f'<physdesc><extent xml:lang="zh">1 卷</extent></physdesc></did>'
                      f'<scopecontent><p xml:lang="zh">{year}年的往来文书与会议记录。</p>'
                      f'<p xml:lang="en">Correspondence and minutes, {year}.</p>'
                      f'</scopecontent>\n')
                    for i in range(per_file[file_no]):
                        count += 1
                        month = 1 + i % 12
                        p = rnd.randrange(200)
                        dao = (f'<dao xlink:type="simple" xlink:href="https://archive.example'
                               f'.edu/scans/{file_no}-{i}.jpg"/>' if i % 10 == 0 else "")
                        w(f'<c04 level="item"><did><unitid>F{file_no:05d}-{i:03d}</unitid>'
                          f'<unittitle xml:lang="zh">{names[p]}的来信（{year}年{month}月）'
                          f'</unittitle><unittitle xml:lang="en">Letter from '
                          f'{PINYIN[p % 10]}, {year}-{month:02d}</unittitle>'
                          f'<unitdate normal="{year}-{month:02d}">{year}年{month}月</unitdate>'
                          f'{dao}</did><controlaccess><persname>{names[p]}</persname>'
                          f'</controlaccess></c04>\n')
                    w("</c03>\n")
                    file_no += 1
                w("</c02>\n")
            w("</c01>\n")
        w("</dsc></archdesc></ead>\n")
    return count


# --------------------------------------------------------------------------- measurements
def run_floor(path: Path) -> dict:
    from lxml import etree

    t = time.perf_counter()
    n = 0
    for _, elem in etree.iterparse(str(path), events=("end",), resolve_entities=False,
                                   no_network=True, load_dtd=False):
        if elem.tag.endswith(("}c01", "}c02", "}c03", "}c04", "}archdesc")):
            n += 1
        elem.clear(keep_tail=False)
        parent = elem.getparent()
        if parent is not None:
            while elem.getprevious() is not None:
                del parent[0]
    return {"seconds": time.perf_counter() - t, "components": n, "peak_rss": peak_rss()}


def run_reader(path: Path) -> dict:
    from repo.importers import ead

    t = time.perf_counter()
    found = ead.scan(path)
    n = sum(1 for r in ead.read(path, found.late) if isinstance(r, ead.Component))
    return {"seconds": time.perf_counter() - t, "components": n, "peak_rss": peak_rss()}


def run_import(path: Path) -> dict:
    from repo.importers.run import import_ead
    from repo.repository import Repository

    home = Path(tempfile.mkdtemp(prefix="lantai-bench-ead-"))
    repo, _ = Repository.init(home / "site", "https://archive.example.edu")
    admin = repo.user("admin")
    t = time.perf_counter()
    report = import_ead(repo, admin, path)
    repo.close()
    seconds = time.perf_counter() - t
    size = sum(p.stat().st_size for p in (home / "site").rglob("*") if p.is_file())
    return {"seconds": seconds, "components": report.components, "objects": report.objects,
            "peak_rss": peak_rss(), "site_bytes": size, "home": str(home)}


def child(which: str, path: str) -> None:
    fn = {"floor": run_floor, "reader": run_reader, "import": run_import}[which]
    print(json.dumps(fn(Path(path))))


def measure(which: str, path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "bench.ead_import", "--child", which,
                          str(path)], capture_output=True, text=True, env=env, cwd=ROOT,
                         check=False)
    if run.returncode != 0:
        raise SystemExit(f"{which} failed:\n{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--components", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--keep", action="store_true", help="Keep the generated file and site.")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    work = Path(tempfile.mkdtemp(prefix="lantai-bench-ead-"))
    path = work / "synthetic.xml"
    t = time.perf_counter()
    n = generate(path, args.components)
    gen = time.perf_counter() - t
    size = path.stat().st_size
    print(f"generated {n:,} components, {size / 1e6:.1f} MB in {gen:.1f} s: {path}")
    results = {name: measure(name, path) for name in ("floor", "reader", "import")}
    floor = results["floor"]["seconds"]
    print()
    print(f"{'':8} {'seconds':>9} {'comp./s':>10} {'× floor':>8} {'peak RSS':>10}")
    for name, r in results.items():
        print(f"{name:8} {r['seconds']:9.2f} {r['components'] / r['seconds']:10,.0f} "
              f"{r['seconds'] / floor:8.1f} {r['peak_rss'] / 1e6:8.0f} MB")
    imp = results["import"]
    print(f"\nimport: {imp['objects']:,} objects created; site on disk "
          f"{imp['site_bytes'] / 1e6:.0f} MB")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    record = {"components": n, "file_bytes": size, "results": results,
              "cpus": os.cpu_count(), "python": sys.version.split()[0]}
    (args.out / f"ead-import-{stamp}.json").write_text(json.dumps(record, indent=2))
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(imp["home"], ignore_errors=True)


if __name__ == "__main__":
    main()
