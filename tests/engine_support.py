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
in every start-up failure), :class:`EngineStartError`, ``port=`` (that port, refused when
busy) and a restart: an engine started again in the same ``tmp_path`` has what it had
(Virtuoso's database files are removed after it unless ``keep=True``).

Cost: ``oxigraph serve`` answers 0.3-1 s after its start; a Virtuoso 5-9 s (under a load
of 12-18 on the 2 cores; 1.6 s of CPU), after a template database made once per machine
(25-40 s). A test module that needs many tests on Virtuoso shares one engine
(``scope="module"``, with ``tmp_path_factory``) and gives each test its own graphs; Virtuoso
deletes graphs slowly (about 2 ms a triple under load), so throw the engine away rather
than empty it.

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


def start_engine(name: str, tmp_path: Path, *, port: int | None = None,
                 keep: bool = False) -> contextlib.AbstractContextManager[Engine]:
    """``oxigraph_engine`` or ``virtuoso_engine`` by name (one of :data:`ENGINES`)."""
    if name == "oxigraph":
        return oxigraph_engine(tmp_path, port=port)
    if name == "virtuoso":
        return virtuoso_engine(tmp_path, port=port, keep=keep)
    raise ValueError(f"no engine {name!r}; known: {', '.join(ENGINES)}")


# ---------------------------------------------------------------------- processes
def port_is_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:PORT, so a server may (SO_REUSEADDR, as servers
    bind: the TIME_WAIT of a closed connection does not make the port busy)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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


def _stop(proc: subprocess.Popen, grace: float, stop_signal: str = "SIGTERM") -> None:
    """Stop the process and its whole group: ``stop_signal``, then SIGKILL after ``grace``
    s (at once when ``grace`` is 0)."""
    if proc.poll() is None and grace > 0:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, getattr(signal, stop_signal))
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    with contextlib.suppress(ProcessLookupError):  # what is left of its group, if anything
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


def listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds a socket listening on TCP ``port`` (Linux /proc)."""
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    except OSError:
        return False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port \
                        and inode in inodes:
                    return True
    return False


def _tail(log: Path, size: int = 4000) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return text[-size:]


@contextlib.contextmanager
def _running(argv: list[str], log: Path, *, cwd: Path, ready: Callable[[], bool],
             what: str, grace: float = 10.0, timeout: float = START_TIMEOUT,
             stop_signal: str = "SIGTERM", port: int | None = None,
             ) -> Iterator[subprocess.Popen]:
    """Run ``argv`` in its own process group (output to ``log``) until ``ready()`` is true
    while the process lives (and, ``port`` given, listens on it itself: what answered is not
    another server that took the port); yield it; stop it (and its group) whatever happens."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise EngineStartError(f"{what} exited with code {proc.returncode} before it "
                                       f"answered; its log ({log}):\n{_tail(log)}")
            if ready() and (port is None or listens(proc.pid, port)):
                break
            if time.monotonic() > deadline:
                raise EngineStartError(f"{what} did not answer within {timeout:g} s; its "
                                       f"log ({log}):\n{_tail(log)}")
            time.sleep(0.1)
        yield proc
    finally:
        _stop(proc, grace, stop_signal)


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
    """``oxigraph serve --location TMP/oxigraph/store --bind 127.0.0.1:PORT ARGS…``: an
    empty read-write store; yields its :class:`Engine` (``/query``, ``/update``,
    ``/store``) once it answers, stops it after. ``port`` given and busy:
    :class:`EngineStartError`. The store stays in ``tmp_path`` (small): started again there
    (on the same ``port`` for the same URLs), the engine has what it had — a restart."""
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
        with _running(argv, log, cwd=folder, what=f"oxigraph serve on port {p}", port=p,
                      ready=_answers(f"{url}/query", params={"query": "ASK {}"},
                                     headers={"Accept": "application/sparql-results+json"})):
            yield Engine(name="oxigraph", query_url=f"{url}/query",
                         update_url=f"{url}/update", gsp_url=f"{url}/store", log=log)

    with _on_some_port(start, port) as engine:
        yield engine


