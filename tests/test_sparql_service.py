"""SPARQL ``SERVICE`` must never make the server fetch: a listener on 127.0.0.1 stands for any
address an attacker names, and must receive nothing, whatever the query's spelling.

Two layers are tried: the endpoint over real HTTP (the parsed query is refused with a clear
400), and a query worker given the query directly, past the check (it has no network).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publisher.sparql_pool import QueryPool


@pytest.fixture(scope="module")
def listener() -> Iterator[tuple[socket.socket, int]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(50)
    sock.setblocking(False)
    yield sock, sock.getsockname()[1]
    sock.close()


def nothing_received(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


def bypasses(port: int) -> dict[str, str]:
    url = f"http://127.0.0.1:{port}/sparql"
    return {
        "plain": f"SELECT * {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
        "cr-ended comment": (f"SELECT * {{ ?s ?p ?o # a comment\r SERVICE <{url}> "
                             "{ ?a ?b ?c }\n}"),
        "escaped hash": (f"PREFIX ex: <http://127.0.0.1:{port}/>\n"
                         "SELECT * { ?s ex:a\\#b ?o . SERVICE ex:q { ?a ?b ?c } }"),
        "lowercase": f"select * {{ service <{url}> {{ ?s ?p ?o }} }}",
        "silent": f"SELECT * {{ SERVICE SILENT <{url}> {{ ?s ?p ?o }} }}",
        "iri via prefix": (f"PREFIX x: <http://127.0.0.1:{port}/>\n"
                           "SELECT * { SERVICE x:sparql { ?s ?p ?o } }"),
        "subquery": f"SELECT * {{ {{ SELECT ?s {{ SERVICE <{url}> {{ ?s ?p ?o }} }} }} }}",
        "optional": f"SELECT * {{ ?s ?p ?o OPTIONAL {{ SERVICE <{url}> {{ ?s ?q ?r }} }} }}",
        "union": f"SELECT * {{ {{ ?s ?p ?o }} UNION {{ SERVICE <{url}> {{ ?s ?p ?o }} }} }}",
        "exists": f"ASK {{ FILTER EXISTS {{ SERVICE <{url}> {{ ?s ?p ?o }} }} }}",
        "construct": f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
        "unicode escape": f"SELECT * {{ \\u0053ERVICE <{url}> {{ ?s ?p ?o }} }}",
        "update-looking": f"INSERT {{ ?s ?p ?o }} WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
        "long query": ("SELECT * { " + " ".join(f"?s <http://x/p{i}> ?o{i} ." for i in range(400))
                       + f" SERVICE <{url}> {{ ?s ?p ?o }} }}"),
    }


@pytest.mark.parametrize("name", list(bypasses(1)))
def test_service_is_refused_and_nothing_is_fetched(demo_server, listener, name):
    sock, port = listener
    query = bypasses(port)[name]
    for resp in (requests.get(demo_server + "/sparql", params={"query": query}, timeout=30),
                 requests.post(demo_server + "/sparql", data=query.encode(), timeout=30,
                               headers={"Content-Type": "application/sparql-query"})):
        assert resp.status_code in (400, 405), resp.text
        assert ("SERVICE" in resp.text) if resp.status_code == 400 else "Update" in resp.text
        assert "Traceback" not in resp.text and "error sending" not in resp.text
    assert nothing_received(sock), f"{name}: the server connected to the listener"


SEPARATORS = [" ", "\t", "\n", "\r", "\r\n", "#c\n", "#c\r", "# \\#x\r\n", " #SERVICE\n",
              "\n#\r", "\u00a0\n"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seps=st.lists(st.sampled_from(SEPARATORS), min_size=6, max_size=6),
       keyword=st.sampled_from(["SERVICE", "service", "Service", "sErViCe"]),
       silent=st.booleans(), via_prefix=st.booleans())
def test_fuzzed_spacing_and_comments_never_fetch(demo_server, listener, seps, keyword, silent,
                                                 via_prefix):
    sock, port = listener
    target = "x:q" if via_prefix else f"<http://127.0.0.1:{port}/q>"
    a, b, c, d, e, f = seps
    query = (f"PREFIX x: <http://127.0.0.1:{port}/>{a}SELECT *{b}{{{c}?s ?p ?o .{d}"
             f"{keyword}{' SILENT' if silent else ''}{e}{target}{f}{{ ?s ?p ?o }} }}")
    resp = requests.post(demo_server + "/sparql", data={"query": query}, timeout=30)
    assert resp.status_code == 400, (query, resp.text)
    assert nothing_received(sock), repr(query)


def test_words_that_are_not_service_clauses_still_run(demo_server):
    ok = requests.get(demo_server + "/sparql", timeout=30, params={
        "query": 'SELECT ?service { BIND("SERVICE" AS ?service) } # SERVICE <http://x/>'})
    assert ok.status_code == 200
    assert ok.json()["results"]["bindings"][0]["service"]["value"] == "SERVICE"


ENGINE = """
import sys
from publisher.sparql_check import isolate
if sys.argv[2] == "isolated":
    assert isolate()
import pyoxigraph
store = pyoxigraph.Store()
store.add(pyoxigraph.Quad(*[pyoxigraph.NamedNode("http://x/")] * 3))
try:
    print(list(store.query("SELECT * { ?a ?b ?c SERVICE <http://127.0.0.1:%s/> { ?s ?p ?o } }"
                           % sys.argv[1])))
except OSError as exc:
    print("failed:", exc)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="network namespaces: Linux")
def test_the_engine_off_the_network_reaches_nothing(demo_server_home, listener):
    """The layer under the check: pyoxigraph in a process that called ``isolate()`` (as every
    query worker does first) cannot connect; the same query without it does (the control)."""
    sock, port = listener
    pool = QueryPool(demo_server_home, 1)
    try:
        pool.start()
        if not pool.isolated and not os.environ.get("CI"):
            pytest.skip("this machine allows no network namespace (unprivileged user "
                        "namespaces off): workers then refuse any query naming 'service'")
        assert pool.isolated is True
    finally:
        pool.close()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    off = subprocess.run([sys.executable, "-c", ENGINE, str(port), "isolated"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert off.returncode == 0, off.stderr
    assert "failed" in off.stdout
    assert nothing_received(sock)
    control = subprocess.Popen([sys.executable, "-c", ENGINE, str(port), "open"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        sock.settimeout(30)
        conn, _ = sock.accept()  # the engine does fetch when it is on the network
        conn.close()
    finally:
        sock.setblocking(False)
        control.kill()
        control.wait()
