"""Per-client rate-limit buckets shared by the worker processes of one ``lantai serve``.

With N worker processes, a bucket per process would give a client N times its allowance (its
connections land on any worker). So ``lantai serve`` makes one small file per run (the path in
env ``LANTAI_SERVE_LIMITS``, removed when it stops) and every worker keeps its token buckets
there: a fixed table of :data:`SLOTS` slots mapped into memory, each (client hash, tokens,
last time), found by linear probing from the client's hash; a full neighbourhood gives up its
least recently seen client (as the in-process table forgets the oldest). A take is one
``flock`` and a few bytes read and written (microseconds); the monotonic clock is the
machine's, the same in every process.

The concurrency caps of :mod:`publisher.busy` stay per process, on purpose: they bound what
one client holds of *this process's* threads and query slots (each worker has its own), and a
client may hold at most N × ``expensive_per_client`` expensive requests at once over N
workers — bounded, and a viewer's six parallel tile requests must not be refused because the
kernel happened to give four of its connections to one worker.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import threading
from pathlib import Path

SLOTS = 16_384
PROBE = 32  # slots looked at from a client's home slot
_SLOT = struct.Struct("<Qdd")  # client hash (0: free), tokens, last time


def _hash(client: str) -> int:
    return int.from_bytes(hashlib.blake2b(client.encode("utf-8", "replace"),
                                          digest_size=8).digest(), "little") or 1


class SharedBuckets:
    """Token buckets of every client, in the file at ``path`` (made if missing)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            size = SLOTS * _SLOT.size
            if os.fstat(fd).st_size < size:
                os.ftruncate(fd, size)  # zeros: every slot free
            self._map = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._lock = threading.Lock()  # flock is per open file: threads need their own lock

    def take(self, client: str, now: float, rate: float, burst: int) -> float:
        """Spend one token of ``client``; 0 if there was one, else seconds until there is."""
        key = _hash(client)
        home = key % SLOTS
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                slot, oldest, oldest_at = None, home, float("inf")
                for i in range(PROBE):
                    at = (home + i) % SLOTS
                    found, tokens, last = _SLOT.unpack_from(self._map, at * _SLOT.size)
                    if found == key or found == 0:
                        slot = at
                        if found == 0:
                            tokens, last = float(burst), now
                        break
                    if last < oldest_at:
                        oldest, oldest_at = at, last
                if slot is None:  # the neighbourhood is full: forget its oldest client
                    slot, tokens, last = oldest, float(burst), now
                tokens = min(float(burst), tokens + max(0.0, now - last) * rate)
                wait = 0.0
                if tokens >= 1:
                    tokens -= 1
                else:
                    wait = (1 - tokens) / rate
                _SLOT.pack_into(self._map, slot * _SLOT.size, key, tokens, now)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        return wait

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)
