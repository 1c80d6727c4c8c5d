"""Signed checkpoints of the history's hash chain (issue 14, item 6).

The chain alone shows that no changeset was edited, removed, reordered or inserted *unless*
whoever did it recomputed every hash after it. A checkpoint pins the chain: every
``audit_checkpoint_every`` changesets (and at ``lantai audit checkpoint``) the site signs
``{site, count, head hash, head changeset, time, previous checkpoint's SHA-256}`` with its
signing key — the seal of its certified copies (:mod:`services.requests.signing`) — and keeps
it in ``{home}/preservation/checkpoints/<count, 12 digits>.json``::

    {"format": "lantai-checkpoint/1", "statement": {...}, "algorithm": "ecdsa-with-SHA256",
     "signature": "<base64 over the statement as compact sorted ASCII JSON>",
     "certificates": ["<PEM of the signing certificate>", "<PEM of its issuer>", ...]}

Files are only ever added (written beside, fsynced, then linked to their name, which fails
if it exists; the folder fsynced), each names the one before it, and they go into every
backup: a checkpoint that has left the machine is what a rewrite cannot reach. What one does
not prove: someone holding both the signing key and the store can rewrite everything after
the last checkpoint that left the machine, and sign new checkpoints for it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import json
import logging
import os
import re
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from preservation.audit import Finding, Head, Record
from repo.durable import fsync_dir
from repo.errors import LantaiError

FORMAT = "lantai-checkpoint/1"
log = logging.getLogger(__name__)
_NAME = re.compile(r"^(\d{12})\.json$")


def folder(home: Path | str) -> Path:
    return Path(home) / "preservation" / "checkpoints"


def files(home: Path | str) -> list[Path]:
    """The checkpoint files, oldest (smallest count) first."""
    where = folder(home)
    if not where.is_dir():
        return []
    return sorted(p for p in where.iterdir() if _NAME.match(p.name))


def latest_count(home: Path | str) -> int:
    """The count of the newest checkpoint (0: none)."""
    found = files(home)
    return int(found[-1].name[:12]) if found else 0


def _signed_bytes(statement: dict) -> bytes:
    return json.dumps(statement, ensure_ascii=True, sort_keys=True,
                      separators=(",", ":")).encode("ascii")


def _sign(home: Path, data: bytes) -> tuple[str, bytes, list[x509.Certificate]]:
    """Sign with the site's signing key: (algorithm, signature, certificate chain)."""
    from services.requests.signing import load_signer

    site = load_signer(home)
    key = serialization.load_der_private_key(site.signer.signing_key.dump(), password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ecdsa-with-SHA256", key.sign(data, ec.ECDSA(hashes.SHA256())), site.chain
    if isinstance(key, rsa.RSAPrivateKey):
        return ("sha256WithRSAEncryption", key.sign(data, padding.PKCS1v15(), hashes.SHA256()),
                site.chain)
    raise LantaiError(f"the site's signing key ({type(key).__name__}) cannot sign checkpoints")


def write(home: Path | str, site: str, head: Head, *,
          now: dt.datetime | None = None) -> Path | None:
    """Sign and keep a checkpoint of ``head``. None if one of that count is there already
    (a checkpoint is never replaced) or the chain is empty."""
    home = Path(home)
    if head.length == 0:
        return None
    where = folder(home)
    where.mkdir(parents=True, exist_ok=True)
    target = where / f"{head.length:012d}.json"
    if target.exists():
        return None
    before = [p for p in files(home) if p.name < target.name]
    statement = {
        "site": site, "count": head.length, "head": head.hash, "changeset": head.changeset,
        "time": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        "previous": hashlib.sha256(before[-1].read_bytes()).hexdigest() if before else None}
    algorithm, signature, chain = _sign(home, _signed_bytes(statement))
    document = {"format": FORMAT, "statement": statement, "algorithm": algorithm,
                "signature": base64.b64encode(signature).decode("ascii"),
                "certificates": [c.public_bytes(serialization.Encoding.PEM).decode("ascii")
                                 for c in chain]}
    data = (json.dumps(document, ensure_ascii=True, indent=1) + "\n").encode("ascii")
    temporary = where / f".{target.name}.{os.getpid()}.tmp"
    try:
        with open(temporary, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, target)  # never over an existing checkpoint
        except FileExistsError:
            return None
    finally:
        temporary.unlink(missing_ok=True)
    fsync_dir(where)
    return target


# ---------------------------------------------------------------------- verifying
def trust_roots(home: Path | str, trust: Path | None = None) -> list[x509.Certificate]:
    """What a checkpoint's certificate chain must end in: the auditor's own copy of the
    roots (``--trust FILE``), else the site's ``signing/trust.pem``."""
    path = trust or Path(home) / "signing" / "trust.pem"
    if not path.exists():
        return []
    return x509.load_pem_x509_certificates(path.read_bytes())


def _check_signature(document: dict, roots: list[x509.Certificate]) -> str | None:
    """Why the signature does not hold (None: it holds and chains to a root)."""
    try:
        certs = [x509.load_pem_x509_certificate(c.encode("ascii"))
                 for c in document["certificates"]]
        signature = base64.b64decode(document["signature"], validate=True)
        data = _signed_bytes(document["statement"])
        key = certs[0].public_key()
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            return f"a {type(key).__name__} certificate is not one the site signs with"
        for child, parent in itertools.pairwise(certs):
            child.verify_directly_issued_by(parent)
    except InvalidSignature:
        return "its signature does not verify"
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        return f"its signature or certificates are unreadable ({exc})"
    top = certs[-1]
    for root in roots:
        if top == root:
            return None
        try:
            top.verify_directly_issued_by(root)
            return None
        except (InvalidSignature, ValueError, TypeError):
            continue
    return "it is not signed by the site's key (its certificate does not chain to a trusted root)"


def verify(home: Path | str, site: str, order: list[Record],
           trust: Path | None = None) -> tuple[int, list[Finding]]:
    """Check every checkpoint: signature, chain of checkpoints, and that the chain as it is
    now has, at each checkpoint's count, the head hash the checkpoint signed."""
    roots = trust_roots(home, trust)
    findings: list[Finding] = []
    previous: bytes | None = None
    good = 0  # the count of the last checkpoint that matched
    found = files(home)
    for path in found:
        count = int(path.name[:12])
        label = f"checkpoint {path.name}"
        raw = path.read_bytes()
        at = min(count, len(order)) or 1

        def broken(why: str, kind: str = "checkpoint", *, position: int = at,
                   label: str = label) -> None:
            findings.append(Finding(position, label, kind, f"{label}: {why}"))

        try:
            document = json.loads(raw)
            statement = document["statement"]
        except (ValueError, KeyError, TypeError):
            broken("unreadable")
            previous = raw
            continue
        why = _check_signature(document, roots) if roots else \
            "no trusted root to check it against (the site has no signing/trust.pem; --trust)"
        if why:
            broken(why)
        elif statement.get("site") != site:
            broken(f"it is of another site ({statement.get('site')})")
        elif statement.get("count") != count:
            broken(f"its name says {count} changesets, its statement {statement.get('count')}")
        elif statement.get("previous") != (hashlib.sha256(previous).hexdigest()
                                           if previous is not None else None):
            broken("the checkpoint before it was removed or replaced")
        elif count > len(order):
            broken(f"it signed {count} changesets but the chain has {len(order)}: changesets "
                   f"after #{len(order)} were removed", "removed", position=len(order) + 1)
        elif order[count - 1].hash != statement.get("head"):
            first = order[good] if good < len(order) else order[-1]
            broken(f"the chain's changeset #{count} is not the one it signed: the history was "
                   f"rewritten between #{good + 1} ({first.id}) and #{count}",
                   position=good + 1, label=first.id)
        else:
            good = count
        previous = raw
    return len(found), findings




# ---------------------------------------------------------------------- when to sign
def checkpoint_if_due(home: Path | str, site: str, every: int, head: Head) -> Path | None:
    """After a commit: a checkpoint when ``every`` changesets came since the last one. A
    commit never fails for it (the key may be away): it is logged, and the next commit
    tries again."""
    if head.length - latest_count(home) < every:
        return None
    try:
        return write(home, site, head)
    except (LantaiError, OSError, ValueError) as exc:
        log.warning("lantai: no checkpoint of the history at %s changesets: %s",
                    head.length, exc)
        return None


def chain_on_open(home: Path | str, site: str, store, mgmt) -> int:
    """Chain a site made before the chain (once; under the lock the opener holds), then sign
    a first checkpoint. Returns how many changesets were chained."""
    from preservation.audit import chain_existing, read_head

    chained = chain_existing(store, mgmt)
    if chained:
        checkpoint_if_due(home, site, 1, read_head(store, mgmt))
    return chained


__all__ = ["chain_on_open", "checkpoint_if_due", "files", "folder", "latest_count",
           "trust_roots", "verify", "write"]
