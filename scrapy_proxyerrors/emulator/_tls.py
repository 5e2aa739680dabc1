"""A self-signed certificate for the TLS target, made once per process."""

from __future__ import annotations

import atexit
import datetime
import ipaddress
import os
import shutil
import ssl
import tempfile
import threading

_lock = threading.Lock()
_paths: tuple[str, str] | None = None


def certificate_files() -> tuple[str, str]:
    """Paths of a PEM certificate and key for ``localhost`` / ``127.0.0.1``.

    Generated on first use and reused by every emulator in the process (an
    EC key takes a millisecond, but there is no reason to make hundreds of
    them in a test run); the files are removed at interpreter exit.
    """
    global _paths
    with _lock:
        if _paths is None:
            _paths = _generate()
        return _paths


def self_signed_pem(
    hostname: str = "localhost", ip: str = "127.0.0.1", days: int = 30
) -> tuple[bytes, bytes]:
    """A fresh self-signed certificate for *hostname* and *ip*: (cert PEM, key PEM)."""
    # Imported here: only the TLS target needs cryptography.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([
                x509.DNSName(hostname),
                x509.IPAddress(ipaddress.ip_address(ip)),
            ]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _generate() -> tuple[str, str]:
    cert_pem, key_pem = self_signed_pem()
    folder = tempfile.mkdtemp(prefix="proxyerrors-emulator-")
    atexit.register(shutil.rmtree, folder, True)
    cert_path = os.path.join(folder, "cert.pem")
    key_path = os.path.join(folder, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert_pem)
    with open(key_path, "wb") as f:
        f.write(key_pem)
    return cert_path, key_path


def server_context() -> ssl.SSLContext:
    """A server-side TLS context with the emulator's certificate."""
    cert, key = certificate_files()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context
