"""The edge with real packets: IGW 1:1 NAT, public IPs and EIPs, NAT gateways, the emulated internet,
VPC peering without transit, and live EIP / NAT gateway / route changes.

Probes carry a token in their payload, so each hop's capture shows the same packet before and after
each translation; an internet host's `h<j>` link in the core shows what the internet really saw."""
from __future__ import annotations

import os
from ipaddress import IPv4Address

import pytest

from vpcemu.lab import Lab
from vpcemu.load import load_text
from vpcemu.ops import elastic_ip, nat_gateway, route_table

from kernel_clients import BOTO, WHOAMI, http_server, run

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root")]

EDGE = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    internet_gateway: igw
    subnets:
      public-a:  {cidr: 10.0.0.0/24, az: us-east-1a, route_table: public}
      private-a: {cidr: 10.0.1.0/24, az: us-east-1a, route_table: private-a}
      public-b:  {cidr: 10.0.2.0/24, az: us-east-1b, route_table: public}
      private-b: {cidr: 10.0.3.0/24, az: us-east-1b, route_table: private-b}
    route_tables:
      public:    {routes: [{destination: 0.0.0.0/0, target: igw}]}
      private-a: {routes: [{destination: 0.0.0.0/0, target: nat-a}]}
      private-b: {routes: [{destination: 0.0.0.0/0, target: nat-b}]}
    nat_gateways:
      nat-a: {subnet: public-a, eip: 198.51.100.20}
      nat-b: {subnet: public-b, eip: 198.51.100.21}
    security_groups:
      web: {ingress: [{protocol: tcp, ports: 80, source: 0.0.0.0/0}, {protocol: icmp, source: 0.0.0.0/0}]}
    instances:
      web:   {subnet: public-a, private_ip: 10.0.0.10, eip: 198.51.100.10, security_groups: [web]}
      auto:  {subnet: public-b, private_ip: 10.0.2.10, public_ip: true, security_groups: [web]}
      nopub: {subnet: public-a, private_ip: 10.0.0.11, security_groups: [web]}
      app-a: {subnet: private-a, private_ip: 10.0.1.10, security_groups: [web]}
      app-b: {subnet: private-b, private_ip: 10.0.3.10, security_groups: [web]}
      standby: {subnet: public-a, private_ip: 10.0.0.12, security_groups: [web]}
    network_interfaces:
      vip: {subnet: public-a, private_ips: [10.0.0.50], eips: {10.0.0.50: 198.51.100.40}, security_groups: [web],
            attachment: {instance: web, device_index: 1}}
internet:
  hosts:
    ext: {ip: 198.18.0.50, listen: [tcp/80, tcp/443, tcp/7, udp/7]}
aws:
  services: [s3, sqs]
"""

PEERED = """
format: 1
vpcs:
  a:
    cidr: 10.1.0.0/16
    internet_gateway: igw-a
    subnets:
      pub: {cidr: 10.1.0.0/24, az: us-east-1a, route_table: pub}
      priv: {cidr: 10.1.1.0/24, az: us-east-1a, route_table: priv}
    route_tables:
      pub:  {routes: [{destination: 0.0.0.0/0, target: igw-a}, {destination: 10.2.0.0/16, target: ab}]}
      priv: {routes: [{destination: 0.0.0.0/0, target: nat-a}, {destination: 10.2.0.0/16, target: ab}]}
    nat_gateways: {nat-a: {subnet: pub, eip: 198.51.100.20}}
    security_groups: {open: {ingress: [{protocol: all, source: 10.0.0.0/8}]}}
    instances:
      a1: {subnet: priv, private_ip: 10.1.1.10, security_groups: [open]}
  b:
    cidr: 10.2.0.0/16
    subnets: {s: {cidr: 10.2.1.0/24, az: us-east-1a, route_table: r}}
    route_tables:
      r: {routes: [{destination: 10.1.0.0/16, target: ab}, {destination: 10.3.0.0/16, target: bc},
                   {destination: 0.0.0.0/0, target: ab}]}
    security_groups:
      open: {ingress: [{protocol: all, source: 10.0.0.0/8}]}
      from-a: {ingress: [{protocol: tcp, ports: 22, source: sg:a/open}]}
    instances:
      b1: {subnet: s, private_ip: 10.2.1.10, security_groups: [open]}
      b2: {subnet: s, private_ip: 10.2.1.11, security_groups: [from-a]}
  c:
    cidr: 10.3.0.0/16
    subnets: {s: {cidr: 10.3.1.0/24, az: us-east-1a, route_table: r}}
    route_tables:
      r: {routes: [{destination: 10.2.0.0/16, target: bc}, {destination: 10.1.0.0/16, target: bc}]}
    security_groups: {open: {ingress: [{protocol: all, source: 10.0.0.0/8}]}}
    instances:
      c1: {subnet: s, private_ip: 10.3.1.10, security_groups: [open]}