# ---------------------------------------------------------------------- Virtuoso
# The dba and the SPARQL user of every private Virtuoso (test instances on 127.0.0.1 only)
VIRTUOSO_DBA_PASSWORD = "lantai-dba-test"
VIRTUOSO_USER = "lantai"
VIRTUOSO_PASSWORD = "lantai-engine-test"
# What the template database gets once: the dba's password changed from Virtuoso's default,
# a user allowed SPARQL Update (Digest auth on /sparql-auth and on the Graph Store Protocol's
# /sparql-graph-crud-auth); anonymous /sparql stays read-only.
_VIRTUOSO_SETUP = (
    f"DB.DBA.USER_CREATE('{VIRTUOSO_USER}', '{VIRTUOSO_PASSWORD}');",
    f'GRANT SPARQL_SELECT TO "{VIRTUOSO_USER}";',
    f'GRANT SPARQL_UPDATE TO "{VIRTUOSO_USER}";',
    f"DB.DBA.USER_CHANGE_PASSWORD('dba', 'dba', '{VIRTUOSO_DBA_PASSWORD}');",
)
# Small and quick: few buffers (16 MB), no periodic checkpoints, no plugins, few threads.
_VIRTUOSO_INI = """\
[Database]
DatabaseFile = {dir}/virtuoso.db
ErrorLogFile = {dir}/virtuoso.log
LockFile = {dir}/virtuoso.lck
TransactionFile = {dir}/virtuoso.trx
xa_persistent_file = {dir}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
MaxCheckpointRemap = 2000
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {dir}/virtuoso-temp.db
TransactionFile = {dir}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{sql_port}
LiteMode = 0
DisableUnixSocket = 1
DisableTcpSocket = 0
MaxClientConnections = 10
ServerThreads = 10
CheckpointInterval = 0
O_DIRECT = 0
CaseMode = 2
MaxStaticCursorRows = 5000
CheckpointAuditTrail = 0
AllowOSCalls = 0
SchedulerInterval = 10
DirsAllowed = ., {dir}
ThreadCleanupInterval = 0
ThreadThreshold = 10
ResourcesCleanupInterval = 0
FreeTextBatchSize = 100000
SingleCPU = 0
PrefixResultNames = 0
RdfFreeTextRulesSize = 100
IndexTreeMaps = 64
MaxMemPoolSize = 50000000
MaxQueryMem = 200M
ThreadsPerQuery = 2
AsyncQueueMaxThreads = 4
NumberOfBuffers = 2000
MaxDirtyBuffers = 1500

[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = {dir}/vsp
MaxClientConnections = 8
ServerThreads = 8
DavRoot = DAV
EnabledDavVSP = 0
HTTPProxyEnabled = 0
TempASPXDir = 0
MaxKeepAlives = 8
KeepAliveTimeout = 10
HTTPThreadSize = 280000
HttpPrintWarningsInOutput = 0
Charset = UTF-8
EnabledGzipContent = 0

[Client]
SQL_PREFETCH_ROWS = 100
SQL_PREFETCH_BYTES = 16000
SQL_QUERY_TIMEOUT = 0
SQL_TXN_TIMEOUT = 0

[URIQA]
DynamicLocal = 0
DefaultHost = 127.0.0.1:{http_port}

[SPARQL]
MaxQueryCostEstimationTime = 400
DeferInferenceRulesInit = 0
"""
# No ResultSetMaxRows and no MaxQueryExecutionTime in [SPARQL]: with them Virtuoso answers
# silently truncated (Debian's virtuoso.ini: 10,000 rows) or partial results after the time
# ("Anytime Query", only an X-SQL-State: S1TAT header says so); our client bounds sizes and
# times itself, and a partial answer is a wrong page.
VIRTUOSO_TEMPLATE_TIMEOUT = 300.0  # a fresh database compiles Virtuoso's system procedures


def virtuoso_binaries() -> tuple[str, str] | None:
    """``virtuoso-t`` and ``isql-vt`` (Debian's ``virtuoso-opensource``), or None."""
    server, isql = shutil.which("virtuoso-t"), shutil.which("isql-vt")
    return (server, isql) if server and isql else None


def virtuoso_version() -> str:
    """The server's version line (``Version 7.2.5.3229-pthreads as of …``), or ""."""
    found = virtuoso_binaries()
    if not found:
        return ""
    out = subprocess.run([found[0], "-?"], capture_output=True, text=True, timeout=30)
    for line in (out.stdout + out.stderr).splitlines():
        if line.startswith("Version"):
            return line.strip()
    return ""


