"""``/sparql`` with the Rust engine beside the server (publisher/sparql_engine.py, issue 15).

A site of our own (the demo, small limits) served as ``lantai serve`` does: the app in this
process inside ``engine_for_serving``, which runs a jailed ``oxigraph serve-read-only``.
Each limit is tried on the engine's path: time (a query the engine's own ``--timeout-s`` does
not stop is stopped, the engine replaced, the server keeps answering), rows, memory, no
``SERVICE`` (a listener that records connections gets none, even when the query is sent to
the engine directly, past our check), a record closed is gone from the very next query, and
the answers are byte for byte those of the query processes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from support import free_port, require, served

from publisher import sparql_formats as fmt
from publisher.sparql_engine import engine_for_serving, oxigraph_program
from publisher.sparql_pool import Job

ROOT = Path(__file__).resolve().parents[1]
RICO = "https://www.ica.org/standards/RiC/ontology#"
PREFIX = f"PREFIX rico: <{RICO}>\n"
TWO_HOP = PREFIX + ("SELECT ?r ?title WHERE { ?r rico:isDirectlyIncludedIn ?s ; rico:title ?title "
                    '. ?s rico:identifier "0421" } ORDER BY ?r ?title')
CROSS = "SELECT * { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
BUILD = """
import sys
from dataclasses import replace
from pathlib import Path
from repo.config import read_settings, write_settings
from repo.demo import load_demo
from repo.repository import Repository
home, url = Path(sys.argv[1]), sys.argv[2]
repo, _token = Repository.init(home, url)
try:
    load_demo(repo, repo.user("admin"))
finally:
    repo.close()
write_settings(home, replace(read_settings(home), sparql_timeout=2.0, sparql_max_rows=60,
                             sparql_workers=2, sparql_memory_mb=200, expensive_queue=16,
                             expensive_per_client=32))
"""
CLOSE = """
import sys
from repo.repository import Repository
repo = Repository.open(sys.argv[1])
try:
    repo.set_access(repo.user("admin"), sys.argv[2], "restricted")
finally:
    repo.close()