peering:
  ab: {requester: a, accepter: b}
  bc: {requester: b, accepter: c}
internet:
  hosts:
    ext: {ip: 198.18.0.50}
"""

EXT = "198.18.0.50"


@pytest.fixture(scope="module")
def edge():
    with Lab.up(load_text(EDGE, name="edge"), name=f"ed{os.getpid() % 100000}") as lab:
        yield lab


@pytest.fixture
def fresh():
    """A lab of its own for tests that change it."""
    with Lab.up(load_text(EDGE, name="edge"), name=f"ef{os.getpid() % 100000}") as lab:
        yield lab


def seen_by_internet(result):
    """(source, source port) of the probe as it left the core towards the internet host."""
    hop = next(h for h in result.hops if h.leg == "forward" and h.component.startswith("internet host"))
    return hop.source, hop.source_port


def codes(result) -> set[str]:
    return {e["code"] for e in result.explanations}


def test_eip_instance_is_seen_as_its_eip_and_sees_only_its_private_ip(edge):
    r = edge.probe("web", EXT, protocol="tcp", port=80)
    assert r.reachable
    assert seen_by_internet(r)[0] == "198.51.100.10"
    assert r.header_at_source["src"] == "10.0.0.10"
    addrs = edge.exec("web", ["ip", "-4", "-o", "addr", "show", "dev", "eth0"], check=True).stdout
    assert "10.0.0.10/24" in addrs and "198.51.100" not in addrs
    igw = [h for h in r.hops if h.namespace.endswith("-igw-main") and h.leg == "forward"]
    assert [(h.ifname, h.source) for h in igw] == [("vpc", "10.0.0.10"), ("inet", "198.51.100.10")]


def test_real_clients_are_seen_by_their_public_address(edge):
    seen = run(edge, "web", WHOAMI, "http://ext/")
    assert seen["client"] == "198.51.100.10"
    seen = run(edge, "app-a", WHOAMI, "https://ext/")          # TLS from the lab CA, name from the resolver
    assert seen["client"] == "198.51.100.20" and 1024 <= seen["port"] <= 65535
    # and the way in: the internet fetches from a server on web's EIP (web's SG allows tcp/80)
    with http_server(edge, "web", "10.0.0.10", 80):
        r = edge.exec("ext", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://198.51.100.10/"])
        assert r.stdout == "200", r.stderr


def test_boto3_in_an_instance_with_internet_access_uses_the_region(edge):
    out = run(edge, "web", BOTO, "bkt-web", "q-web")            # EIP: straight out through the IGW
    assert out["s3"] == {"body": "hello", "client": "198.51.100.10"}
    assert out["sqs"] == {"body": "m1", "client": "198.51.100.10"}
    out = run(edge, "app-b", BOTO, "bkt-app-b", "q-app-b")      # private: through nat-b
    assert out["s3"]["client"] == out["sqs"]["client"] == "198.51.100.21"


def test_auto_assigned_public_ip_comes_from_the_pool(edge):
    public = edge.topology.network_interface("auto.eth0").public_ip_address
    assert public is not None and IPv4Address(public) in edge.topology.addressing.public[0]
    assert seen_by_internet(edge.probe("auto", EXT, protocol="udp", port=7))[0] == str(public)


def test_public_subnet_without_public_ip_cannot_reach_the_internet(edge):
    r = edge.probe("nopub", EXT, protocol="tcp", port=80)
    assert not r.reachable
    assert codes(r) == {"IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS"}
    assert not any(h.component.startswith("internet host") for h in r.hops)


def test_private_subnet_goes_out_through_its_azs_nat_gateway(edge):
    for source, nat, eip in (("app-a", "nat-a", "198.51.100.20"), ("app-b", "nat-b", "198.51.100.21")):
        r = edge.probe(source, EXT, protocol="tcp", port=80)
        assert r.reachable, r
        address, port = seen_by_internet(r)
        assert address == eip and 1024 <= port <= 65535
        components = [h.component for h in r.hops if h.leg == "forward"]
        assert f"nat-gateway {nat}" in components
        assert components.index(f"nat-gateway {nat}") < len(components) - 1 - components[::-1].index("igw igw")
        nat_hops = [h for h in r.hops if h.component == f"nat-gateway {nat}" and h.leg == "forward"]
        assert [h.direction for h in nat_hops] == ["in", "out"]
        assert nat_hops[1].source == str(edge.topology.network_interface(f"{nat}.eni").private_ip_address)


def ping(lab, source: str, destination: str, packet: int, df: bool = True):
    """One ICMP echo whose IP packet is `packet` bytes (payload + 28), DF set or not; stdout and stderr as one."""
    r = lab.exec(source, ["ping", "-n", "-c", "1", "-W", "5", "-M", "do" if df else "dont", "-s", str(packet - 28),
                          destination])
    return r.returncode, r.stdout + r.stderr


def path_mtu(lab, source: str, destination: str) -> str:
    """The source's route to `destination` as `ip route get` shows it: the route cache line holds a learned MTU."""
    return lab.exec(source, ["ip", "route", "get", destination], check=True).stdout


