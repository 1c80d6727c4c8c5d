"""Uploaded PDFs are checked in worker processes that can be killed (``/verify``).

Why processes: a hostile PDF can make a parser loop (an xref stream whose ``/Index`` names
two billion objects of zero width keeps pyHanko's reader busy for minutes) or allocate without
end, and neither pyHanko nor Python can stop a thread. A worker reads one upload at a time;
the web process waits for it at most ``timeout`` seconds, then kills it (SIGKILL: it holds
nothing worth keeping) and a fresh one is started in the background. Each worker runs under
``RLIMIT_DATA`` (``memory_mb`` beyond what its imports took), so a decompression bomb that
gets past pyHanko's own decode limits ends that worker only.

Measured here (2 cores): validating a 5 MB signed PDF takes ≈ 25 ms in the worker; sending
it over the pipe and back adds a few ms, well inside the 300 ms goal; a worker starts (imports
pyHanko) in ≈ 0.6 s, which is why the verification page warms the pool (:meth:`Pool.start`)
when it is shown, before anyone uploads.

A worker is ``python -m services.requests.sandbox FD PARENT MEMORY_MB``: a fresh interpreter
(never a fork of the threaded web server), started by one long-lived thread of the pool
(Linux sends PR_SET_PDEATHSIG when the *thread* that made a child ends), dying with the web
process and on EOF of its socket.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path

from services.requests.validation import Inspection, Unreadable

_PROJECT = str(Path(__file__).resolve().parents[2])
SIZE = 2  # workers at most (the machine has two cores)
TIMEOUT = 5.0  # seconds one upload may take to check
MEMORY_MB = 512  # heap a worker may use beyond its imports


class Busy(Exception):
    """Every worker stayed busy: try again later (503)."""


# ------------------------------------------------------------------ inside a worker
def _die_with_parent(parent: int) -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    if os.getppid() != parent:
        os._exit(0)


def _data_size() -> int:
    """This process's data segment now (``VmData``, what ``RLIMIT_DATA`` counts)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _answer(job: tuple[bytes, list[bytes]]) -> tuple:
    from services.requests.validation import inspect

    try:
        return ("ok", inspect(*job))
    except Unreadable as exc:
        return ("unreadable", exc.reason, exc.detail)
    except MemoryError:
        return ("unreadable", "too_complex", "memory limit")
    except Exception as exc:  # any other failure of the parser on hostile bytes
        return ("unreadable", "malformed", f"{type(exc).__name__}: {str(exc)[:200]}")


def _warm_up() -> None:
    """Validate a tiny PDF signed here with a throwaway key: the first validation in a
    process loads and initialises much more than the imports (measured: 650 ms for the first
    5 MB upload in a fresh worker, 190 ms for the next, on a loaded machine), and this
    should be paid before the worker takes its first upload, not by a visitor."""
    import datetime as dt
    import io

    from asn1crypto import keys as akeys
    from asn1crypto import x509 as ax509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.writer import PdfFileWriter
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from services.requests.validation import inspect

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "warm-up")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(hours=1)).sign(key, hashes.SHA256()))
    blank, writer = io.BytesIO(), PdfFileWriter()
    writer.insert_page(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Page"),
        generic.NameObject("/MediaBox"): generic.ArrayObject(
            [generic.NumberObject(n) for n in (0, 0, 595, 842)])}))
    writer.write(blank)
    signer = signers.SimpleSigner(
        signing_cert=ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        signing_key=akeys.PrivateKeyInfo.load(key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())),
        cert_registry=SimpleCertificateStore())
    signed = signers.sign_pdf(IncrementalPdfFileWriter(blank),
                              signers.PdfSignatureMetadata(field_name="W"), signer=signer)
    inspect(signed.getvalue(), [cert.public_bytes(serialization.Encoding.PEM)])


def _worker_main(conn: Connection, parent: int, memory_mb: int) -> None:
    """One upload in, one answer out, until the socket closes."""
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C on the server is the parent's job
    logging.disable(logging.WARNING)  # pyHanko's complaints about hostile files: not logs
    try:
        _warm_up()
    except Exception:  # a worker that could not warm up still works, only slower at first
        traceback.print_exc()

    if memory_mb > 0:
        import resource

        limit = _data_size() + memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    while True:
        try:
            roots = conn.recv()  # None: the pool's ping after start
            data = conn.recv_bytes() if roots is not None else b""
        except (EOFError, OSError):
            return
        answer = ("ready",) if roots is None else _answer((data, roots))
        try:
            conn.send(answer)
        except (EOFError, OSError):
            return