"""


def run_python(code: str, *args: str) -> None:
    subprocess.run([sys.executable, "-c", code, *args], check=True, cwd=ROOT, timeout=300,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})


def wait_for(predicate, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "waited in vain"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    require(oxigraph_program(), "the oxigraph CLI (PyPI oxigraph) is not installed")
    from publisher.app import create_app
    from repo.config import read_settings

    home = tmp_path_factory.mktemp("sparql-engine") / "home"
    port = free_port()
    run_python(BUILD, str(home), f"http://127.0.0.1:{port}")
    app = create_app(home)
    with engine_for_serving(home, read_settings(home)) as supervisor, served(app, port) as url:
        assert supervisor is not None
        wait_for(lambda: supervisor.current is not None)
        yield url, app, supervisor, home
    app.extensions["lantai.sparql_pool"].close()


def sparql(url: str, query: str, **params) -> requests.Response:
    headers = params.pop("headers", {})
    return requests.get(url + "/sparql", params={"query": query, **params}, headers=headers,
                        timeout=60)


def engine_ready(supervisor, home: Path) -> bool:
    from repo.store import read_generation

    current = supervisor.current
    return current is not None and current.generation == read_generation(home)


def test_a_query_is_answered_by_the_engine(site):
    url, app, supervisor, home = site
    wait_for(lambda: engine_ready(supervisor, home))
    client = app.extensions["lantai.sparql_engine"]
    before = client.answered
    resp = sparql(url, TWO_HOP)
    assert resp.status_code == 200, resp.text
    assert resp.json()["results"]["bindings"]
    assert client.answered == before + 1


@pytest.mark.parametrize("name", [f.name for f in fmt.RESULT_FORMATS + fmt.GRAPH_FORMATS])
def test_every_format_is_the_query_processes_answer_byte_for_byte(site, name):
    """The engine's answer is rewritten by our writers: the same bytes as the old path (SPARQL
    JSON, passed on as the engine wrote it, the same JSON)."""
    url, app, supervisor, home = site
    wait_for(lambda: engine_ready(supervisor, home))
    graph = name in {f.name for f in fmt.GRAPH_FORMATS}
    query = (PREFIX + 'CONSTRUCT { ?r rico:title ?t } WHERE { ?r rico:isDirectlyIncludedIn ?s ; '
             'rico:title ?t . ?s rico:identifier "0421" }') if graph else TWO_HOP
    client = app.extensions["lantai.sparql_engine"]
    before = client.answered
    resp = sparql(url, query, format=name)
    assert resp.status_code == 200, resp.text
    assert client.answered == before + 1
    settings = app.config["SETTINGS"]
    pool = app.extensions["lantai.sparql_pool"]
    job = Job(query=query, results_format=None if graph else name,
              graph_format=name if graph else None, default_graphs=None, named_graphs=None,
              max_rows=settings.sparql_max_rows,
              prefixes=tuple(__import__("publisher.sparql", fromlist=["x"]).OUTPUT_PREFIXES))
    old = pool.run(job, 30.0)
    assert old.status == 200
    if name == "json":  # passed on as the engine wrote it: the same answer, key for key
        assert resp.json() == json.loads(old.body)
    elif name in ("xml", "csv", "tsv", "nt", "nq"):
        assert resp.content == old.body
    else:  # blank-node-free graphs: the same writer, the triples perhaps in another order
        assert sorted(resp.content.splitlines()) == sorted(old.body.splitlines())


def test_row_limit_on_the_engine(site):
    url, _app, supervisor, home = site
    wait_for(lambda: engine_ready(supervisor, home))
    resp = sparql(url, "SELECT ?s ?o { ?s ?p ?o }")
    assert resp.status_code == 413 and "sparql_max_rows" in resp.text
    resp = sparql(url, "CONSTRUCT WHERE { ?s ?p ?o }")
    assert resp.status_code == 413 and "triples" in resp.text
    ok = sparql(url, "SELECT ?s ?o { ?s ?p ?o } LIMIT 60")
    assert ok.status_code == 200 and len(ok.json()["results"]["bindings"]) == 60


def test_a_runaway_query_is_stopped_and_the_server_keeps_answering(site):
    """ORDER BY over a cross product: oxigraph's own --timeout-s lets it run for minutes; the
    engine is killed at our limit, another started, and queries keep being answered."""
    url, app, supervisor, home = site
    wait_for(lambda: engine_ready(supervisor, home))
    client = app.extensions["lantai.sparql_engine"]
    pid = supervisor.current.process.pid
    started = time.monotonic()
    resp = sparql(url, CROSS + " ORDER BY ?a")
    took = time.monotonic() - started
    assert resp.status_code == 503, resp.text
    assert "sparql_timeout" in resp.text or "sparql_memory_mb" in resp.text
    assert took < 8
    # stopped by us at the time limit (killed), or first by its memory limit (then the query
    # processes were given what was left of the time and stopped it there)
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or b"Z" in
             Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1][:3], 15)
    # meanwhile and after, queries are answered (by the query processes, then the new engine)
    assert sparql(url, "ASK { ?s ?p ?o }").json()["boolean"] is True
    wait_for(lambda: engine_ready(supervisor, home) and supervisor.current.process.pid != pid)
    before = client.answered
    assert sparql(url, TWO_HOP).status_code == 200
    assert client.answered == before + 1


def test_the_memory_limit_holds_on_the_engine(site):
    """The engine runs with sparql_memory_mb (+128 MiB for the engine itself) of data. An
    ORDER BY over a cross product (≈200 MB/s, and one the engine's own time limit does not
    stop), sent to the engine directly so that our time limit cannot come first, ends that
    engine, not the machine; another is started and queries are answered."""
    url, app, supervisor, home = site
    wait_for(lambda: engine_ready(supervisor, home))
    pid, port = supervisor.current.process.pid, supervisor.current.port
    limits = Path(f"/proc/{pid}/limits").read_text()
    line = next(x for x in limits.splitlines() if x.startswith("Max data size"))
    assert str((200 + 128) * 2**20) in line
    started = time.monotonic()
    with pytest.raises(requests.RequestException):
        resp = requests.get(f"http://127.0.0.1:{port}/query?"
                            + urlencode({"query": CROSS + " ORDER BY ?a"}), timeout=120)
        resp.raise_for_status()
        assert "memory" in resp.text.lower()  # (an abort mid-answer, at the latest)
        raise requests.RequestException(resp.text[-200:])
    wait_for(lambda: supervisor.current is None or supervisor.current.process.pid != pid, 30)
    assert time.monotonic() - started < 60
    assert pid not in app.extensions["lantai.sparql_engine"].killed  # the limit ended it
    assert sparql(url, "ASK { ?s ?p ?o }").json()["boolean"] is True
    wait_for(lambda: engine_ready(supervisor, home))


def test_service_never_reaches_the_network_even_past_the_check(site):
    """A listener on 127.0.0.1 stands for any address: /sparql refuses SERVICE (400), and the
    engine itself, sent the query directly (what a missed check would do), connects nowhere."""
    url, _app, supervisor, home = site
    wait_for(lambda: engine_ready(supervisor, home))
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        target = f"http://127.0.0.1:{listener.getsockname()[1]}/sparql"
        query = f"SELECT * {{ SERVICE <{target}> {{ ?s ?p ?o }} }}"
        resp = sparql(url, query)
        assert resp.status_code == 400 and "SERVICE" in resp.text
        direct = requests.get(f"http://127.0.0.1:{supervisor.current.port}/query?"
                              + urlencode({"query": query}), timeout=30)
        assert "unreachable" in direct.text.lower()
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_a_record_closed_is_gone_from_the_very_next_query(site):
    url, app, supervisor, home = site
    wait_for(lambda: engine_ready(supervisor, home))
    rows = sparql(url, PREFIX + "SELECT ?r { ?r a rico:Record ; rico:title ?t } ORDER BY ?r "
                              "LIMIT 1").json()["results"]["bindings"]
    record = rows[0]["r"]["value"]
    ask = f"ASK {{ <{record}> ?p ?o }}"
    count = f"SELECT (COUNT(*) AS ?n) {{ <{record}> ?p ?o . ?x ?q ?o }}"  # not bounded: engine
    assert sparql(url, ask).json()["boolean"] is True
    assert int(sparql(url, count).json()["results"]["bindings"][0]["n"]["value"]) > 0
    run_python(CLOSE, str(home), record)
    assert sparql(url, ask).json()["boolean"] is False
    assert int(sparql(url, count).json()["results"]["bindings"][0]["n"]["value"]) == 0
    wait_for(lambda: engine_ready(supervisor, home))  # and once the new engine serves
    client = app.extensions["lantai.sparql_engine"]
    before = client.answered
    assert int(sparql(url, count).json()["results"]["bindings"][0]["n"]["value"]) == 0
    assert client.answered == before + 1


def test_a_crashed_engine_is_replaced(site):
    url, _app, supervisor, home = site
    wait_for(lambda: engine_ready(supervisor, home))
    pid = supervisor.current.process.pid
    os.kill(pid, 9)
    assert sparql(url, TWO_HOP).status_code == 200  # answered meanwhile
    wait_for(lambda: engine_ready(supervisor, home) and supervisor.current.process.pid != pid, 30)


ORPHAN = """
import sys, time
from pathlib import Path
from publisher.sparql_engine import engine_for_serving
from repo.config import read_settings
home = Path(sys.argv[1])
with engine_for_serving(home, read_settings(home)) as sup:
    while sup.current is None:
        time.sleep(0.05)
    print(sup.current.process.pid, flush=True)
    time.sleep(600)
