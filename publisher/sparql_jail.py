"""Start a program that can never open a connection: ``python -m publisher.sparql_jail -- PROG…``.

The SPARQL engine behind ``/sparql`` (``oxigraph serve-read-only``, :mod:`publisher.sparql_engine`)
would fetch whatever a ``SERVICE`` clause names: the endpoint checks the query first
(:mod:`publisher.sparql_check`), and this is the layer under that check, so that a query the
check misread still reaches nothing. The engine must listen on the host's loopback, so a
network namespace of its own (what the old query workers used) is out; instead a seccomp
filter, inherited across ``execve`` and by every thread, refuses the system calls that open a
connection: ``connect`` (TCP, UDP and DNS alike), ``sendto`` with an address or with
``MSG_FASTOPEN``, ``sendmsg``/``sendmmsg`` with ``MSG_FASTOPEN`` and ``io_uring_setup`` (a
way around seccomp); they fail with ``ENETUNREACH``. Accepting connections and answering on
them (``accept4``, ``send`` as ``sendto`` without an address, ``write``) is untouched.

It also sets the memory limit (``RLIMIT_DATA``, ``--memory-mb``: heap and anonymous maps, as
the old query processes had; past it the engine aborts rather than take the machine, and its
supervisor starts another), lowers the priority (``--nice``), and
asks the kernel to kill the program when the process that started it dies (PR_SET_PDEATHSIG,
kept across ``execve``), so an engine never outlives the server.

Here, not in ``subprocess``'s ``preexec_fn``: that hook is unsafe in a process with threads
(the server's), and this is a fresh, single-threaded interpreter that then becomes the program.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import os
import platform
import resource
import signal
import struct
import sys

# struct seccomp_data: nr (u32), arch (u32), instruction_pointer (u64), args[6] (u64 each)
_NR, _ARCH, _ARGS = 0, 4, 16
# (AUDIT_ARCH_*, connect, sendto, sendmsg, sendmmsg, io_uring_setup)
_ARCHES = {
    "x86_64": (0xC000003E, 42, 44, 46, 307, 425),
    "aarch64": (0xC00000B7, 203, 206, 211, 269, 425),
}
_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW = 0x7FFF0000
_DENY = 0x00050000 | errno.ENETUNREACH  # SECCOMP_RET_ERRNO
_MSG_FASTOPEN = 0x20000000
_PR_SET_PDEATHSIG, _PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 1, 38, 22, 2


def _program(machine: str) -> list[tuple[int, int, int, int]]:
    """The BPF filter as (code, jt, jf, k): refuse what opens a connection, allow the rest."""
    arch, connect, sendto, sendmsg, sendmmsg, uring = _ARCHES[machine]

    def arg(i: int, high: bool = False) -> int:  # little-endian: the low half first
        return _ARGS + 8 * i + (4 if high else 0)

    listing: list[tuple] = [  # (code, jt, jf, k) with labels for jumps, or (label,)
        (_LD_W_ABS, 0, 0, _ARCH), (_JEQ, 0, "deny", arch),  # a foreign ABI: nothing
        (_LD_W_ABS, 0, 0, _NR),
        (_JGE, "deny", 0, 0x40000000),  # x32 system calls
        (_JEQ, "deny", 0, connect), (_JEQ, "deny", 0, uring),
        (_JEQ, "sendto", 0, sendto),
        (_JEQ, "msgflags", 0, sendmsg), (_JEQ, "msgflags", 0, sendmmsg),
        (_RET, 0, 0, _ALLOW),
        ("sendto",),  # sendto(fd, buf, len, flags, addr, addrlen): an address, or fast open
        (_LD_W_ABS, 0, 0, arg(4)), (_JEQ, 0, "deny", 0),
        (_LD_W_ABS, 0, 0, arg(4, high=True)), (_JEQ, 0, "deny", 0),
        (_LD_W_ABS, 0, 0, arg(3)), (_JSET, "deny", 0, _MSG_FASTOPEN),
        (_RET, 0, 0, _ALLOW),
        ("msgflags",),  # sendmsg(fd, msg, flags), sendmmsg(fd, vec, n, flags)
        (_LD_W_ABS, 0, 0, arg(2)), (_JSET, "deny", 0, _MSG_FASTOPEN),
        (_LD_W_ABS, 0, 0, _NR), (_JEQ, 0, "allow", sendmmsg),
        (_LD_W_ABS, 0, 0, arg(3)), (_JSET, "deny", 0, _MSG_FASTOPEN),
        ("allow",), (_RET, 0, 0, _ALLOW),
        ("deny",), (_RET, 0, 0, _DENY),
    ]
    labels: dict[str, int] = {}
    for op in listing:
        if len(op) == 1:
            labels[op[0]] = sum(1 for o in listing[:listing.index(op)] if len(o) == 4)
    code = [op for op in listing if len(op) == 4]

    def offset(target: int | str, pc: int) -> int:  # BPF jumps count from the next one
        return labels[target] - pc - 1 if isinstance(target, str) else target

    return [(op, offset(jt, pc), offset(jf, pc), k) for pc, (op, jt, jf, k) in enumerate(code)]


def lock_out_the_network() -> None:
    """Install the filter on this process (and what it executes). Raises OSError if the
    kernel refused (no seccomp): the caller must then not start the engine."""
    machine = platform.machine()
    if machine not in _ARCHES:
        raise OSError(f"no seccomp filter written for {machine}")
    code = _program(machine)
    buf = b"".join(struct.pack("HBBI", *ins) for ins in code)
    filters = ctypes.create_string_buffer(buf)

    class _Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = _Prog(len(code), ctypes.addressof(filters))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m publisher.sparql_jail")
    parser.add_argument("--memory-mb", type=int, default=0)
    parser.add_argument("--nice", type=int, default=0)
    parser.add_argument("--parent", type=int, default=0, help="die with this process")
    parser.add_argument("program", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    program = [a for a in args.program if a != "--"] if args.program[:1] == ["--"] \
        else args.program
    if not program:
        parser.error("no program to run")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if args.parent and os.getppid() != args.parent:
        sys.exit(1)  # the parent died before the signal was asked for
    if args.memory_mb > 0:
        limit = args.memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    if args.nice:
        os.nice(args.nice)
    lock_out_the_network()
    os.execvp(program[0], program)


if __name__ == "__main__":
    main()