# ------------------------------------------------------------------ in the web process
class _Worker:
    def __init__(self, memory_mb: int) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PROJECT, env.get("PYTHONPATH")) if p)
        env["PYTHONWARNINGS"] = "ignore"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.requests.sandbox", str(theirs.fileno()),
             str(os.getpid()), str(memory_mb)],
            pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL, close_fds=True)
        theirs.close()
        self.conn = Connection(ours.detach())

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.wait(5)
        finally:
            self.conn.close()


class Pool:
    """Up to ``size`` workers; one starts with the first use, more when all are busy."""

    STARTUP_SECONDS = 60.0

    def __init__(self, size: int = SIZE, memory_mb: int = MEMORY_MB,
                 timeout: float = TIMEOUT) -> None:
        self.size = max(1, size)
        self.memory_mb = memory_mb
        self.timeout = timeout
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._wanted: queue.Queue[bool] = queue.Queue()
        self._lock = threading.Lock()
        self._started = False
        self._closed = False
        self._count = 0
        self.killed: list[int] = []  # pids of workers killed at the deadline (tests, logs)

    def _spawner(self) -> None:
        while self._wanted.get() and not self._closed:
            try:
                worker = _Worker(self.memory_mb)
                worker.conn.send(None)  # answered once the worker has imported pyHanko
                if worker.conn.poll(self.STARTUP_SECONDS):
                    worker.conn.recv()
                    self._idle.put(worker)
                else:
                    worker.kill()
                    self._wanted.put(True)
            except (OSError, EOFError):
                time.sleep(1)
                self._wanted.put(True)

    def start(self, wait: bool = False) -> None:
        """Start the first worker (``wait``: until it can take an upload)."""
        with self._lock:
            if not self._started and not self._closed:
                threading.Thread(target=self._spawner, name="lantai-verify-spawner",
                                 daemon=True).start()
                self._count = 1
                self._wanted.put(True)
                self._started = True
        if wait:
            deadline = time.monotonic() + self.STARTUP_SECONDS
            while self._idle.qsize() < 1 and time.monotonic() < deadline:
                time.sleep(0.01)

    def _grow(self) -> None:
        with self._lock:
            if self._count >= self.size or self._closed:
                return
            self._count += 1
        self._wanted.put(True)

    def run(self, data: bytes, roots: list[bytes], timeout: float | None = None) -> Inspection:
        """Inspect ``data`` in a worker within ``timeout`` seconds of its own (a wait for a
        free worker is bounded separately, by the start-up time). Raises :class:`Unreadable`
        (``too_slow``, ``too_complex`` among the reasons) or :class:`Busy`."""
        if self._closed:
            raise Busy("the verification service is shutting down")
        limit = self.timeout if timeout is None else timeout
        self.start()
        try:
            worker = self._idle.get_nowait()
        except queue.Empty:
            self._grow()
            try:
                worker = self._idle.get(timeout=max(limit, 1.0) + self.STARTUP_SECONDS / 6)
            except queue.Empty:
                raise Busy("every verification worker stayed busy") from None
        try:
            worker.conn.send(roots)
            worker.conn.send_bytes(data)  # as it is: no pickling of megabytes
            if not worker.conn.poll(limit):
                self.killed.append(worker.process.pid)
                worker.kill()
                self._wanted.put(True)
                raise Unreadable("too_slow", f"over {limit:g} s")
            answer = worker.conn.recv()
        except (EOFError, OSError):  # the worker died: the memory limit, or a crash
            worker.kill()
            self._wanted.put(True)
            raise Unreadable("too_complex", "the checking process ended") from None
        self._idle.put(worker)
        if answer[0] == "ok":
            found: Inspection = answer[1]
            return found
        raise Unreadable(answer[1], answer[2])

    def close(self) -> None:
        self._closed = True
        self._wanted.put(False)
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                return

    def pids(self) -> list[int]:
        return [w.process.pid for w in list(self._idle.queue)]


_pool: Pool | None = None
_pool_lock = threading.Lock()


def pool() -> Pool:
    """This process's pool (one for every site the process serves: it holds no site data)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = Pool()
        return _pool


if __name__ == "__main__":  # a worker: python -m services.requests.sandbox FD PARENT MEMORY_MB
    from services.requests.sandbox import _worker_main as _main

    _main(Connection(int(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3]))
