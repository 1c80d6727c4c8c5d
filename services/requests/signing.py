"""The site's signing key and certificate chain: the archive's seal for certified copies.

A site signs with one of two things:

- a **local CA** that :func:`ensure_site_signer` makes for a site that has none (``lantai
  init``, or lazily before the first copy): a root (ECDSA P-256, 10 years) and a signing
  certificate issued by it for the archive (subject: the site's names; key usage
  digitalSignature + nonRepudiation; 3 years). Relying parties trust the root
  (``lantai signing ca -o FILE``). Good for test and demo sites, and for an archive whose
  verifiers are told which root to trust;
- a **real certificate** from a PKCS#12 file (:func:`import_pkcs12`, ``lantai signing
  import``): key, certificate and chain from a CA that Adobe Reader or a national trust list
  already trusts. Its key usage and validity are checked before anything is replaced.

The private keys are the archive's seal and are kept like the master key (DESIGN.md,
decision 8): sealed (AES-256-GCM) with a key derived from the site master key, which lives
outside the site folder. Only certificates are in clear. Layout of ``{home}/signing/``::

    signer.sealed   key + certificate + chain (DER, JSON), sealed: what load_signer reads
    ca.sealed       the local CA's key and certificate, sealed (local CA only)
    signer.pem      the signing certificate          (clear, for people and tools)
    chain.pem       the certificates above it        (clear)
    trust.pem       what a relying party must trust  (clear; ``lantai signing ca``)
    seal.png        optional: the seal image printed on the cover (see certify)

Why ECDSA P-256: signatures and key generation in milliseconds (a site's CA is made at
``lantai init`` and in every test site), and supported by pyHanko, poppler/NSS and Adobe
Reader alike.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from preservation import keys
from repo.config import read_settings
from repo.durable import write_atomically
from repo.errors import Invalid, NotFound

FOLDER = "signing"
SIGNER_SEALED = "signer.sealed"
CA_SEALED = "ca.sealed"
CA_YEARS = 10
SIGNER_DAYS = 3 * 365
MAX_P12_BYTES = 1 << 20  # a PKCS#12 with a long chain is a few KB; refuse anything absurd
_SUBKEY = "signing/seal"

if TYPE_CHECKING:  # pyHanko takes a second to import: only the code that signs loads it
    from pyhanko.sign.signers import SimpleSigner


@dataclass
class SiteSigner:
    """What signs a certified copy: the pyHanko signer, its certificate's subject, and the
    chain (signing certificate first, then the certificates above it)."""

    signer: SimpleSigner
    subject: str
    chain: list[x509.Certificate]

    @property
    def certificate(self) -> x509.Certificate:
        return self.chain[0]


# ---------------------------------------------------------------------- paths and sealing
def folder(home: Path | str) -> Path:
    return Path(home) / FOLDER


def _has_other_sealed_data(home: Path) -> bool:
    """True if something was sealed with the site key already (then a missing key is an
    error, not a reason to make a new one)."""
    db = home / "requests" / "requests.sqlite3"
    return (db.exists() and db.stat().st_size > 0) or any(
        (folder(home) / name).exists() for name in (SIGNER_SEALED, CA_SEALED))


def _seal_key(home: Path, *, create: bool = False) -> bytes:
    master = keys.site_master_key(home, create=create and not _has_other_sealed_data(home))
    return keys.subkey(master, _SUBKEY)


def _write_sealed(home: Path, name: str, value: dict) -> None:
    data = json.dumps(value).encode("ascii")
    write_atomically(folder(home) / name,
                     keys.seal(_seal_key(home, create=True), data, f"signing/{name}"))


def _read_sealed(home: Path, name: str) -> dict:
    path = folder(home) / name
    if not path.exists():
        raise NotFound(f"this site has no signing key ({path} is missing): "
                       "run `lantai signing import` or let `lantai init` make a local CA")
    return json.loads(keys.unseal(_seal_key(home), path.read_bytes(), f"signing/{name}"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _der_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem(certs: list[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    """One process at a time makes or replaces a site's signer (two lazy first copies in
    two server processes must not make two CAs)."""
    folder(home).mkdir(parents=True, exist_ok=True)
    with open(folder(home) / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _store(home: Path, key: object, chain: list[x509.Certificate],
           trust: list[x509.Certificate]) -> None:
    """Keep a signer: the sealed bundle first (what signs), then the clear certificates."""
    assert isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey))
    _write_sealed(home, SIGNER_SEALED, {
        "key": _b64(_der_key(key)),
        "chain": [_b64(c.public_bytes(serialization.Encoding.DER)) for c in chain]})
    write_atomically(folder(home) / "signer.pem", _pem(chain[:1]))
    write_atomically(folder(home) / "chain.pem", _pem(chain[1:]))
    write_atomically(folder(home) / "trust.pem", _pem(trust))
    _cache.pop(str(Path(home).resolve()), None)


# ---------------------------------------------------------------------- the local CA
def _names(home: Path) -> tuple[str, str]:
    settings = read_settings(home)
    return settings.site_name_zh, settings.site_name_en


def has_signer(home: Path | str) -> bool:
    return (folder(home) / SIGNER_SEALED).exists()


def ensure_site_signer(home: Path | str) -> None:
    """Make a local CA and a signing certificate for a site that has no signer (``lantai
    init``; lazily before a first copy). A site that has one is left alone."""
    home = Path(home)
    if has_signer(home):
        return
    with _locked(home):
        if has_signer(home):
            return
        zh, en = _names(home)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{en} Local CA"),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{zh} {en}")])
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(minutes=5))
              .not_valid_after(now + dt.timedelta(days=CA_YEARS * 365 + 2))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(
                  digital_signature=False, content_commitment=False, key_encipherment=False,
                  data_encipherment=False, key_agreement=False, key_cert_sign=True,
                  crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, en),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, zh),
                             x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME,
                                                "Certified copies")])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=SIGNER_DAYS))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                               critical=True)
                .add_extension(x509.KeyUsage(
                    digital_signature=True, content_commitment=True, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=False,
                    crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca_key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256()))
        _write_sealed(home, CA_SEALED, {
            "key": _b64(_der_key(ca_key)),
            "cert": _b64(ca.public_bytes(serialization.Encoding.DER))})
        _store(home, key, [cert, ca], [ca])


# ---------------------------------------------------------------------- reading
_cache: dict[str, tuple[float, SiteSigner]] = {}


def load_signer(home: Path | str) -> SiteSigner:
    """The site's signer (made first if the site has none), unsealed once per process and
    again when the signer file changes."""
    home = Path(home)
    ensure_site_signer(home)
    path = folder(home) / SIGNER_SEALED
    key = str(home.resolve())
    stamp = path.stat().st_mtime_ns
    found = _cache.get(key)
    if found is not None and found[0] == stamp:
        return found[1]
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    bundle = _read_sealed(home, SIGNER_SEALED)
    ders = [base64.b64decode(c) for c in bundle["chain"]]
    chain = [x509.load_der_x509_certificate(d) for d in ders]
    asn1_chain = [asn1_x509.Certificate.load(d) for d in ders]
    signer = signers.SimpleSigner(
        signing_cert=asn1_chain[0],
        signing_key=asn1_keys.PrivateKeyInfo.load(base64.b64decode(bundle["key"])),
        cert_registry=SimpleCertificateStore.from_certs(asn1_chain[1:]))
    site = SiteSigner(signer=signer, subject=chain[0].subject.rfc4514_string(), chain=chain)
    _cache[key] = (stamp, site)
    return site


def trust_roots(home: Path | str) -> list[bytes]:
    """PEM of each certificate a relying party must trust to validate the site's
    signatures (the local CA's root, or the top of an imported chain)."""
    home = Path(home)
    ensure_site_signer(home)
    data = (folder(home) / "trust.pem").read_bytes()
    return [c.public_bytes(serialization.Encoding.PEM)
            for c in x509.load_pem_x509_certificates(data)]


def describe(home: Path | str) -> dict[str, str]:
    """What ``lantai signing show`` prints: subject, issuer, validity, SHA-256 fingerprint."""
    home = Path(home)
    path = folder(home) / "signer.pem"
    if not path.exists():
        raise NotFound("this site has no signing certificate yet "
                       "(`lantai signing import FILE.p12`, or `lantai init` makes one)")
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return {"subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": cert.not_valid_after_utc.isoformat(),
            "sha256": cert.fingerprint(hashes.SHA256()).hex(":").upper(),
            "kind": "local CA" if (folder(home) / CA_SEALED).exists() else "imported"}


# ---------------------------------------------------------------------- import
def import_pkcs12(home: Path | str, path: Path | str, passphrase: bytes | str | None) -> str:
    """Replace the site's signer by the key, certificate and chain of a PKCS#12 file;
    returns the new subject. Refused (:class:`Invalid`, one line) before anything changes:
    an unreadable file or wrong passphrase, no key or no certificate, a key that is not the
    certificate's, a certificate not valid now, or one whose key usage allows neither
    digitalSignature nor nonRepudiation."""
    home, path = Path(home), Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise Invalid(f"{path.name}: cannot read ({exc.strerror})") from None
    if size > MAX_P12_BYTES:
        raise Invalid(f"{path.name}: {size:,} bytes is not a PKCS#12 certificate file")
    secret = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    try:
        bundle = pkcs12.load_pkcs12(path.read_bytes(), secret or None)
    except (ValueError, TypeError) as exc:
        reason = " ".join(str(exc).split()) or "unreadable"
        raise Invalid(f"{path.name}: not a PKCS#12 file this passphrase opens ({reason})"
                      ) from None
    key = bundle.key
    if key is None or bundle.cert is None:
        raise Invalid(f"{path.name}: a signing PKCS#12 holds a private key and its "
                      "certificate (this one has " +
                      ("no key" if key is None else "no certificate") + ")")
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise Invalid(f"{path.name}: the key is {type(key).__name__}; RSA or ECDSA signs "
                      "PAdES signatures that every reader checks")
    cert = bundle.cert.certificate
    if cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
            key.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo):
        raise Invalid(f"{path.name}: the private key does not belong to the certificate")
    now = dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise Invalid(f"{path.name}: the certificate is valid from "
                      f"{cert.not_valid_before_utc:%Y-%m-%d} to "
                      f"{cert.not_valid_after_utc:%Y-%m-%d}, not now")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not (usage.digital_signature or usage.content_commitment):
        raise Invalid(f"{path.name}: the certificate's key usage allows neither "
                      "digitalSignature nor nonRepudiation: it cannot sign documents")
    others = [c.certificate for c in bundle.additional_certs]
    chain = [cert, *_order_chain(cert, others)]
    roots = [c for c in chain if c.issuer == c.subject] or chain[-1:]
    with _locked(home):
        _store(home, key, chain, roots)
        (folder(home) / CA_SEALED).unlink(missing_ok=True)  # the local CA signs no more
    return cert.subject.rfc4514_string()


def _order_chain(leaf: x509.Certificate,
                 others: list[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates above ``leaf``, issuer by issuer; any the path does not use after."""
    out: list[x509.Certificate] = []
    todo = list(others)
    current = leaf
    while current.issuer != current.subject:
        parent = next((c for c in todo if c.subject == current.issuer), None)
        if parent is None:
            break
        out.append(parent)
        todo.remove(parent)
        current = parent
    return out + todo


def pem_of(certs: list[x509.Certificate]) -> bytes:
    return _pem(certs)


__all__ = ["SiteSigner", "describe", "ensure_site_signer", "has_signer", "import_pkcs12",
           "load_signer", "pem_of", "trust_roots"]
