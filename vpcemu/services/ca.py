"""A per-lab certificate authority: a CA key and self-signed certificate, and server certificates
with the SANs of the emulated services, all written under the lab's state directory."""
from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerCert:
    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        """A TLS server context with this certificate, whose connections handshake lazily."""
        ctx = _LazyHandshake(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_path, self.key_path)
        return ctx


class _LazyHandshake(ssl.SSLContext):
    """Connections accepted on a socket it wraps handshake on their first read, in the thread that
    serves them, not inside accept(): a client that never completes a handshake holds up no one else."""

    def wrap_socket(self, sock, server_side=False, do_handshake_on_connect=True, *args, **kwargs):
        return super().wrap_socket(sock, server_side, False, *args, **kwargs)


class CertificateAuthority:
    """CertificateAuthority.create(dir) or .load(dir); .issue(name, dns_names, ips) -> ServerCert."""

    def __init__(self, directory: Path, key, cert):
        self.directory = Path(directory)
        self._key = key
        self._cert = cert

    @property
    def cert_path(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def key_path(self) -> Path:
        return self.directory / "ca.key"

    @classmethod
    def create(cls, directory: Path, common_name: str = "vpcemu lab CA") -> "CertificateAuthority":
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = _dt.datetime.now(_dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - _dt.timedelta(hours=1))
                .not_valid_after(now + _dt.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        ca = cls(directory, key, cert)
        _write_key(ca.key_path, key)
        ca.cert_path.write_bytes(_pem(cert))
        return ca

    @classmethod
    def load(cls, directory: Path) -> "CertificateAuthority":
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        directory = Path(directory)
        key = load_pem_private_key((directory / "ca.key").read_bytes(), None)
        cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
        return cls(directory, key, cert)

    @classmethod
    def load_or_create(cls, directory: Path) -> "CertificateAuthority":
        return cls.load(directory) if (Path(directory) / "ca.key").exists() else cls.create(directory)

    def issue(self, name: str, dns_names: list[str], ips: list = ()) -> ServerCert:
        """A server certificate (and key) for dns_names and ips, written as <name>.pem / <name>.key."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        sans = [x509.DNSName(n) for n in dns_names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        now = _dt.datetime.now(_dt.timezone.utc)
        cn = dns_names[0] if dns_names else name
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                .issuer_name(self._cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - _dt.timedelta(hours=1))
                .not_valid_after(now + _dt.timedelta(days=825))
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                               critical=False)
                .sign(self._key, hashes.SHA256()))
        out = ServerCert(self.directory / f"{name}.pem", self.directory / f"{name}.key")
        _write_key(out.key_path, key)
        out.cert_path.write_bytes(_pem(cert) + _pem(self._cert))
        return out

    def bundle(self, path: Path | None = None) -> Path:
        """A CA bundle: the system's trust store plus the lab CA (for SSL_CERT_FILE and friends)."""
        path = Path(path or self.directory / "bundle.pem")
        system = b""
        for candidate in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"):
            if os.path.exists(candidate):
                system = Path(candidate).read_bytes()
                break
        path.write_bytes(system.rstrip(b"\n") + b"\n" + _pem(self._cert) if system else _pem(self._cert))
        return path


def _pem(cert) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding
    return cert.public_bytes(Encoding.PEM)


def _write_key(path: Path, key) -> None:
    from cryptography.hazmat.primitives import serialization
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