TCP_ECHO = r"""
import json, socket, sys
data = bytes(range(256)) * 80                   # 20 kB: many full-sized segments each way
with socket.create_connection((sys.argv[1], 7), timeout=5) as s:
    s.sendall(data)
    got = b""
    while len(got) < len(data) and (chunk := s.recv(65536)):
        got += chunk
    print(json.dumps({"echoed": got == data, "mss": s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)}))
"""


def test_instances_exchange_9001_byte_jumbo_frames_in_their_vpc(edge):
    for target in ("10.0.0.10", "10.0.1.10"):                  # web in the same subnet, app-a in another
        status, out = ping(edge, "nopub", target, 9001)
        assert status == 0, out
    status, out = ping(edge, "nopub", "10.0.0.10", 9002)
    assert status != 0 and "mtu=9001" in out                   # the ENI's own MTU: 9001, not more


def test_over_the_internet_gateway_1500_bytes_bigger_is_fragmented_or_refused_with_frag_needed(edge):
    status, out = ping(edge, "auto", EXT, 4000, df=False)      # no DF: the IGW fragments it
    assert status == 0, out
    assert "mtu" not in path_mtu(edge, "auto", EXT)
    status, out = ping(edge, "auto", EXT, 1501)
    assert status != 0 and "Frag needed and DF set (mtu = 1500)" in out, out
    assert "mtu 1500" in path_mtu(edge, "auto", EXT)           # path MTU discovery: the instance learned it
    status, out = ping(edge, "auto", EXT, 1500)
    assert status == 0, out
    # TCP needs no fragment: the internet host's MSS keeps every segment within 1500 bytes
    echo = run(edge, "auto", TCP_ECHO, EXT)
    assert echo["echoed"] and echo["mss"] <= 1460


def test_a_nat_gateway_takes_8500_bytes_and_relays_path_mtu_discovery(edge):
    status, out = ping(edge, "app-b", EXT, 8501)
    assert status != 0 and "Frag needed and DF set (mtu = 8500)" in out, out
    assert "mtu 8500" in path_mtu(edge, "app-b", EXT)
    # 8500 pass the NAT gateway; the IGW refuses them, and its frag-needed finds its way back through the NAT
    status, out = ping(edge, "app-b", EXT, 8500)
    assert status != 0 and "Frag needed and DF set (mtu = 1500)" in out, out
    assert "mtu 1500" in path_mtu(edge, "app-b", EXT)


def test_the_internet_reaches_an_eip_only_where_the_sg_allows(edge):
    assert edge.probe("ext", "198.51.100.10", protocol="tcp", port=80).reachable
    r = edge.probe("ext", "198.51.100.10", protocol="tcp", port=22)
    assert not r.reachable and codes(r) == {"ENI_SG_RULES_MISMATCH"}
    at_web = [h for h in r.hops if h.namespace.endswith("-vpc-main")]
    assert at_web and all(h.destination == "10.0.0.10" for h in at_web)      # translated at the IGW


def test_nothing_from_the_internet_reaches_private_instances_or_the_nat_gateway(edge):
    r = edge.probe("ext", "198.51.100.99", protocol="tcp", port=80)          # an address nobody maps
    assert not r.reachable
    r = edge.probe("ext", "198.51.100.20", protocol="icmp")                  # a NAT gateway does not answer ping
    assert not r.reachable and "NO_POSSIBLE_DESTINATION" in codes(r)
    r = edge.probe("ext", "198.51.100.20", protocol="tcp", port=80)          # nor take unsolicited connections
    assert not r.reachable and "NO_POSSIBLE_DESTINATION" in codes(r)
    assert not edge.probe("ext", "10.0.1.10", protocol="icmp").reachable