"""


def test_the_engine_dies_with_the_server(site, tmp_path):
    """A server killed with SIGKILL (no clean-up at all) takes its engine with it."""
    url, _app, _supervisor, home = site
    other = tmp_path / "home"  # a copy: this server's engine state file stays untouched
    other.mkdir()
    shutil.copytree(home / "publication", other / "publication")
    for name in ("lantai.toml", "publication.generation"):
        shutil.copy(home / name, other / name)
    server = subprocess.Popen([sys.executable, "-c", ORPHAN, str(other)], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdout=subprocess.PIPE, text=True)
    try:
        pid = int(server.stdout.readline())
        assert Path(f"/proc/{pid}").exists()
    finally:
        server.kill()
        server.wait()
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), 15)
    # the server's own engine was not touched
    assert sparql(url, "ASK { ?s ?p ?o }").status_code == 200


def test_bounded_queries_run_in_the_worker(site):
    """A lookup from a constant subject is answered without the engine or a query process."""
    url, app, _supervisor, _home = site
    client = app.extensions["lantai.sparql_engine"]
    before = client.answered
    resp = sparql(url, f"SELECT ?p ?o WHERE {{ <{url}/id/recordset/xjtu> ?p ?o }}")
    assert resp.status_code == 200 and resp.json()["results"]["bindings"]
    assert client.answered == before


def test_default_and_named_graph_uri_on_the_engine(site):
    """The protocol's dataset parameters narrow the engine's dataset as they did the old path."""
    url, app, supervisor, home = site
    wait_for(lambda: engine_ready(supervisor, home))
    graphs = sparql(url, "SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g LIMIT 2")
    one, other = (b["g"]["value"] for b in graphs.json()["results"]["bindings"])
    client = app.extensions["lantai.sparql_engine"]
    before = client.answered
    narrowed = sparql(url, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }", **{"default-graph-uri": one})
    named = sparql(url, "SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } }",
                   **{"default-graph-uri": one, "named-graph-uri": other})
    assert client.answered == before + 2
    everything = sparql(url, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")
    count = int(narrowed.json()["results"]["bindings"][0]["n"]["value"])
    assert 0 < count < int(everything.json()["results"]["bindings"][0]["n"]["value"])
    assert [b["g"]["value"] for b in named.json()["results"]["bindings"]] == [other]


def test_a_json_answer_past_the_pass_size_is_streamed_and_counted(site, monkeypatch):
    """Past PASS_BYTES the JSON answer is parsed as it streams: over the row limit a 413, and
    within it our writer's bytes, the old path's."""
    import publisher.sparql_engine as engine_module

    url, app, supervisor, home = site
    wait_for(lambda: engine_ready(supervisor, home))
    monkeypatch.setattr(engine_module, "PASS_BYTES", 100)
    client = app.extensions["lantai.sparql_engine"]
    before = client.answered
    too_many = sparql(url, "SELECT ?s ?o { ?s ?p ?o }", format="json")
    assert too_many.status_code == 413 and "sparql_max_rows" in too_many.text
    resp = sparql(url, TWO_HOP, format="json")
    assert resp.status_code == 200 and len(resp.content) > 100
    assert client.answered == before + 2
    old = app.extensions["lantai.sparql_pool"].run(
        Job(query=TWO_HOP, results_format="json", graph_format=None, default_graphs=None,
            named_graphs=None, max_rows=app.config["SETTINGS"].sparql_max_rows), 30.0)
    assert resp.content == old.body


def test_lantai_serve_runs_the_engine_and_stops_it(site, tmp_path):
    """The real thing: `lantai serve --workers 2` (granian forks its workers while the engine
    starts: a fork + exec there once left the supervisor waiting for ever) names a running
    engine, answers through it, and SIGTERM leaves no engine behind."""
    import signal

    _url, _app, _supervisor, home = site
    other = tmp_path / "home"  # a copy: the module's server keeps its own engine
    shutil.copytree(home, other, ignore=shutil.ignore_patterns("tmp"))
    key = home.with_name(home.name + ".key")  # the site's master key, beside it
    if key.exists():
        shutil.copy(key, other.with_name(other.name + ".key"))
    port = free_port()
    lantai = Path(sys.executable).parent / "lantai"
    server = subprocess.Popen([str(lantai), "--home", str(other), "serve", "--port", str(port),
                               "--workers", "2"], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=(tmp_path / "serve.err").open("wb"),
                              start_new_session=True)
    state = other / "tmp" / "sparql-engine.json"
    engine = 0
    try:
        wait_for(lambda: state.exists() or server.poll() is not None, 90)
        assert server.poll() is None, (tmp_path / "serve.err").read_text()
        engine = json.loads(state.read_text())["pid"]
        assert Path(f"/proc/{engine}").exists()
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(base), 90)
        resp = sparql(base, TWO_HOP)
        assert resp.status_code == 200 and resp.json()["results"]["bindings"]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    wait_for(lambda: not Path(f"/proc/{engine}").exists(), 30)


def _answers(base: str) -> bool:
    try:
        return requests.get(base + "/healthz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def test_an_engine_in_trouble_is_not_a_500(site):
    """An engine that answers 5xx for its own reasons (seen under load: "thread spawn error:
    Resource temporarily unavailable") is passed over: the query processes answer."""
    import http.server
    import threading

    url, _app, supervisor, home = site
    wait_for(lambda: engine_ready(supervisor, home))
    state = home / "tmp" / "sparql-engine.json"
    original = state.read_text()

    class Troubled(http.server.BaseHTTPRequestHandler):
        hits = 0

        def do_POST(self) -> None:
            Troubled.hits += 1
            self.send_response(500)
            body = b"OxHTTP thread spawn error: Resource temporarily unavailable (os error 11)"
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    troubled = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Troubled)
    threading.Thread(target=troubled.serve_forever, daemon=True).start()
    try:
        data = json.loads(original)
        data.update(port=troubled.server_address[1], pid=os.getpid())
        tmp = state.with_suffix(".test.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, state)
        resp = sparql(url, TWO_HOP)
        assert Troubled.hits >= 1  # the engine was asked first
        assert resp.status_code == 200, resp.text
        assert resp.json()["results"]["bindings"]
    finally:
        tmp = state.with_suffix(".test.tmp")
        tmp.write_text(original)
        os.replace(tmp, state)
        troubled.shutdown()
        troubled.server_close()
