"""Search latency of the catalog at the real archive's size, against Oxigraph's CONTAINS scan.

    python -m bench.search [--scale 1.0] [--anchor-scale 0.1] [--rounds 15] [--fts5] [--out DIR]

1. Build: the synthetic archive (``bench/synthetic.py``; scale 1.0 ≈ 722,000 objects) is
   turned into catalog documents directly (no repository: what the repository's builder
   would make of the same objects: names of linked agents and places, inherited category
   and year, reference codes) and indexed through the catalog's own indexer
   (``CatalogIndex``). Build time (analysis + indexing + commit; the generator's own time
   is measured and reported apart) and index size are reported.
2. Latency: a fixed query set — Chinese two-character words, phrases, traditional forms,
   names, reference codes, English words and phrases, field queries, broad queries (one
   character, a year, everything) with filters, sorting and a deep page — each run
   ``--rounds`` times through ``Catalog.search`` with facets (what a results page asks for),
   after one warm-up round. p50 and p99 overall, per class and per query.
3. Anchor, in the same run: an on-disk Oxigraph store with the titles of the same archive at
   ``--anchor-scale`` and ``SELECT ?s WHERE { ?s rico:title ?t FILTER(CONTAINS(…)) }`` for the
   same query texts (no facets, no ranking: it only finds). The catalog is also built at the
   anchor's scale, so the ratio is on the same data.
4. ``--fts5``: the engine comparison. SQLite FTS5 over the very same token streams, top-20
   by bm25 + count + a facet GROUP BY, for the same texts (the numbers behind the choice of
   tantivy, see repo/catalog/index.py).

Goal (issue 3, item 7b): p50 ≤ 10 ms, p99 ≤ 50 ms at scale 1.0 on this 2-core machine.
Results go to ``bench/out/search-<time>.json``; a table is printed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "out"
BASE = "https://archive.example.edu"
GOAL_P50_MS, GOAL_P99_MS = 10.0, 50.0


# --------------------------------------------------------------------------- documents
@dataclass
class _Known:
    iri: str
    category: str
    year: int | None
    date: int | None
    ancestors: tuple[str, ...]


def documents(scale: float, timer: list[float]) -> Iterator:
    """Catalog documents for the synthetic archive at ``scale``; generator time → timer[0]."""
    from bench.synthetic import SyntheticArchive
    from ontology.profile import load_profile
    from repo.catalog.documents import Document, parse_date
    from repo.values import iso639_2b

    kinds = {t.name: t.kind for t in load_profile().types.values()}
    names: dict[str, list[str]] = {}  # agent/place path -> names
    places: set[str] = set()
    known: dict[str, _Known] = {}
    source = iter(SyntheticArchive(scale=scale))
    while True:
        t0 = time.perf_counter()
        spec = next(source, None)
        timer[0] += time.perf_counter() - t0
        if spec is None:
            return
        f = spec.fields
        path = spec.parent.rstrip("/") + "/" + spec.slug
        iri = f"{BASE}/id/{kinds[spec.type]}/{spec.key}"
        title_field = f.get("title") or f.get("name") or {}
        titles = sorted(((text, lang) for lang, text in title_field.items()),
                        key=lambda t: (t[1] != "zh", t[1] != "en", t[1], t[0]))
        if spec.type in ("person", "corporatebody", "family", "place"):
            names[path] = sorted(t for t, _ in titles)
            if spec.type == "place":
                places.add(path)
        parent = known.get(spec.parent)
        year = date = None
        for key in ("begin", "date", "end"):
            if f.get(key):
                d = parse_date(str(f[key]))
                if d:
                    year, date = d
                    break
        category = f.get("category") or (parent.category if parent else "")
        if year is None and parent is not None:
            year, date = parent.year, parent.date
        ancestors = ((parent.iri, *parent.ancestors) if parent else ())
        doc = Document(iri=iri, type=spec.type, state=spec.state, path=path,
                       access=spec.access or _default_access(spec.type, year), owner="admin",
                       titles=titles, category=category, year=year, date=date,
                       ancestors=list(ancestors))
        doc.refcode = str(f.get("refcode") or "")
        for key, group in (("scope", "scope"), ("history", "note"), ("note", "note"),
                           ("extent", "note")):
            value = f.get(key)
            if isinstance(value, dict):
                doc.texts.setdefault(group, []).extend(value.values())
        for key in ("creator", "provenance", "participant"):
            for p in f.get(key, []):
                doc.agents.extend(names.get(p, []))
        for p in f.get("subject", []):
            doc.subjects.extend(names.get(p, []))
            (doc.places if p in places else doc.agents).extend(names.get(p, []))
        for p in f.get("place", []):
            doc.places.extend(names.get(p, []))
        doc.languages = sorted({iso639_2b(x) or x for x in f.get("language", [])})
        if spec.type != "instantiation":
            known[path] = _Known(iri, category, year, date, ancestors)
        yield doc


def _default_access(type_name: str, year: int | None) -> str:
    if type_name not in ("file", "item"):
        return "open"
    return "open" if year is not None and year + 25 <= 2025 else "embargoed"


def du(path: Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build_catalog(scale: float, path: Path) -> dict:
    from repo.catalog.index import CatalogIndex

    index = CatalogIndex.open(path, create=True)
    timer = [0.0]
    n = 0
    t0 = time.perf_counter()
    with index.writer(heap=512_000_000, threads=2) as w:
        for doc in documents(scale, timer):
            w.put(doc, replace=False)
            n += 1
            if n % 100_000 == 0:
                print(f"  indexed {n:,} documents", file=sys.stderr, flush=True)
        t_add = time.perf_counter() - t0
    total = time.perf_counter() - t0
    return {"scale": scale, "documents": n, "generator_s": round(timer[0], 2),
            "build_s": round(total - timer[0], 2), "commit_s": round(total - t_add, 2),
            "size_bytes": du(path), "docs_per_s": round(n / max(total - timer[0], 1e-9))}


# --------------------------------------------------------------------------- query set
@dataclass
class Q:
    cls: str
    text: str
    filters: dict | None = None
    sort: str = "relevance"
    page: int = 1


def query_set(sample: dict) -> list[Q]:
    """The fixed queries; names and codes are taken from the archive itself (deterministic)."""
    return [
        *[Q("zh word", w) for w in ("西迁", "校史", "档案", "照片", "名册", "总结", "奖学金")],
        *[Q("zh phrase", w) for w in ("交通大学", "教学任务书", "毕业设计", "学术报告会",
                                     '"党的基本路线"', "西安交通大学 校长办公室")],
        *[Q("traditional", w) for w in ("檔案", "學籍", "西遷", "畢業證書")],
        *[Q("name", w) for w in (*sample["names_zh"], *sample["names_en"], "agent:王伟")],
        *[Q("refcode", c) for c in sample["codes"]],
        *[Q("english", w) for w in ("letters", "relocation", '"teaching assignments"',
                                    "Xi'an", "photographs", "syllabus", '"final examination"',
                                    "transcript", "Shanghai", "steam turbine")],
        Q("broad+facets", "年"), Q("broad+facets", "学"), Q("broad+facets", "report"),
        Q("broad+facets", ""), Q("broad+facets", "1957"),
        Q("broad+facets", "工作", {"category": "XZ"}),
        Q("broad+facets", "总结", sort="-date"),
        Q("broad+facets", "", {"decade": 1950}, sort="date"),
        Q("broad+facets", "学", page=50),
        Q("broad+facets", "title:照片", {"type": "file", "access": "open"}),
    ]


def sample_of(scale: float) -> dict:
    """A few person names and reference codes of the archive (fixed by the seed)."""
    from bench.synthetic import SyntheticArchive

    zh, en, codes = [], [], []
    for spec in SyntheticArchive(scale=scale):
        if spec.type == "person" and len(zh) < 3:
            zh.append(spec.fields["name"]["zh"])
            en.append(spec.fields["name"]["en"])
        code = spec.fields.get("refcode")
        if code and spec.type == "file" and len(codes) < 2 and "1957" in code:
            codes.append(code)
        if code and spec.type == "item" and len(codes) in (2, 3) and "-0003-" in code:
            codes.append(code)
        if len(zh) == 3 and len(codes) >= 4:
            break
    codes.append(codes[0].replace("·", "."))  # typed with "."
    codes.append("0421-XS")  # a series
    codes.append(codes[0].rsplit("·", 1)[0] + "·1957")  # a level above codes
    return {"names_zh": zh, "names_en": en[:2], "codes": codes}


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return 0.0
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def run_catalog(path: Path, queries: list[Q], rounds: int) -> dict:
    from repo.catalog.index import CatalogIndex
    from repo.catalog.search import Catalog

    catalog = Catalog(CatalogIndex.open(path), public=True)
    times: dict[int, list[float]] = {i: [] for i in range(len(queries))}
    totals: dict[int, int] = {}
    for r in range(rounds + 1):
        for i, q in enumerate(queries):
            t0 = time.perf_counter()
            res = catalog.search(q.text, filters=q.filters, sort=q.sort, page=q.page, size=20)
            dt = (time.perf_counter() - t0) * 1000
            if r:
                times[i].append(dt)
            totals[i] = res.total
    return {"times": times, "totals": totals}


def build_anchor(scale: float, path: Path) -> dict:
    """An on-disk Oxigraph store with the titles of the archive (one graph per object)."""
    from pyoxigraph import Literal, NamedNode, Quad, RdfFormat, Store

    title = NamedNode("https://www.ica.org/standards/RiC/ontology#title")
    store = Store(str(path))
    lines: list[str] = []
    timer = [0.0]
    n = 0
    t0 = time.perf_counter()
    for doc in documents(scale, timer):
        node = NamedNode(doc.iri)
        for text, lang in doc.titles:
            lines.append(str(Quad(node, title, Literal(text, language=lang or None), node))
                         + " .")
            n += 1
    store.bulk_load(input="\n".join(lines).encode("utf-8"), format=RdfFormat.N_QUADS)
    store.flush()
    return {"store": store, "triples": n, "load_s": round(time.perf_counter() - t0 - timer[0], 2)}


def run_anchor(store, queries: list[Q], rounds: int) -> dict:
    times: dict[int, list[float]] = {}
    totals: dict[int, int] = {}
    for i, q in enumerate(queries):
        words = [w.strip('"') for w in q.text.split() if ":" not in w] or []
        if not words or q.cls == "refcode":
            continue  # CONTAINS over titles cannot find a reference code or list everything
        filters = " ".join(f'FILTER(CONTAINS(LCASE(STR(?t)), "{w.lower()}"))' for w in words)
        sparql = ("SELECT DISTINCT ?s WHERE { GRAPH ?g { ?s "
                  f"<https://www.ica.org/standards/RiC/ontology#title> ?t }} {filters} }}")
        times[i] = []
        for r in range(rounds + 1):
            t0 = time.perf_counter()
            rows = list(store.query(sparql))
            dt = (time.perf_counter() - t0) * 1000
            if r:
                times[i].append(dt)
            totals[i] = len(rows)
    return {"times": times, "totals": totals}


# --------------------------------------------------------------------------- FTS5
def run_fts5(scale: float, queries: list[Q], rounds: int, workdir: Path) -> dict:
    """SQLite FTS5 over the same token streams (the alternative engine), measured briefly."""
    import sqlite3

    from repo.catalog.analysis import index_texts
    from repo.catalog.index import refcode_tokens
    from repo.catalog.query import parse

    db = workdir / "fts5.sqlite"
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE VIRTUAL TABLE fts USING fts5(title, refcode, refpath, agents, places,"
                " subjects, body, tokenize='ascii', detail=full)")
    con.execute("CREATE TABLE docs(id INTEGER PRIMARY KEY, category TEXT, decade INT, type TEXT,"
                " access TEXT, state TEXT, data TEXT)")
    timer = [0.0]
    t0 = time.perf_counter()
    with con:
        for n, doc in enumerate(documents(scale, timer), start=1):
            exact, levels = refcode_tokens(doc.refcode) if doc.refcode else ("", "")
            con.execute("INSERT INTO fts(rowid, title, refcode, refpath, agents, places, "
                        "subjects, body) VALUES (?,?,?,?,?,?,?,?)",
                        (n, index_texts(doc.names), exact, levels, index_texts(doc.agents),
                         index_texts(doc.places), index_texts(doc.subjects),
                         index_texts([t for g in doc.texts.values() for t in g])))
            con.execute("INSERT INTO docs VALUES (?,?,?,?,?,?,?)",
                        (n, doc.category, (doc.year or 0) // 10 * 10, doc.type, doc.access,
                         doc.state, json.dumps(doc.titles, ensure_ascii=False)))
    con.execute("INSERT INTO fts(fts) VALUES('optimize')")
    con.commit()
    build = time.perf_counter() - t0 - timer[0]
    times: dict[int, list[float]] = {}
    totals: dict[int, int] = {}
    for i, q in enumerate(queries):
        pq = parse(q.text)
        if pq.empty or q.filters or q.page != 1 or q.sort != "relevance":
            continue
        parts = []
        for group in pq.groups:
            alts = []
            for u in group:
                phrase = '"' + " ".join(u.tokens) + '"' + ("*" if u.kind == "prefix" else "")
                cols = "{" + " ".join(c for c in u.fields if c != "extra") + "}"
                alts.append(f"{cols} : {phrase}")
            parts.append("(" + " OR ".join(alts) + ")")
        match = " AND ".join(parts)
        times[i] = []
        for r in range(min(rounds, 3) + 1):
            t1 = time.perf_counter()
            top = con.execute("SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY "
                              "bm25(fts, 8, 30, 1.5, 4, 3, 3, 1) LIMIT 20", (match,)).fetchall()
            count = con.execute("SELECT count(*) FROM fts WHERE fts MATCH ?",
                                (match,)).fetchone()[0]
            con.execute("SELECT d.category, d.decade, d.type, d.access, d.state, count(*) "
                        "FROM fts JOIN docs d ON d.id = fts.rowid WHERE fts MATCH ? "
                        "GROUP BY 1, 2, 3, 4, 5", (match,)).fetchall()
            dt = (time.perf_counter() - t1) * 1000
            del top
            if r:
                times[i].append(dt)
            totals[i] = count
    con.close()
    return {"times": times, "totals": totals, "build_s": round(build, 2),
            "size_bytes": du(db)}


# --------------------------------------------------------------------------- report
def summarise(times: dict[int, list[float]]) -> dict:
    values = [t for ts in times.values() for t in ts]
    return {"p50_ms": round(percentile(values, 50), 2), "p99_ms": round(percentile(values, 99), 2),
            "max_ms": round(max(values), 2) if values else 0.0, "n": len(values)}


def print_report(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    queries = result["queries"]
    big, small = result["catalog"], result["catalog_anchor_scale"]
    anchor, fts = result["anchor"], result.get("fts5")
    b = result["build"]
    console.print(f"[bold]Catalog build[/bold] at scale {b['scale']}: {b['documents']:,} documents "
                  f"in {b['build_s']} s ({b['docs_per_s']:,}/s; commit {b['commit_s']} s; "
                  f"generator {b['generator_s']} s apart), index {b['size_bytes'] / 1e6:.0f} MB")
    if fts:
        console.print(f"[bold]SQLite FTS5[/bold] (same tokens, no stored texts) at scale "
                      f"{b['scale']}: built in {fts['build_s']} s, "
                      f"{fts['size_bytes'] / 1e6:.0f} MB")
    t = Table(title="Search latency per query (ms; catalog with facets, top 20)")
    for col in ("class", "query", "hits", f"p50 @{b['scale']}", f"p99 @{b['scale']}",
                f"p50 @{result['anchor_scale']}", f"Oxigraph CONTAINS @{result['anchor_scale']}",
                "FTS5 p50" if fts else ""):
        t.add_column(col, justify="right" if col not in ("class", "query") else "left")
    for i, q in enumerate(queries):
        label = q["text"] or "(everything)"
        if q["filters"]:
            label += " " + " ".join(f"{k}={v}" for k, v in q["filters"].items())
        if q["sort"] != "relevance":
            label += f" sort={q['sort']}"
        if q["page"] != 1:
            label += f" page={q['page']}"
        ts = big["times"][i]
        a = anchor["times"].get(i)
        f = fts["times"].get(i) if fts else None
        t.add_row(q["cls"], label, f"{big['totals'][i]:,}", f"{percentile(ts, 50):.1f}",
                  f"{percentile(ts, 99):.1f}", f"{percentile(small['times'][i], 50):.1f}",
                  f"{percentile(a, 50):.0f}" if a else "–",
                  (f"{percentile(f, 50):.0f}" if f else "–") if fts else "")
    console.print(t)
    s = Table(title="Summary")
    for col in ("what", "p50 ms", "p99 ms", "max ms", "runs"):
        s.add_column(col)
    for name, key in ((f"catalog @{b['scale']} (all queries)", "summary"),
                      (f"catalog @{result['anchor_scale']} (anchor's queries)",
                       "summary_small_same"),
                      (f"Oxigraph FILTER(CONTAINS) @{result['anchor_scale']}", "summary_anchor"),
                      *([(f"SQLite FTS5 @{b['scale']} (same tokens)", "summary_fts5")]
                        if fts else [])):
        v = result[key]
        s.add_row(name, str(v["p50_ms"]), str(v["p99_ms"]), str(v["max_ms"]), str(v["n"]))
    for cls, v in result["by_class"].items():
        s.add_row(f"  class {cls}", str(v["p50_ms"]), str(v["p99_ms"]), str(v["max_ms"]),
                  str(v["n"]))
    console.print(s)
    v = result["summary"]
    ok = v["p50_ms"] <= GOAL_P50_MS and v["p99_ms"] <= GOAL_P99_MS
    console.print(f"Goal p50 ≤ {GOAL_P50_MS} ms, p99 ≤ {GOAL_P99_MS} ms at scale "
                  f"{b['scale']}: [{'green' if ok else 'red'}]{'met' if ok else 'NOT met'}[/]")
    console.print(f"Oxigraph CONTAINS vs catalog on the same data (scale "
                  f"{result['anchor_scale']}): p50 {result['ratio_p50']}× slower, "
                  f"p99 {result['ratio_p99']}× slower")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--anchor-scale", type=float, default=0.1)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--fts5", action="store_true", help="Also measure SQLite FTS5.")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--keep", action="store_true", help="Keep the indexes (printed path).")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from bench.ingest import machine

    work = Path(tempfile.mkdtemp(prefix="lantai-search-", dir=a.out if a.out.exists() else None))
    try:
        print(f"building the catalog at scale {a.scale} …", file=sys.stderr, flush=True)
        build = build_catalog(a.scale, work / "catalog")
        print(f"building the catalog and the Oxigraph anchor at scale {a.anchor_scale} …",
              file=sys.stderr, flush=True)
        build_small = build_catalog(a.anchor_scale, work / "catalog-small")
        anchor_store = build_anchor(a.anchor_scale, work / "oxigraph")
        queries = query_set(sample_of(a.scale))
        print("running the queries …", file=sys.stderr, flush=True)
        big = run_catalog(work / "catalog", queries, a.rounds)
        small = run_catalog(work / "catalog-small", queries, a.rounds)
        anchor = run_anchor(anchor_store["store"], queries, a.rounds)
        fts = None
        if a.fts5:
            print("building SQLite FTS5 with the same tokens …", file=sys.stderr, flush=True)
            fts = run_fts5(a.scale, queries, a.rounds, work)
        same = {i: small["times"][i] for i in anchor["times"]}
        result = {
            "machine": machine(), "anchor_scale": a.anchor_scale, "rounds": a.rounds,
            "build": build, "build_anchor_scale": build_small,
            "anchor_load": {k: v for k, v in anchor_store.items() if k != "store"},
            "queries": [q.__dict__ for q in queries],
            "catalog": big, "catalog_anchor_scale": small, "anchor": anchor, "fts5": fts,
            "summary": summarise(big["times"]),
            "summary_small_same": summarise(same),
            "summary_anchor": summarise(anchor["times"]),
            "by_class": {cls: summarise({i: big["times"][i] for i, q in enumerate(queries)
                                         if q.cls == cls})
                         for cls in dict.fromkeys(q.cls for q in queries)},
        }
        if fts:
            result["summary_fts5"] = summarise(fts["times"])
        sa, ss = result["summary_anchor"], result["summary_small_same"]
        result["ratio_p50"] = round(sa["p50_ms"] / max(ss["p50_ms"], 1e-3), 1)
        result["ratio_p99"] = round(sa["p99_ms"] / max(ss["p99_ms"], 1e-3), 1)
        print_report(result)
        a.out.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = a.out / f"search-{stamp}.json"
        out.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str) + "\n",
                       encoding="utf-8")
        print(f"results: {out}", file=sys.stderr)
    finally:
        if a.keep:
            print(f"indexes kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
