"""Real external SPARQL engines for tests (issue 15, item 3): ``oxigraph serve`` (PyPI
``oxigraph``) and Virtuoso (Debian's ``virtuoso-opensource``), each started in a temporary
folder on a free port and stopped after.

Owned by the `engines` part of issue 15. Agreed interface::

    @dataclass(frozen=True)
    class Engine:
        name: str            # "oxigraph" or "virtuoso"
        query_url: str       # SPARQL 1.1 Protocol
        update_url: str      # SPARQL 1.1 Update
        gsp_url: str         # Graph Store Protocol ("" if the engine has none we use)
        user: str = ""
        password: str = ""
        def settings(self) -> dict  # publication_endpoint=…, … for make_settings/lantai.toml

    with oxigraph_engine(tmp_path) as engine: ...
    with virtuoso_engine(tmp_path) as engine: ...
    ENGINES = ("oxigraph", "virtuoso"); start_engine(name, tmp_path) -> context manager

Under CI a missing engine is a failure (support.require), elsewhere a skip.

Beyond the agreed names: ``Engine.env()`` (``LANTAI_ENGINE_PASSWORD`` for a process that
reads the engine, the password never being a setting), ``Engine.auth()`` (a ``requests``
auth for tests that talk to the engine themselves: Virtuoso's ``/sparql-auth`` and
``/sparql-graph-crud-auth`` want HTTP Digest), ``Engine.log`` (the engine's own log, quoted
in every start-up failure), and :class:`EngineStartError`.

Every engine is its own process group with its files under ``tmp_path``: nothing here
touches a system service (the Debian packages' services on ports 1111/8890 or 80 are never
used, and the tests work whether or not they run). The port is checked free before start
and the engine must still be our live process when it first answers, so a test never
talks to someone else's server by accident; a port given and busy is refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests
from support import free_port, require

ENGINES = ("oxigraph", "virtuoso")
START_TIMEOUT = 60.0  # seconds for an engine to answer after it was started
_ATTEMPTS = 3  # starts on a freshly picked port before giving up (another test took it)


class EngineStartError(RuntimeError):
    """An engine did not start: its port was busy, it exited, or it did not answer."""


@dataclass(frozen=True)
class Engine:
    """How to reach a running engine (the URLs a Lantai site's settings take)."""

    name: str
    query_url: str
    update_url: str
    gsp_url: str
    user: str = ""
    password: str = field(default="", repr=False)
    log: Path | None = field(default=None, compare=False)

    def settings(self) -> dict[str, str]:
        """The engine's settings, for ``make_settings(**…)`` or ``lantai.toml`` (the password
        is not a setting: see :meth:`env`)."""
        return {"publication_endpoint": self.query_url,
                "publication_update_endpoint": self.update_url,
                "publication_gsp_endpoint": self.gsp_url,
                "publication_engine_user": self.user}

    def env(self) -> dict[str, str]:
        """Environment variables a process reading this engine needs (its password)."""
        return {"LANTAI_ENGINE_PASSWORD": self.password} if self.password else {}

    def auth(self) -> requests.auth.AuthBase | None:
        """Credentials for the engine's update and Graph Store URLs (None: anonymous)."""
        if not self.user:
            return None
        return requests.auth.HTTPDigestAuth(self.user, self.password)


def start_engine(name: str, tmp_path: Path) -> contextlib.AbstractContextManager[Engine]:
    """``oxigraph_engine`` or ``virtuoso_engine`` by name (one of :data:`ENGINES`)."""
    if name == "oxigraph":
        return oxigraph_engine(tmp_path)
    if name == "virtuoso":
        return virtuoso_engine(tmp_path)
    raise ValueError(f"no engine {name!r}; known: {', '.join(ENGINES)}")


# ---------------------------------------------------------------------- processes
def port_is_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:PORT (and we may bind it)."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _refuse_busy(*ports: int) -> None:
    for port in ports:
        if not port_is_free(port):
            raise EngineStartError(f"port {port} of 127.0.0.1 is busy: an engine is never "
                                   "started where another server may answer in its place")


def _stop(proc: subprocess.Popen, grace: float) -> None:
    """Stop the process and its whole group: SIGTERM, then SIGKILL after ``grace`` s."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    with contextlib.suppress(ProcessLookupError):  # what is left of its group, if anything
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


def _tail(log: Path, size: int = 4000) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return text[-size:]


@contextlib.contextmanager
def _running(argv: list[str], log: Path, *, cwd: Path, ready: Callable[[], bool],
             what: str, grace: float = 10.0, timeout: float = START_TIMEOUT,
             ) -> Iterator[subprocess.Popen]:
    """Run ``argv`` in its own process group (output to ``log``) until ``ready()`` is true
    while the process lives; yield it; stop it (and its group) whatever happens."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise EngineStartError(f"{what} exited with code {proc.returncode} before it "
                                       f"answered; its log ({log}):\n{_tail(log)}")
            if ready():
                if proc.poll() is not None:  # someone else answered on its port
                    continue
                break
            if time.monotonic() > deadline:
                raise EngineStartError(f"{what} did not answer within {timeout:g} s; its "
                                       f"log ({log}):\n{_tail(log)}")
            time.sleep(0.1)
        yield proc
    finally:
        _stop(proc, grace)


