"""Key pairs for air-gapped signing, in cosign's own format so cosign can use them too.

The private key is PKCS#8 DER, encrypted with scrypt (N=65536, r=8, p=1) + NaCl secretbox
(XSalsa20-Poly1305), wrapped in the JSON document of go-securesystemslib's `encrypted` package,
in a PEM block "ENCRYPTED SIGSTORE PRIVATE KEY". The public key is a PEM SubjectPublicKeyInfo.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from supplychain.errors import SigningError, UsageError
from supplychain.strictdoc import load_json

PRIVATE_PEM_TYPE = "ENCRYPTED SIGSTORE PRIVATE KEY"
LEGACY_PRIVATE_PEM_TYPE = "ENCRYPTED COSIGN PRIVATE KEY"
PASSWORD_ENV = ("SCCHECK_KEY_PASSWORD", "COSIGN_PASSWORD")
# scrypt parameter sets go-securesystemslib accepts (legacy, standard, OWASP); we write standard.
_SCRYPT_ALLOWED = {(32768, 8, 1), (65536, 8, 1), (131072, 8, 1)}
_SCRYPT_WRITE = (65536, 8, 1)
MAX_KEY_FILE = 64 * 1024


@dataclass(frozen=True)
class KeyPairResult:
    private_key: str
    public_key: str
    key_id: str  # base64 sha256 of the DER public key: the bundle's publicKey hint


def password_from_env() -> str | None:
    for name in PASSWORD_ENV:
        value = os.environ.get(name)
        if value is not None:
            return value
    return None


def _scrypt_key(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=32, maxmem=256 * 1024 * 1024)


def encrypt_private_key(key: ec.EllipticCurvePrivateKey, password: str) -> bytes:
    from nacl.secret import SecretBox

    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    salt, nonce = secrets.token_bytes(32), secrets.token_bytes(24)
    n, r, p = _SCRYPT_WRITE
    box = SecretBox(_scrypt_key(password.encode(), salt, n, r, p))
    ciphertext = box.encrypt(der, nonce).ciphertext
    doc = {
        "kdf": {"name": "scrypt", "params": {"N": n, "r": r, "p": p},
                "salt": base64.b64encode(salt).decode()},
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }
    body = base64.encodebytes(json.dumps(doc, separators=(",", ":")).encode()).decode()
    lines = "".join(body.split("\n"))
    wrapped = "\n".join(lines[i:i + 64] for i in range(0, len(lines), 64))
    return f"-----BEGIN {PRIVATE_PEM_TYPE}-----\n{wrapped}\n-----END {PRIVATE_PEM_TYPE}-----\n".encode()


def _pem_body(data: bytes, path: str) -> bytes:
    text = data.decode("ascii", errors="replace")
    for pem_type in (PRIVATE_PEM_TYPE, LEGACY_PRIVATE_PEM_TYPE):
        begin, end = f"-----BEGIN {pem_type}-----", f"-----END {pem_type}-----"
        if begin in text and end in text:
            inner = text.split(begin, 1)[1].split(end, 1)[0]
            try:
                return base64.b64decode("".join(inner.split()), validate=True)
            except ValueError:
                break
    raise UsageError(
        f"{path} is not an encrypted sigstore/cosign private key",
        expected=f"a PEM block '{PRIVATE_PEM_TYPE}' (from 'sccheck generate-key-pair' or "
                 "'cosign generate-key-pair')",
        found=text.split("\n", 1)[0][:80],
    )


def decrypt_private_key(data: bytes, password: str, path: str = "the key") -> ec.EllipticCurvePrivateKey:
    from nacl.exceptions import CryptoError
    from nacl.secret import SecretBox

    try:
        doc = load_json(_pem_body(data, path), path, error=UsageError)
        kdf, cipher = doc["kdf"], doc["cipher"]
        params = (int(kdf["params"]["N"]), int(kdf["params"]["r"]), int(kdf["params"]["p"]))
        salt = base64.b64decode(kdf["salt"])
        nonce = base64.b64decode(cipher["nonce"])
        ciphertext = base64.b64decode(doc["ciphertext"])
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path} is a malformed encrypted key ({type(exc).__name__})") from None
    if kdf.get("name") != "scrypt" or cipher.get("name") != "nacl/secretbox" or params not in _SCRYPT_ALLOWED:
        raise UsageError(f"{path} uses an unsupported key encryption",
                         expected="scrypt (N 2^15..2^17, r=8, p=1) + nacl/secretbox",
                         found=f"{kdf.get('name')} {params} + {cipher.get('name')}")
    try:
        der = SecretBox(_scrypt_key(password.encode(), salt, *params)).decrypt(ciphertext, nonce)
    except CryptoError:
        raise UsageError(f"cannot decrypt {path}: wrong password",
                         fix="set SCCHECK_KEY_PASSWORD (or COSIGN_PASSWORD) to the key's password") from None
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise UsageError(f"{path} is not an ECDSA P-256 key", expected="ECDSA P-256",
                         found=type(key).__name__)
    return key


def key_hint(public_key: ec.EllipticCurvePublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def public_pem(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def generate_key_pair(output_prefix: str | os.PathLike[str], password: str) -> KeyPairResult:
    """Write PREFIX.key (encrypted) and PREFIX.pub; refuses to overwrite either."""
    if password is None:
        raise UsageError("no password for the private key", fix="set SCCHECK_KEY_PASSWORD")
    prefix = Path(output_prefix)
    private_path, public_path = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    for path in (private_path, public_path):
        if path.exists():
            raise UsageError(f"{path} already exists", expected="a new key pair location",
                             fix="remove the old key pair or pass another --output-prefix")
    key = ec.generate_private_key(ec.SECP256R1())
    encrypted = encrypt_private_key(key, password)
    try:
        private_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(encrypted)
            tmp = public_path.with_name(f".{public_path.name}.tmp")
            tmp.write_bytes(public_pem(key.public_key()))
            os.replace(tmp, public_path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                private_path.unlink()
            raise
    except OSError as exc:
        raise UsageError(f"cannot write the key pair at {prefix}: {exc.strerror}") from None
    return KeyPairResult(str(private_path), str(public_path), key_hint(key.public_key()))


_DECRYPTED: dict[tuple[bytes, bytes], ec.EllipticCurvePrivateKey] = {}
_DECRYPTED_LOCK = threading.Lock()


def load_signing_key(path: str | os.PathLike[str], password: str | None) -> ec.EllipticCurvePrivateKey:
    file = Path(path)
    try:
        if file.stat().st_size > MAX_KEY_FILE:
            raise UsageError(f"{file} is too large to be a key file")
        data = file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the key {file}: {exc.strerror}",
                         fix="pass the PREFIX.key written by 'sccheck generate-key-pair'") from None
    if password is None:
        raise UsageError(f"no password for {file}",
                         fix="set SCCHECK_KEY_PASSWORD (or COSIGN_PASSWORD), or run interactively")
    # The key's scrypt costs a third of a second by design; a process that signs many times (a
    # promotion batch's summaries, build-and-sign's attestations) pays it once per key file
    # content and password. Only a key that decrypted is kept, in this process's memory only.
    cache_key = (hashlib.sha256(data).digest(), hashlib.sha256(data + b"\0" + password.encode()).digest())
    with _DECRYPTED_LOCK:      # held while decrypting: parallel lanes wait for the one scrypt
        found = _DECRYPTED.get(cache_key)
        if found is None:
            found = _DECRYPTED[cache_key] = decrypt_private_key(data, password, str(file))
    return found


def sign_bytes(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
    try:  # paranoia: never publish a signature we cannot verify
        key.public_key().verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SigningError("the key produced a signature that does not verify") from None
    return signature
