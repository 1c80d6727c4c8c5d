"""``lantai serve``: the public tier on every core (issue 15, item 1).

One process cannot use more than about one core (the GIL): the mixed load of 16 clients
topped out at 340–380 requests/s on 1.1 cores with waitress, and 45 % of a lookup's time was
waitress's own I/O. So ``serve`` runs **granian** (a Rust HTTP server from PyPI; WSGI in each
worker's threads, the sockets, HTTP parsing and keep-alive in Rust, outside the GIL) with
``workers`` processes (0: one per core; setting ``serve_workers``). Measured against gunicorn
(gthread workers) on the demo, same workers and threads, with 1 and 4 client processes
(figures in docs/deploy.md, "Serving on every core"): granian answered record pages and
``/sparql`` lookups faster at every point and at less CPU per request, since gunicorn's I/O
is Python in the same GIL as the app.

Workers share nothing but files on disk: each imports the app (:func:`worker_app`, the factory
granian calls in each worker, told the site by :data:`ENV_HOME`) and opens the publication
store read-only; freshness is the generation read once per request
(:class:`publisher.dataset.PublicDataset`). The per-client rate limit is shared between the
workers through a small file (:mod:`publisher.shared_limits`, which also says why the
concurrency caps of :mod:`publisher.busy` stay per worker). Around the workers runs what the
SPARQL engine needs on the machine (``publisher.sparql_engine.engine_for_serving``), entered
before they start and left after they stop: Ctrl-C or SIGTERM stops granian's workers, then
the engine.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

from flask import Flask

from repo.errors import LantaiError

ENV_HOME = "LANTAI_SERVE_HOME"  # the site a worker serves
ENV_QUIET = "LANTAI_SERVE_QUIET"  # "1": no request log
ENV_WORKERS = "LANTAI_SERVE_WORKERS"  # how many workers share the per-client limits
ENV_LIMITS = "LANTAI_SERVE_LIMITS"  # the file in which they share them
ENV_PARENT = "LANTAI_SERVE_PARENT"  # the serving process (workers die with it)


class PortInUse(LantaiError):
    """The address to serve on is taken (one line, exit ≠ 0)."""


def worker_count(workers: int | None, settings: Any) -> int:
    """``workers`` if given, else the ``serve_workers`` setting; 0 means one per core."""
    n = settings.serve_workers if workers is None else workers
    if n <= 0:
        try:
            n = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            n = os.cpu_count() or 1
    return max(1, n)


def check_address(host: str, port: int) -> None:
    """Refuse at once, in one line, an address that something else listens on (granian would
    otherwise log a traceback from its own process)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise PortInUse(f"cannot serve on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(f"port {port} on {host} is in use by another program; "
                                "stop it or choose another with --port") from None
            raise PortInUse(f"cannot serve on {host}:{port}: {exc.strerror}") from None


def worker_app() -> Flask:
    """The app of one worker process (granian's factory, called once in each worker)."""
    from publisher.app import create_app

    die_with_server()
    relay_stop_signals()
    home = Path(os.environ[ENV_HOME])
    return create_app(home, REQUEST_LOG=os.environ.get(ENV_QUIET) != "1")


def die_with_server() -> None:
    """SIGTERM this worker when the serving process dies, even by SIGKILL (which it cannot
    pass on): workers of a killed server were left serving the port (PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the server's own stop still works
        return
    if str(os.getppid()) != os.environ.get(ENV_PARENT, str(os.getppid())):
        os._exit(0)  # the server died while this worker started, before the prctl


def relay_stop_signals() -> None:
    """Make SIGTERM/SIGINT stop this worker whichever of its threads the kernel gives it to.

    A granian worker's main thread waits on a lock for its stop event; Python runs signal
    handlers in the main thread only, and a signal delivered to another thread (a Rust I/O
    thread, a request thread) does not wake a lock wait: the worker then never stopped, and
    ``lantai serve`` waited for it for ever (seen here under load). The signal still writes
    its number to the wakeup fd, whatever thread took it: a small thread reads it and calls
    the handler granian installed (which only sets its stop event; a second call is
    harmless)."""
    if threading.current_thread() is not threading.main_thread():
        return
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)

    parent = os.environ.get(ENV_PARENT)

    def stop(number: int) -> None:
        handler = signal.getsignal(number)
        if callable(handler):
            handler(number, None)

    def relay() -> None:
        reader.settimeout(0.25)
        asked: int | None = None  # a stop asked for: asked again until the worker stops
        while True:
            try:
                data = reader.recv(64)
            except TimeoutError:
                # the server died (even by SIGKILL: PR_SET_PDEATHSIG), or a stop came while
                # this worker was still starting, before granian's own handler was in place
                # (the one inherited from the server does nothing here): ask again
                if parent and str(os.getppid()) != parent:
                    asked = signal.SIGTERM
                if asked is not None:
                    stop(asked)
                continue
            if not data:
                return
            for number in data:
                if number in (signal.SIGTERM, signal.SIGINT):
                    asked = number
                    stop(number)

    threading.Thread(target=relay, name="lantai-signal-relay", daemon=True).start()
    _keep.append((reader, writer))


_keep: list[socket.socket | tuple[socket.socket, socket.socket]] = []


def preload() -> None:
    """Import what every worker imports (not open: no store, no thread), once, before the
    workers are forked: they start sooner and share those pages of memory."""
    import importlib

    from publisher.app import BLUEPRINTS

    for name in (*BLUEPRINTS, "staff", "services.requests"):
        importlib.import_module(name)


def serve(home: Path, *, host: str = "127.0.0.1", port: int = 5000,
          workers: int | None = None, threads: int = 8, quiet: bool = False,
          announce: Any = None) -> None:
    """Serve the site at ``home`` on ``host:port`` with ``workers`` processes of ``threads``
    threads for cheap pages each (expensive work has threads of its own on top:
    :func:`publisher.busy.threads_for`), until Ctrl-C or SIGTERM. ``announce(line)`` is told
    what is served where, once the address is known to be free."""
    from granian import Granian
    from granian.constants import Interfaces

    from publisher.busy import threads_for
    from publisher.sparql_engine import engine_for_serving
    from repo.config import read_settings

    settings = read_settings(home)
    n = worker_count(workers, settings)
    check_address(host, port)
    blocking = threads_for(settings, threads)
    preload()
    with tempfile.TemporaryDirectory(prefix="lantai-serve-") as state:
        os.environ.update({ENV_HOME: str(home), ENV_QUIET: "1" if quiet else "0",
                           ENV_WORKERS: str(n), ENV_LIMITS: str(Path(state) / "limits"),
                           ENV_PARENT: str(os.getpid())})
        if announce:
            announce(f"Serving {home} at http://{host}:{port}/ with {n} worker "
                     f"process{'es' if n > 1 else ''} (Ctrl-C stops)")
        with engine_for_serving(home, settings):
            Granian(
                "publisher.server:worker_app", factory=True, interface=Interfaces.WSGI,
                address=host, port=port, workers=n, blocking_threads=blocking,
                # errors only: granian warns of any thread count above 2 × cores + 1, but ours
                # mostly wait (on the SPARQL pool, on renders: publisher/busy.py)
                log_level="error",  # type: ignore[arg-type]
                log_access=False,  # our own request log: one JSON line per request
                # a worker that still has not stopped 10 s after SIGTERM is killed (its
                # SPARQL processes die with it: PR_SET_PDEATHSIG)
                workers_kill_timeout=10,
            ).serve()