def _answers(url: str, **kwargs) -> Callable[[], bool]:
    """A readiness probe: a GET of ``url`` answers 200."""
    def probe() -> bool:
        try:
            return requests.get(url, timeout=2, **kwargs).status_code == 200
        except requests.RequestException:
            return False
    return probe


@contextlib.contextmanager
def _on_some_port(start: Callable[[int], contextlib.AbstractContextManager[Engine]],
                  port: int | None) -> Iterator[Engine]:
    """Start on ``port`` (busy: refused), or on a free port, picking again if another
    process took it between the pick and the start."""
    if port is not None:
        _refuse_busy(port)
        with start(port) as engine:
            yield engine
        return
    for attempt in range(_ATTEMPTS):
        chosen = free_port()
        with contextlib.ExitStack() as stack:
            try:
                engine = stack.enter_context(start(chosen))
            except EngineStartError:
                if attempt + 1 == _ATTEMPTS or port_is_free(chosen):
                    raise  # not a lost race for the port: a real failure
                continue
            yield engine
            return


# ---------------------------------------------------------------------- oxigraph serve
def oxigraph_binary() -> str | None:
    """The ``oxigraph`` CLI of this virtual environment (the test extra), or on PATH."""
    beside = Path(sys.executable).parent / "oxigraph"
    if beside.exists():
        return str(beside)
    return shutil.which("oxigraph")


@contextlib.contextmanager
def oxigraph_engine(tmp_path: Path, *, port: int | None = None,
                    args: tuple[str, ...] = ()) -> Iterator[Engine]:
    """``oxigraph serve --location TMP/oxigraph --bind 127.0.0.1:PORT ARGS…``: an empty
    read-write store; yields its :class:`Engine` (``/query``, ``/update``, ``/store``) once
    it answers, stops it after. ``port`` given and busy: :class:`EngineStartError`."""
    binary = oxigraph_binary()
    require(binary, "the oxigraph CLI (PyPI `oxigraph`, in the test extra) is not installed")
    assert binary
    folder = tmp_path / "oxigraph"
    folder.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def start(p: int) -> Iterator[Engine]:
        url = f"http://127.0.0.1:{p}"
        log = folder / "oxigraph.log"
        argv = [binary, "serve", "--location", str(folder / "store"),
                "--bind", f"127.0.0.1:{p}", *args]
        with _running(argv, log, cwd=folder, what=f"oxigraph serve on port {p}",
                      ready=_answers(f"{url}/query", params={"query": "ASK {}"},
                                     headers={"Accept": "application/sparql-results+json"})):
            yield Engine(name="oxigraph", query_url=f"{url}/query",
                         update_url=f"{url}/update", gsp_url=f"{url}/store", log=log)

    with _on_some_port(start, port) as engine:
        yield engine


# ---------------------------------------------------------------------- Virtuoso
@contextlib.contextmanager
def virtuoso_engine(tmp_path: Path, *, port: int | None = None) -> Iterator[Engine]:
    """A private Virtuoso in ``tmp_path`` (being written: lands next)."""
    raise EngineStartError("virtuoso_engine is not there yet (part `engines` lands it next)")
    yield  # pragma: no cover
