"""What the lab supervisor runs where (pure), the internet hosts' listeners on 127.0.0.1 in this
namespace, and what `exec` adds to a program's environment; no root needed."""
from __future__ import annotations

import errno
import http.client
import json
import socket
from ipaddress import IPv4Address

import pytest

from vpcemu import load_text
from vpcemu.errors import UsageError
from vpcemu.kernel.journal import Journal
from vpcemu.lab import Lab
from vpcemu.model.internet import Listener
from vpcemu.services.aws import CLIENT_HEADER
from vpcemu.services.internet import start_host_listeners
from vpcemu.services.supervisor import HostSpec, RegionSpec, ResolverSpec, supervisor_spec

TWO_VPCS = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
    instances:
      a1: {subnet: a}
  quiet:
    cidr: 10.1.0.0/16
    enable_dns_support: false
    subnets:
      b: {cidr: 10.1.1.0/24, az: us-east-1a}
internet:
  hosts:
    ext: {ip: 198.18.0.50, listen: [tcp/80, tcp/443, tcp/7, udp/53]}
    mute: {ip: 198.18.0.51}
aws:
  services: [s3, sqs]
"""

DNS_OFF_ONLY = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    enable_dns_support: false
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
"""


def test_spec_places_each_service_in_its_namespace():
    spec = supervisor_spec(load_text(TWO_VPCS, name="t"), "lab1")
    assert spec.resolvers == (
        ResolverSpec("main", "lab1-vpc-main", ("10.0.0.2", "169.254.169.253")),
        # silent (enable_dns_support false), but bound, so queries time out as at AWS
        ResolverSpec("quiet", "lab1-vpc-quiet", ("10.1.0.2", "169.254.169.253")),
    )
    assert spec.hosts == (HostSpec("ext", "lab1-h-ext", "198.18.0.50",
                                   (Listener("tcp", 80), Listener("tcp", 443), Listener("tcp", 7),
                                    Listener("udp", 53))),)       # `mute` listens on nothing
    assert spec.region == RegionSpec("lab1-aws", "us-east-1", {"s3": ("198.19.0.10", "198.19.1.10"),
                                                               "sqs": ("198.19.4.10", "198.19.5.10")})
    assert spec.needed


def test_a_lab_with_nothing_to_serve_needs_no_supervisor():
    spec = supervisor_spec(load_text(DNS_OFF_ONLY, name="t"), "lab1")
    assert spec.hosts == () and spec.region is None and len(spec.resolvers) == 1
    assert not spec.needed


@pytest.fixture
def listeners():
    handle = None

    def start(items):
        nonlocal handle
        try:
            handle = start_host_listeners(None, "127.0.0.1", items, None, "ext")
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                pytest.skip(f"a port the test needs is taken on this host: {exc}")
            raise
        return [port for _, _, port in handle.listening]      # in the order of `items`; 0 → the port taken

    yield start
    if handle is not None:
        handle.stop()


def test_http_listener_answers_whoami(listeners):
    listeners([Listener("tcp", 8080)])
    conn = http.client.HTTPConnection("127.0.0.1", 8080, timeout=5)
    try:
        conn.request("GET", "/anything?x=1")
        r = conn.getresponse()
        body = json.load(r)
        assert r.status == 200 and r.headers[CLIENT_HEADER] == "127.0.0.1"
    finally:
        conn.close()
    assert body["client"] == "127.0.0.1" and body["host"] == "ext" and 0 < body["port"] < 65536


def test_tcp_and_udp_listeners_echo(listeners):
    tcp, udp = listeners([Listener("tcp", 0), Listener("udp", 0)])
    with socket.create_connection(("127.0.0.1", tcp), timeout=5) as s:
        s.sendall(b"hello ")
        s.sendall(b"world")
        s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(100):
            got += chunk
    assert got == b"hello world"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(5)
        u.sendto(b"ping", ("127.0.0.1", udp))
        data, sender = u.recvfrom(100)
    assert data == b"ping" and sender == ("127.0.0.1", udp)


def test_https_listener_needs_the_lab_ca():
    with pytest.raises(ValueError, match="needs the lab CA"):
        start_host_listeners(None, "127.0.0.1", [Listener("tcp", 443)], None, "ext")


def test_exec_runs_in_an_internet_host_with_the_lab_environment(tmp_path, monkeypatch):
    topology = load_text(TWO_VPCS, name="envt")
    lab = Lab("envt", topology, Journal("envt"))
    ep = lab.resolve("ext")
    assert (ep.kind, ep.namespace, ep.address) == ("internet-host", "envt-h-ext", IPv4Address("198.18.0.50"))
    argv = lab.exec_argv("ext", ["curl", "-s", "https://s3.us-east-1.amazonaws.com/"])
    assert argv[:5] == ["ip", "netns", "exec", "envt-h-ext", "env"]
    assert argv[-3:] == ["curl", "-s", "https://s3.us-east-1.amazonaws.com/"]
    assert "AWS_REGION=us-east-1" in argv
    # no CA bundle until a supervisor has written one: the program keeps the system's trust store
    assert not any(a.startswith("SSL_CERT_FILE=") for a in argv)
    monkeypatch.setattr(lab.journal, "dir", tmp_path)
    (tmp_path / "ca-bundle.pem").write_text("")
    assert f"SSL_CERT_FILE={tmp_path / 'ca-bundle.pem'}" in lab.exec_argv("a1", ["true"])
    with pytest.raises(UsageError, match="internet host"):
        lab.resolve("nowhere")
