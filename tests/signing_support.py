"""A certification authority of the test's own, to make real PKCS#12 files (RSA, as most
commercial document-signing certificates are) for ``lantai signing import``.

    root_pem = make_p12(tmp_path / "archive.p12", b"pass phrase")
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID


def _usage(**on: bool) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment",
             "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
             "encipher_only", "decipher_only")
    return x509.KeyUsage(**{n: on.get(n, False) for n in names})


def make_p12(path: Path, passphrase: bytes | None, *, subject: str = "Test Archive Signer",
             usage: dict[str, bool] | None = None, days: tuple[int, int] = (-1, 700),
             include_key: bool = True) -> bytes:
    """Write a PKCS#12 (key, certificate, chain: an intermediate and the root) to ``path``
    and return the root certificate (PEM) a relying party would trust."""
    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Trust Services")])

    def issue(subject_name: x509.Name, key, issuer_name: x509.Name, issuer_key, *, ca: bool,
              key_usage: x509.KeyUsage, start: dt.datetime, end: dt.datetime):
        return (x509.CertificateBuilder().subject_name(subject_name).issuer_name(issuer_name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(end)
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None if not ca else 1),
                               critical=True)
                .add_extension(key_usage, critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    issuer_key.public_key()), critical=False)
                .sign(issuer_key, hashes.SHA256()))

    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    mid_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_usage = _usage(key_cert_sign=True, crl_sign=True)
    root = issue(name("Test Root CA"), root_key, name("Test Root CA"), root_key, ca=True,
                 key_usage=ca_usage, start=now - dt.timedelta(days=10),
                 end=now + dt.timedelta(days=3650))
    mid = issue(name("Test Document Signing CA"), mid_key, root.subject, root_key, ca=True,
                key_usage=ca_usage, start=now - dt.timedelta(days=10),
                end=now + dt.timedelta(days=3000))
    leaf = issue(name(subject), leaf_key, mid.subject, mid_key, ca=False,
                 key_usage=_usage(**(usage or {"digital_signature": True,
                                               "content_commitment": True})),
                 start=now + dt.timedelta(days=days[0]), end=now + dt.timedelta(days=days[1]))
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"archive", leaf_key if include_key else None, leaf, [mid, root], encryption))
    return root.public_bytes(serialization.Encoding.PEM)