def test_deleting_a_nat_gateway_blackholes_routes_until_repointed(fresh):
    nat_gateway.delete_nat_gateway(fresh, "nat-a")
    routes = {r["destination"]: r for vpc in fresh.status()["vpcs"] for rt in vpc["route_tables"]
              if rt["name"] == "private-a" for r in rt["routes"]}
    assert routes["0.0.0.0/0"]["state"] == "blackhole" and routes["0.0.0.0/0"]["target"] == "nat-a"
    assert fresh.status()["status"] == "up"
    assert not fresh.probe("app-a", EXT, protocol="tcp", port=80).reachable
    assert fresh.probe("app-b", EXT, protocol="tcp", port=80).reachable        # the other AZ is untouched
    route_table.replace_route(fresh, "private-a", "0.0.0.0/0", "nat-b")
    r = fresh.probe("app-a", EXT, protocol="tcp", port=80)
    assert r.reachable and seen_by_internet(r)[0] == "198.51.100.21"


def test_eip_associate_move_and_disassociate_live(fresh):
    elastic_ip.disassociate_address(fresh, "198.51.100.10")
    r = fresh.probe("web", EXT, protocol="tcp", port=80)
    assert not r.reachable and codes(r) == {"IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS"}
    elastic_ip.associate_address(fresh, "198.51.100.30", "web")
    assert seen_by_internet(fresh.probe("web", EXT, protocol="tcp", port=80))[0] == "198.51.100.30"
    assert fresh.probe("ext", "198.51.100.30", protocol="tcp", port=80).reachable
    elastic_ip.associate_address(fresh, "198.51.100.30", "nopub", allow_reassociation=True)
    assert seen_by_internet(fresh.probe("nopub", EXT, protocol="tcp", port=80))[0] == "198.51.100.30"
    assert not fresh.probe("web", EXT, protocol="tcp", port=80).reachable


@pytest.fixture(scope="module")
def peered():
    with Lab.up(load_text(PEERED, name="peer"), name=f"pe{os.getpid() % 100000}") as lab:
        yield lab


def test_peered_vpcs_reach_each_other(peered):
    assert peered.probe("a1", "b1", protocol="icmp").reachable
    assert peered.probe("c1", "b1", protocol="icmp").reachable


def test_no_transit_through_a_peer(peered):
    r = peered.probe("c1", "a1", protocol="icmp")
    assert not r.reachable and codes(r) == {"PCX_REQUIRES_ADDRESS_IN_VPC_CIDR"}


def test_a_peer_cannot_use_this_vpcs_nat_gateway_or_igw(peered):
    r = peered.probe("b1", EXT, protocol="icmp")
    assert not r.reachable and codes(r) == {"PCX_REQUIRES_ADDRESS_IN_VPC_CIDR"}
    assert not any("nat-gateway" in h.component or "igw" in h.component for h in r.hops)
    assert peered.probe("a1", EXT, protocol="icmp").reachable                  # a itself can


def test_security_group_reference_across_the_peering(peered):
    assert peered.probe("a1", "b2", protocol="tcp", port=22).reachable
    r = peered.probe("c1", "b2", protocol="tcp", port=22)
    assert not r.reachable and codes(r) == {"ENI_SG_RULES_MISMATCH"}


def test_nat_gateway_failure_drill_measures_the_outage(fresh):
    from vpcemu.drill import nat_gateway_failure
    report = nat_gateway_failure(fresh, "nat-a", "private-a", "nat-b", "app-a", EXT)
    assert report.recovered and report.probes_sent > 0
    assert 0 < report.outage_ms < 1000
    events = " ".join(e["event"] for e in report.timeline)
    assert "nat-gateway-failure starts" in events and "first lost probe" in events
    r = fresh.probe("app-a", EXT, protocol="icmp")
    assert r.reachable and seen_by_internet(r)[0] == "198.51.100.21"


def test_an_eni_moves_with_its_eip(fresh):
    from vpcemu.ops.network_interface import move_network_interface

    def fetch() -> str:
        return fresh.exec("ext", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3",
                                  "http://198.51.100.40/"]).stdout

    with http_server(fresh, "web", "10.0.0.50", 80):
        assert fetch() == "200"
    move_network_interface(fresh, "vip", "standby")
    assert "10.0.0.50/24" in fresh.exec("standby", ["ip", "-4", "-o", "addr", "show", "dev", "eth1"]).stdout
    with http_server(fresh, "standby", "10.0.0.50", 80):
        assert fetch() == "200"                     # same EIP, no route or DNS change, now the standby


def test_drills_report_whether_an_established_tcp_connection_survived(fresh):
    from vpcemu.drill import az_outage, nat_gateway_failure
    report = az_outage(fresh, "us-east-1a", "app-a", EXT, hold_ms=200, tcp_port=7)
    assert report.recovered and report.outage_ms >= 150 and report.tcp_survived is True
    report = nat_gateway_failure(fresh, "nat-a", "private-a", "nat-b", "app-a", EXT, tcp_port=7)
    assert report.recovered and report.tcp_survived is False     # the new NAT gateway knows nothing of it
