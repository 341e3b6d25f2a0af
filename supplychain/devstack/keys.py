"""Persistent keys and certificates of the dev-stack, made once with `cryptography`.

Reusing them across restarts is what keeps bundles made yesterday verifiable today.

    fulcio-ca.pem / .key / .pass   Fulcio's self-signed root (ECDSA P-256; the key is an
                                   encrypted PKCS#8 PEM, its password beside it, mode 0600)
    ct.key / ct.pub                the CT log's key (SEC1 "EC PRIVATE KEY", as TesseraCT wants)
    rekor.key / rekor.pub          the Rekor v2 checkpoint and entry signer (PKCS#8)
    tsa.key / tsa-chain.pem        the timestamp authority's leaf key; chain = leaf + root
    oidc.key                       RSA key of our OIDC issuer (RS256 tokens)
    actions-request-token          the bearer secret of the GitHub-Actions-shaped token endpoint
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from supplychain.devstack.state import StateDir, write_atomic
from supplychain.errors import DevStackError
from supplychain.fsutil import SECRET_MODE

ORGANIZATION = "sccheck dev-stack"
FULCIO_CN = "sccheck dev-stack Fulcio root"
TSA_ROOT_CN = "sccheck dev-stack TSA root"
TSA_LEAF_CN = "sccheck dev-stack TSA"
VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True)
class KeyPaths:
    fulcio_cert: Path
    fulcio_key: Path
    fulcio_pass: Path
    ct_key: Path
    ct_pub: Path
    rekor_key: Path
    rekor_pub: Path
    tsa_key: Path
    tsa_chain: Path
    oidc_key: Path
    actions_token: Path

    @classmethod
    def of(cls, state: StateDir) -> KeyPaths:
        k = state.keys
        return cls(k / "fulcio-ca.pem", k / "fulcio-ca.key", k / "fulcio-ca.pass", k / "ct.key",
                   k / "ct.pub", k / "rekor.key", k / "rekor.pub", k / "tsa.key", k / "tsa-chain.pem",
                   k / "oidc.key", k / "actions-request-token")

    def all(self) -> tuple[Path, ...]:
        return (self.fulcio_cert, self.fulcio_key, self.fulcio_pass, self.ct_key, self.ct_pub,
                self.rekor_key, self.rekor_pub, self.tsa_key, self.tsa_chain, self.oidc_key,
                self.actions_token)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_private(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
                 fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8,
                 password: bytes | None = None) -> bytes:
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, fmt, enc)


def _pem_public(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def _ca_cert(key: ec.EllipticCurvePrivateKey, cn: str, now: dt.datetime, *,
             code_signing: bool = False) -> x509.Certificate:
    builder = (x509.CertificateBuilder()
               .subject_name(_name(cn)).issuer_name(_name(cn))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + VALIDITY)
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=True, crl_sign=True,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    if code_signing:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]),
                                        critical=False)
    return builder.sign(key, hashes.SHA256())


def _tsa_leaf(key: ec.EllipticCurvePrivateKey, root_key: ec.EllipticCurvePrivateKey,
              root: x509.Certificate, now: dt.datetime) -> x509.Certificate:
    return (x509.CertificateBuilder()
            .subject_name(_name(TSA_LEAF_CN)).issuer_name(root.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False, crl_sign=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            # RFC 3161 2.3: exactly one EKU, timeStamping, marked critical
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                           critical=False)
            .sign(root_key, hashes.SHA256()))


def ensure_keys(state: StateDir) -> tuple[KeyPaths, bool]:
    """Create every key that is missing; return the paths and whether anything was created.

    All keys are made together: a half-made set (a crash in the middle) is remade whole, since
    nothing can have been signed against an incomplete stack.
    """
    paths = KeyPaths.of(state)
    if all(p.is_file() for p in paths.all()):
        return paths, False
    if paths.fulcio_cert.is_file():
        missing = [p.name for p in paths.all() if not p.is_file()]
        raise DevStackError(
            "the dev-stack's key set is incomplete",
            expected=f"every key file in {state.keys}",
            found=f"missing: {', '.join(missing)}",
            fix=f"restore them, or remove {state.root} to start a new stack (old bundles will "
                "no longer verify against it)",
        )
    state.ensure()
    now = dt.datetime.now(dt.UTC)

    fulcio_key = ec.generate_private_key(ec.SECP256R1())
    password = secrets.token_urlsafe(24).encode()
    fulcio_cert = _ca_cert(fulcio_key, FULCIO_CN, now)
    ct_key = ec.generate_private_key(ec.SECP256R1())
    rekor_key = ec.generate_private_key(ec.SECP256R1())
    tsa_root_key = ec.generate_private_key(ec.SECP256R1())
    tsa_root = _ca_cert(tsa_root_key, TSA_ROOT_CN, now)
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa_leaf = _tsa_leaf(tsa_key, tsa_root_key, tsa_root, now)
    oidc_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    secret = SECRET_MODE
    write_atomic(paths.fulcio_pass, password, secret)
    write_atomic(paths.fulcio_key, _pem_private(fulcio_key, password=password), secret)
    write_atomic(paths.ct_key, _pem_private(ct_key, serialization.PrivateFormat.TraditionalOpenSSL),
                 secret)
    write_atomic(paths.ct_pub, _pem_public(ct_key))
    write_atomic(paths.rekor_key, _pem_private(rekor_key), secret)
    write_atomic(paths.rekor_pub, _pem_public(rekor_key))
    write_atomic(paths.tsa_key, _pem_private(tsa_key), secret)
    write_atomic(paths.tsa_chain, tsa_leaf.public_bytes(serialization.Encoding.PEM)
                 + tsa_root.public_bytes(serialization.Encoding.PEM))
    write_atomic(paths.oidc_key, _pem_private(oidc_key), secret)
    write_atomic(paths.actions_token, secrets.token_urlsafe(32), secret)
    # the CA certificate last: its presence marks a complete set
    write_atomic(paths.fulcio_cert, fulcio_cert.public_bytes(serialization.Encoding.PEM))
    return paths, True


def spki_der(pub_pem: bytes) -> bytes:
    key = serialization.load_pem_public_key(pub_pem)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def log_id(pub_pem: bytes) -> bytes:
    """A log's id as Sigstore clients compute it: sha256 of the DER SubjectPublicKeyInfo."""
    return hashlib.sha256(spki_der(pub_pem)).digest()


def load_certs(pem: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem)
