"""The site master key, and sealing small secrets with it (AES-256-GCM).

The master key never lives in the site folder (DESIGN.md, decision 8): someone with a copy of
the site's disk but not the key reads no personal data. It comes, in this order, from

1. ``LANTAI_KEY_FILE`` (what ``--key-file FILE`` sets): a file holding a base64 line of 32
   bytes (``lantai keys new -o FILE`` makes one);
2. ``LANTAI_MASTER_KEY``: the 32 bytes, base64 (an operator's secret store, a container);
3. ``LANTAI_MASTER_KEY_FILE``: the older name of ``LANTAI_KEY_FILE``;
4. the key file beside the site, ``<home>.key`` (``/srv/lantai.key`` for ``/srv/lantai``),
   made by ``lantai init`` (mode 0600) when none of the above is set.

A key file inside the site folder is refused (a copy of the site would carry its key); a
missing, unreadable or malformed key is one line naming the file (or the places looked in).

Services never use the master key itself: each asks :func:`subkey` for a key of its own
(HKDF-SHA256 with the service's label), so a key for one purpose opens nothing else, and
:func:`seal`/:func:`unseal` bind every sealed value to what it belongs to (associated data:
a request number, a field name), so a value moved to another row does not open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from repo.durable import fsync_dir, write_atomically
from repo.errors import LantaiError

KEY_BYTES = 32
_VERSION = b"\x01"  # the first byte of every sealed value: the format, for rotation later


class MasterKeyError(LantaiError):
    """The master key is missing or unusable (exit 1, one line)."""


KEY_ID_FILE = Path("preservation") / "key-id"
# while ``lantai keys rotate`` runs (and after a crash, until it is run again): both key ids
ROTATION_JOURNAL = Path("preservation") / "rotation.json"


def key_file(home: Path) -> Path:
    """Where the key file is looked for: the environment's, or ``<home>.key`` beside it."""
    named = os.environ.get("LANTAI_KEY_FILE") or os.environ.get("LANTAI_MASTER_KEY_FILE")
    if named:
        return Path(named)
    home = Path(home).resolve()
    return home.with_name(home.name + ".key")


def where_keys_are(home: Path) -> str:
    """The places a key is looked for, for the one-line error of a missing key."""
    return ("--key-file FILE or LANTAI_KEY_FILE, LANTAI_MASTER_KEY (base64), "
            f"LANTAI_MASTER_KEY_FILE, or the key file beside the site ({default_key_file(home)})")


def default_key_file(home: Path) -> Path:
    home = Path(home).resolve()
    return home.with_name(home.name + ".key")


def _decode(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError(f"{where}: not a base64 key") from None
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"{where}: a master key is {KEY_BYTES} bytes (got {len(key)})")
    return key


def check_outside(path: Path, home: Path) -> None:
    """Refuse a key file inside the site folder: a copy of the site (a backup, a stolen disk)
    would carry the key that opens it (DESIGN.md, decision 8)."""
    site = Path(home).resolve()
    where = Path(path).resolve()
    if where == site or site in where.parents:
        raise MasterKeyError(f"the key file {path} is inside the site folder {site}: "
                             "keep the master key outside the site (and two copies off the "
                             "machine)")


def read_key_file(path: Path) -> bytes:
    """The key in a key file (a base64 line of 32 bytes); one clear error for a missing,
    unreadable or malformed file."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("ascii")
    except FileNotFoundError:
        raise MasterKeyError(f"{path}: no such key file (make one with "
                             "`lantai keys new -o FILE`)") from None
    except IsADirectoryError:
        raise MasterKeyError(f"{path}: a folder, not a key file") from None
    except OSError as exc:
        raise MasterKeyError(f"{path}: cannot read the key file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise MasterKeyError(f"{path}: not a base64 key") from None
    return _decode(text, str(path))


def write_key_file(path: Path) -> bytes:
    """A new random key written to ``path`` (mode 0600, never over an existing file: a key
    overwritten is every sealed file lost), flushed and fsynced with its folder."""
    key = new_key()
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise MasterKeyError(f"{path} exists: a key file is never overwritten "
                             "(choose another name)") from None
    except OSError as exc:
        raise MasterKeyError(f"{path}: cannot write the key file ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(encode_key(key) + "\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise MasterKeyError(f"{path}: cannot write the key file ({exc.strerror})") from None
    fsync_dir(path.parent.resolve())
    return key


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def master_key(home: Path, *, create: bool = False) -> bytes:
    """The site's master key; with ``create``, a new key file is made beside the site
    (``<home>.key``) when no key is given anywhere (``lantai init``, or a service that has
    sealed nothing yet). A key file named by ``--key-file``/the environment is never made
    here: a name given for a file that is not there is a mistake to report
    (``lantai keys new -o FILE`` makes one)."""
    value = os.environ.get("LANTAI_MASTER_KEY")
    if value and not os.environ.get("LANTAI_KEY_FILE"):
        return _decode(value, "LANTAI_MASTER_KEY")
    path = key_file(home)
    check_outside(path, home)
    if path.exists() or path.is_symlink():
        return read_key_file(path)
    named = path != default_key_file(home)
    if named:
        raise MasterKeyError(f"{path}: no such key file (make one with "
                             "`lantai keys new -o FILE`)")
    if not create:
        raise MasterKeyError(f"no master key for {Path(home)}: looked for "
                             f"{where_keys_are(home)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return write_key_file(path)
    except MasterKeyError:
        if path.exists():  # another process made it first
            return read_key_file(path)
        raise


def key_id(master: bytes) -> str:
    """A short public name of a master key (16 hex digits), kept in the site so that a wrong
    key is told apart from damaged data: ``lantai: error: … key 3f2a… is not this site's``."""
    return hashlib.sha256(subkey(master, "key-id")).hexdigest()[:16]


