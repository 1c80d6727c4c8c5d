"""Write a file atomically and durably: the one way Lantai replaces a file.

The bytes go to a temporary file in the target's own folder (a fresh name: two writers never
share one), which is flushed and fsynced, renamed over the target, and then the folder is
fsynced so that the rename itself survives a power cut. A crash leaves the old file or the
new one, never half of one; whatever is raised, the temporary file is removed.

Only a regular file (or a name that does not exist yet) is ever replaced: renaming over
``/dev/full`` turned the device into a regular file, and a rename over a symbolic link or a
folder is not what anyone asked for. :func:`output_path` says so with :class:`Invalid`.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from repo.errors import Invalid


def fsync_dir(folder: Path) -> None:
    """Make a rename durable: fsync the folder that holds the new name (POSIX only)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def output_path(path: Path | str) -> Path:
    """Where writing ``path`` goes: itself, or the regular file a symbolic link names.
    :class:`Invalid` for a special file (device, FIFO, socket), a folder, a link to either
    or to nothing, and a folder that does not exist."""
    path = Path(path)
    try:
        st = path.stat()  # follows links: what a write would reach
    except FileNotFoundError:
        if path.is_symlink():
            raise Invalid(f"{path}: a symbolic link to nothing; give a file name") from None
        if not path.parent.is_dir():
            raise Invalid(f"{path}: the folder {path.parent} does not exist") from None
        return path
    except OSError as exc:
        raise Invalid(f"{path}: cannot be written ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise Invalid(f"{path}: a folder; give a file name")
    if not stat.S_ISREG(st.st_mode):
        raise Invalid(f"{path}: not a regular file (a device, pipe or socket); "
                      "exports are written to regular files only")
    return path.resolve() if path.is_symlink() else path


@contextlib.contextmanager
def atomic_output(path: Path | str) -> Iterator[BinaryIO]:
    """A binary file to write; on leaving without an error it replaces ``path`` (checked
    by :func:`output_path`) atomically and durably; on an error nothing is replaced."""
    target = output_path(path)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                        suffix=".part")
    except OSError as exc:
        raise Invalid(f"{target}: cannot be written ({exc.strerror})") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(OSError):  # the mode a new file would have had
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except OSError as exc:  # a full disk, a folder made read-only meanwhile
        tmp.unlink(missing_ok=True)
        raise Invalid(f"{target}: cannot be written ({exc.strerror or exc})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomically(path: Path | str, data: bytes) -> None:
    """Replace ``path`` by ``data``, atomically and durably."""
    with atomic_output(path) as fh:
        fh.write(data)


__all__ = ["atomic_output", "fsync_dir", "output_path", "write_atomically"]
