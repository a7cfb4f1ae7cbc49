"""The lab CA, without root: a real TLS handshake over a socketpair verifies the issued certificate."""
from __future__ import annotations

import socket
import ssl
import threading

import pytest

from vpcemu.services.ca import CertificateAuthority


def _handshake(ca, cert, server_name):
    srv_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    srv_ctx.load_cert_chain(cert.cert_path, cert.key_path)
    cli_ctx = ssl.create_default_context(cafile=str(ca.cert_path))
    a, b = socket.socketpair()
    errors = []

    def serve():
        try:
            with srv_ctx.wrap_socket(a, server_side=True) as s:
                s.recv(1)
        except (ssl.SSLError, OSError) as e:
            errors.append(e)

    t = threading.Thread(target=serve)
    t.start()
    try:
        with cli_ctx.wrap_socket(b, server_hostname=server_name) as c:
            c.send(b"x")
    finally:
        t.join(5)


def test_issued_cert_verifies_for_its_names_and_not_others(tmp_path):
    ca = CertificateAuthority.create(tmp_path / "ca")
    cert = ca.issue("s3", ["s3.us-east-1.amazonaws.com", "*.s3.us-east-1.amazonaws.com"], ["198.19.0.10"])
    _handshake(ca, cert, "s3.us-east-1.amazonaws.com")
    _handshake(ca, cert, "bucket.s3.us-east-1.amazonaws.com")
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(ca, cert, "sqs.us-east-1.amazonaws.com")
    again = CertificateAuthority.load_or_create(tmp_path / "ca")
    assert again.cert_path.read_bytes() == ca.cert_path.read_bytes()
    assert (tmp_path / "ca" / "ca.key").stat().st_mode & 0o077 == 0
    assert ca.cert_path.read_bytes() in ca.bundle().read_bytes()