def recorded_key_id(home: Path) -> str | None:
    """The id of the key the site is keyed to (None: not keyed yet)."""
    try:
        return (Path(home) / KEY_ID_FILE).read_text(encoding="ascii").strip() or None
    except FileNotFoundError:
        return None


def record_key_id(home: Path, kid: str) -> None:
    """Key the site to ``kid`` (durably: temp file, fsync, rename, fsync the folder)."""
    path = Path(home) / KEY_ID_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, (kid + "\n").encode("ascii"))


def rotation_ids(home: Path) -> tuple[str, str] | None:
    """(old, new) key ids of a rotation begun and not finished, or None."""
    try:
        data = json.loads((Path(home) / ROTATION_JOURNAL).read_text(encoding="utf-8"))
        return str(data["old"]), str(data["new"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        raise MasterKeyError(f"{Path(home) / ROTATION_JOURNAL}: unreadable rotation journal; "
                             "run `lantai keys rotate` again with both keys") from None


def site_master_key(home: Path, *, create: bool = False) -> bytes:
    """The master key, checked against the id the site recorded when it was first keyed
    (``{home}/preservation/key-id``; recorded now if the site has none yet). While a rotation
    is unfinished (its journal names both keys) either key opens the site; values still
    under the other key say so (``finish `lantai keys rotate```)."""
    key = master_key(home, create=create and not site_is_keyed(home))
    given = key_id(key)
    expected = recorded_key_id(home)
    if expected is None:
        record_key_id(home, given)
        return key
    if given == expected:
        return key
    rotating = rotation_ids(home)
    if rotating is not None and given in rotating:
        return key
    raise MasterKeyError(f"the key given (id {given}) is not this site's key (id {expected})")


def check_init_key(home: Path) -> None:
    """For ``lantai init``, before anything is made: a key given (``--key-file``, the
    environment) must be usable, and a key file named must exist (we never make one there:
    ``lantai keys new -o FILE`` does, so that making the key and keeping its copies is a
    step of its own) and lie outside the site folder."""
    if any(os.environ.get(name) for name in ("LANTAI_KEY_FILE", "LANTAI_MASTER_KEY",
                                              "LANTAI_MASTER_KEY_FILE")):
        master_key(home)  # the key given must be there, well formed, outside the site


def site_is_keyed(home: Path) -> bool:
    """True when something of the site is sealed under a master key (it has a key id, a
    keyring or a journal): then a missing key is an error, never a reason to make one."""
    home = Path(home)
    return ((home / KEY_ID_FILE).exists() or (home / ROTATION_JOURNAL).exists()
            or (home / "preservation" / "keyring.sqlite3").exists())


def require_site_key(home: Path) -> bytes | None:
    """The checked master key of a keyed site (``lantai serve`` and the commands that open
    sealed data call this first: a missing or wrong key is one line, not a failure later);
    None for a site that has sealed nothing."""
    if not site_is_keyed(home):
        return None
    return site_master_key(home)


def subkey(master: bytes, label: str) -> bytes:
    """A key for one purpose (``"requests/personal"``, ``"requests/lookup"``), derived from
    the master key with HKDF-SHA256."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                info=b"lantai/" + label.encode("utf-8")).derive(master)


def seal(key: bytes, plaintext: bytes, context: str) -> bytes:
    """AES-256-GCM: version byte, 12-byte nonce, ciphertext and tag. ``context`` (what the
    value belongs to) is authenticated, not stored."""
    nonce = os.urandom(12)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode("utf-8"))


def unseal(key: bytes, sealed: bytes, context: str) -> bytes:
    """The plaintext of :func:`seal`; a wrong key, context or a changed byte is refused."""
    if len(sealed) < 1 + 12 + 16 or sealed[:1] != _VERSION:
        raise MasterKeyError("sealed value: unknown format")
    try:
        return AESGCM(key).decrypt(sealed[1:13], sealed[13:], context.encode("utf-8"))
    except InvalidTag:
        raise MasterKeyError("sealed value does not open with this site's key "
                        "(wrong key, or the value was changed)") from None


def lookup_hash(key: bytes, value: str) -> str:
    """A keyed hash for finding a row by a secret value (an e-mail, an identity number)
    without storing the value: HMAC-SHA256, hex."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