def _isql(isql: str, sql_port: int, password: str, statements: tuple[str, ...] | list[str],
          log: Path) -> None:
    """Run SQL statements as dba; any ``*** Error`` fails (isql exits 0 regardless)."""
    out = subprocess.run([isql, f"127.0.0.1:{sql_port}", "dba", password,
                          "exec=" + " ".join(statements)],
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    with open(log, "a") as f:
        f.write(out.stdout + out.stderr)
    if out.returncode or "*** Error" in out.stdout + out.stderr:
        raise EngineStartError(f"isql-vt on port {sql_port} failed: "
                               f"{(out.stdout + out.stderr).strip()[-1500:]}")


def _write_ini(folder: Path, sql_port: int, http_port: int) -> Path:
    (folder / "vsp").mkdir(exist_ok=True)
    ini = folder / "virtuoso.ini"
    ini.write_text(_VIRTUOSO_INI.format(dir=folder, sql_port=sql_port, http_port=http_port))
    return ini


def _virtuoso_template(server: str, isql: str) -> Path:
    """A database with the user and grants made once per machine (a fresh Virtuoso database
    takes half a minute or more to create; a copy of this one starts in seconds). Kept in the
    system's temporary folder under a name that changes with the version and the set-up, and
    made under a file lock, so the suite's worker processes make it once between them."""
    import fcntl
    import hashlib
    import tempfile

    key = hashlib.sha256("\n".join([virtuoso_version(), *_VIRTUOSO_SETUP, _VIRTUOSO_INI])
                         .encode()).hexdigest()[:16]
    base = Path(tempfile.gettempdir())
    template = base / f"lantai-virtuoso-template-{key}"
    if (template / "virtuoso.db").exists():
        return template
    with open(base / f"lantai-virtuoso-template-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (template / "virtuoso.db").exists():
            return template
        building = Path(tempfile.mkdtemp(prefix=f"lantai-virtuoso-building-{key}-", dir=base))
        try:
            sql_port, http_port = free_port(), free_port()
            _refuse_busy(sql_port, http_port)
            ini = _write_ini(building, sql_port, http_port)
            log = building / "virtuoso.out"
            with _running([server, "+foreground", "+configfile", str(ini)], log,
                          cwd=building, what=f"Virtuoso (new template) on port {http_port}",
                          port=http_port,
                          ready=_answers(f"http://127.0.0.1:{http_port}/sparql",
                                         params={"query": "ASK {}"}),
                          timeout=VIRTUOSO_TEMPLATE_TIMEOUT) as proc:
                _isql(isql, sql_port, "dba", _VIRTUOSO_SETUP, log)
                # a clean shutdown: the database file holds everything, the log is empty
                _isql(isql, sql_port, VIRTUOSO_DBA_PASSWORD, ["checkpoint;", "shutdown;"], log)
                proc.wait(120)
            if proc.returncode not in (0, None):
                raise EngineStartError(f"Virtuoso (template) exited with {proc.returncode}; "
                                       f"its log:\n{_tail(log)}")
            keep = template.with_name(template.name + ".new")
            shutil.rmtree(keep, ignore_errors=True)
            keep.mkdir()
            shutil.copyfile(building / "virtuoso.db", keep / "virtuoso.db")
            keep.rename(template)
        finally:
            shutil.rmtree(building, ignore_errors=True)
    return template


def _sparse_copy(source: Path, target: Path, block: int = 1 << 16) -> None:
    """Copy a file leaving its runs of zeros as holes: the template database is 50 MB of
    which some 6 MB are written, and every engine has a copy."""
    zero = bytes(block)
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(block):
            if chunk == zero[:len(chunk)]:
                dst.seek(len(chunk), os.SEEK_CUR)
            else:
                dst.write(chunk)
        dst.truncate()


_VIRTUOSO_DATABASE = ("virtuoso.db", "virtuoso.trx", "virtuoso-temp.db", "virtuoso-temp.trx",
                      "virtuoso.lck", "virtuoso.pxa")


@contextlib.contextmanager
def virtuoso_engine(tmp_path: Path, *, port: int | None = None, keep: bool = False
                    ) -> Iterator[Engine]:
    """A private Virtuoso (``virtuoso-t +foreground +configfile virtuoso.ini``) in
    ``TMP/virtuoso``, on a free HTTP port (``port``, refused if busy) and a free SQL port,
    from a copy of the template database; yields its :class:`Engine` — anonymous queries on
    ``/sparql``, updates as :data:`VIRTUOSO_USER` on ``/sparql-auth`` and the Graph Store
    Protocol on ``/sparql-graph-crud-auth`` (HTTP Digest) — once it answers; kills it after
    (no shutdown checkpoint is waited for: a commit is in its transaction log) and removes
    its database files (its logs stay), unless ``keep``.

    A restart: an engine started again in the same ``tmp_path`` (on the same ``port`` for
    the same URLs) whose predecessor had ``keep=True`` opens that database, with everything
    committed before the kill (Virtuoso rolls its transaction log forward)."""
    found = virtuoso_binaries()
    require(found, "Virtuoso (Debian's virtuoso-opensource: virtuoso-t, isql-vt) is not "
                   "installed")
    assert found
    server, isql = found
    template = _virtuoso_template(server, isql)
    folder = tmp_path / "virtuoso"
    folder.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def start(http_port: int) -> Iterator[Engine]:
        sql_port = free_port()
        _refuse_busy(sql_port)
        (folder / "virtuoso.lck").unlink(missing_ok=True)  # its process is gone (killed)
        if not (folder / "virtuoso.db").exists():
            _sparse_copy(template / "virtuoso.db", folder / "virtuoso.db")
        ini = _write_ini(folder, sql_port, http_port)
        url = f"http://127.0.0.1:{http_port}"
        try:
            with _running([server, "+foreground", "+no-checkpoint", "+configfile", str(ini)],
                          folder / "virtuoso.out", cwd=folder, grace=0, port=http_port,
                          what=f"Virtuoso on port {http_port}",
                          ready=_answers(f"{url}/sparql", params={"query": "ASK {}"})):
                yield Engine(name="virtuoso", query_url=f"{url}/sparql",
                             update_url=f"{url}/sparql-auth",
                             gsp_url=f"{url}/sparql-graph-crud-auth",
                             user=VIRTUOSO_USER, password=VIRTUOSO_PASSWORD,
                             log=folder / "virtuoso.log")
        finally:
            if not keep:
                for name in _VIRTUOSO_DATABASE:
                    (folder / name).unlink(missing_ok=True)

    with _on_some_port(start, port) as engine:
        yield engine
