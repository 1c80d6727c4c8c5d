"""BagIt bags and ZIP files sent with a submission: unpacked safely, validated by the
``bagit`` library.

A ZIP is unpacked member by member into a fresh folder: no absolute names, no ``..``, no
backslashes or drive letters, no symbolic links, no encrypted members; at most
:data:`MAX_MEMBERS` members and ``limit`` bytes in all, counted while writing (a ZIP's
declared sizes may lie: a zip bomb is stopped at the limit, not after it). Names made by
Windows tools in GBK without the UTF-8 flag are read as GB18030.

A bag (a folder with ``bagit.txt``) is validated with ``bagit`` (every checksum of its
manifests and the Payload-Oxum); a symbolic link anywhere in it, or a manifest naming a
path outside it, refuses it. Its items are described by a spreadsheet inside ``data/``
(``items.xlsx`` or ``items.csv``, or the only spreadsheet there); the files its rows name
are looked up in ``data/``.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

import bagit

MAX_MEMBERS = 60_000
_CHUNK = 1 << 20


class PackageError(Exception):
    """The bag or ZIP is refused as a whole (one line)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as its maker meant it (GBK names without the UTF-8 flag)."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def _safe_parts(name: str) -> tuple[str, ...] | None:
    """The member's path parts, or None when it would leave the target folder."""
    if not name or "\\" in name or "\x00" in name or name.startswith("/") \
            or (len(name) > 1 and name[1] == ":"):
        return None
    parts = PurePosixPath(name).parts
    if any(p in ("..", "") for p in parts):
        return None
    return tuple(p for p in parts if p != ".")


def unzip(archive: Path, target: Path, *, limit: int, max_members: int = MAX_MEMBERS) -> Path:
    """Unpack ``archive`` into the (new, empty) folder ``target``; PackageError for an
    unsafe or oversized archive (what was written stays in ``target``: the caller removes
    the folder)."""
    try:
        z = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageError(f"{archive.name}: not a readable ZIP file ({exc})") from None
    with z:
        infos = z.infolist()
        if len(infos) > max_members:
            raise PackageError(f"{archive.name}: {len(infos)} members, at most {max_members}")
        if sum(i.file_size for i in infos) > limit:
            raise PackageError(f"{archive.name}: unpacks to more than {limit >> 20} MB")
        written = 0
        target.mkdir(parents=True, exist_ok=True)
        root = target.resolve()
        for info in infos:
            name = _member_name(info)
            parts = _safe_parts(name)
            if parts is None:
                raise PackageError(f"{archive.name}: member {name[:120]!r} would be written "
                                   "outside the folder it is unpacked into")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise PackageError(f"{archive.name}: member {name[:120]!r} is a symbolic link")
            if info.flag_bits & 0x1:
                raise PackageError(f"{archive.name}: member {name[:120]!r} is encrypted")
            if not parts:
                continue
            dest = root.joinpath(*parts)
            if not dest.resolve().is_relative_to(root):
                raise PackageError(f"{archive.name}: member {name[:120]!r} would be written "
                                   "outside the folder it is unpacked into")
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.exists():
                raise PackageError(f"{archive.name}: member {name[:120]!r} is there twice")
            try:
                with z.open(info) as src, open(dest, "xb") as out:
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        if written > limit:
                            raise PackageError(f"{archive.name}: unpacks to more than "
                                               f"{limit >> 20} MB")
                        out.write(chunk)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
                raise PackageError(f"{archive.name}: member {name[:120]!r} cannot be read "
                                   f"({exc})") from None
    return target


def package_root(folder: Path) -> Path:
    """A ZIP's content: the folder itself, or its only subfolder when that is all it holds
    (a zipped folder)."""
    entries = [e for e in folder.iterdir() if not e.name.startswith(("__MACOSX", "."))]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return folder


def is_bag(folder: Path) -> bool:
    return folder.is_dir() and (folder / "bagit.txt").is_file()


def validate_bag(folder: Path) -> None:
    """Refuse a bag that is not whole: a symbolic link inside, a manifest naming a path
    outside it, a file missing or changed (checksums), files not in the manifest, or a
    wrong Payload-Oxum. The messages are bagit's, one line."""
    root = folder.resolve()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                raise PackageError(f"bag {folder.name}: {p.relative_to(folder)} is a "
                                   "symbolic link")
    try:
        bag = bagit.Bag(str(folder))
        for manifest_path in bag.entries:
            if not (root / manifest_path).resolve().is_relative_to(root):
                raise PackageError(f"bag {folder.name}: the manifest names "
                                   f"{manifest_path!r}, outside the bag")
        bag.validate(processes=1)
    except bagit.BagValidationError as exc:
        details = "; ".join(str(d) for d in (exc.details or [])[:5])
        more = f" (and {len(exc.details) - 5} more)" if len(exc.details or []) > 5 else ""
        raise PackageError(f"bag {folder.name} is not valid: "
                           f"{' '.join((details or exc.message).split())}{more}") from None
    except bagit.BagError as exc:
        raise PackageError(f"bag {folder.name} is not valid: {' '.join(str(exc).split())}") \
            from None


def bag_metadata(folder: Path) -> Path:
    """The spreadsheet in ``data/`` that describes the bag's items."""
    data = folder / "data"
    for name in ("items.xlsx", "items.csv"):
        if (data / name).is_file():
            return data / name
    found = sorted(p for p in data.iterdir() if p.is_file()
                   and p.suffix.lower() in (".xlsx", ".csv")) if data.is_dir() else []
    if len(found) == 1:
        return found[0]
    raise PackageError(f"bag {folder.name}: data/ must hold one spreadsheet describing the "
                       f"items (data/items.xlsx or data/items.csv); found {len(found)}")


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
