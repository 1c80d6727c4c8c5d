"""The site master key, and sealing small secrets with it (AES-256-GCM).

The master key never lives in the site folder (DESIGN.md, decision 8): someone with a copy of
the site's disk but not the key reads no personal data. It comes, in this order, from

1. ``LANTAI_KEY_FILE`` (what ``--key-file FILE`` sets): a file holding a base64 line of 32
   bytes (``lantai keys new -o FILE`` makes one);
2. ``LANTAI_MASTER_KEY``: the 32 bytes, base64 (an operator's secret store, a container);
3. ``LANTAI_MASTER_KEY_FILE``: the older name of ``LANTAI_KEY_FILE``;
4. the key file beside the site, ``<home>.key`` (``/srv/lantai.key`` for ``/srv/lantai``),
   made by ``lantai init`` (mode 0600) when none of the above is set.

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
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from repo.errors import LantaiError

KEY_BYTES = 32
_VERSION = b"\x01"  # the first byte of every sealed value: the format, for rotation later


class MasterKeyError(LantaiError):
    """The master key is missing or unusable (exit 1, one line)."""


def key_file(home: Path) -> Path:
    """Where the key file is looked for: the environment's, or ``<home>.key`` beside it."""
    named = os.environ.get("LANTAI_KEY_FILE") or os.environ.get("LANTAI_MASTER_KEY_FILE")
    if named:
        return Path(named)
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


def master_key(home: Path, *, create: bool = False) -> bytes:
    """The site's master key; with ``create``, a new key file is made when none is found
    (``lantai init``, or a service that has sealed nothing yet)."""
    value = os.environ.get("LANTAI_MASTER_KEY")
    if value and not os.environ.get("LANTAI_KEY_FILE"):
        return _decode(value, "LANTAI_MASTER_KEY")
    path = key_file(home)
    if path.exists():
        return _decode(path.read_text(encoding="ascii", errors="replace"), str(path))
    if not create:
        raise MasterKeyError(f"no master key: set LANTAI_MASTER_KEY or LANTAI_MASTER_KEY_FILE, or "
                        f"put the site's key file at {path}")
    key = os.urandom(KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(base64.b64encode(key).decode("ascii") + "\n")
    return key


def key_id(master: bytes) -> str:
    """A short public name of a master key (16 hex digits), kept in the site so that a wrong
    key is told apart from damaged data: ``lantai: error: … key 3f2a… is not this site's``."""
    return hashlib.sha256(subkey(master, "key-id")).hexdigest()[:16]


KEY_ID_FILE = Path("preservation") / "key-id"


def site_master_key(home: Path, *, create: bool = False) -> bytes:
    """The master key, checked against the id the site recorded when it was first keyed
    (``{home}/preservation/key-id``; recorded now if the site has none yet)."""
    key = master_key(home, create=create)
    recorded = Path(home) / KEY_ID_FILE
    given = key_id(key)
    try:
        expected = recorded.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        recorded.parent.mkdir(parents=True, exist_ok=True)
        tmp = recorded.with_suffix(".tmp")
        tmp.write_text(given + "\n", encoding="ascii")
        os.replace(tmp, recorded)
        return key
    if expected != given:
        raise MasterKeyError(f"the key given (id {given}) is not this site's key (id {expected})")
    return key


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
