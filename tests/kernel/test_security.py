"""Security groups, network ACLs and the source/destination check, enforced on real packets.

Every test builds its own small lab, changes it live through vpcemu.ops.security, and sends real
traffic: ping, TCP through a listener started inside an instance, spoofed ICMP from a raw socket.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import IPv4Network

import pytest
from scapy.layers.inet import ICMP, IP

from kernel_namespaces import Namespaces
from vpcemu.errors import UsageError
from vpcemu.kernel.capture import Capture, NftTrace
from vpcemu.kernel.netns import run_in_netns
from vpcemu.kernel.nft import nft_json, nft_run
from vpcemu.lab import Lab
from vpcemu.load import load_text
from vpcemu.model import NetworkAclEntry, SecurityGroupRule
from vpcemu.ops import security
from vpcemu.plan import names
from vpcemu.plan.build import subnet_marks
from vpcemu.plan.router_nft import TABLE, router_ruleset, ruleset_diff

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root")]

ANYWHERE = IPv4Network("0.0.0.0/0")
OPEN = "open: {ingress: [{protocol: all, source: 0.0.0.0/0}]}"     # in every lab below; y and z use it


def topology(security_groups: str = "", network_acls: str = "", instances: str = "", route_tables: str = "") -> str:
    groups = ", ".join(filter(None, (OPEN, security_groups)))
    return f"""
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
      a: {{cidr: 10.0.1.0/24, az: us-east-1a, route_table: rt-a}}
      b: {{cidr: 10.0.2.0/24, az: us-east-1a}}
      c: {{cidr: 10.0.3.0/24, az: us-east-1a}}
    route_tables:
      main: {{main: true}}
      rt-a: {{{route_tables}}}
    security_groups: {{{groups}}}
    network_acls: {{{network_acls}}}
    instances:
      x: {{subnet: a, private_ip: 10.0.1.10, {instances}}}
      y: {{subnet: b, private_ip: 10.0.2.10, security_groups: [open]}}
      z: {{subnet: a, private_ip: 10.0.1.11, security_groups: [open]}}
"""


@contextmanager
def lab_up(name: str, text: str) -> Iterator[Lab]:
    lab = Lab.up(load_text(text, name=name))
    try:
        yield lab
    finally:
        lab.down()


def ping(lab: Lab, source: str, address: str) -> bool:
    return lab.exec(source, ["ping", "-c1", "-W1", address]).returncode == 0


SERVER = """
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(16)
print("ready", flush=True)
def echo(c):
    with c:
        while data := c.recv(1024):
            c.sendall(data)
while True:
    threading.Thread(target=echo, args=(s.accept()[0],), daemon=True).start()
"""

# One connection, kept open: each line on stdin is sent and its echo printed, or "timeout".
CLIENT = """
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.0)
except OSError as exc:
    print("refused" if isinstance(exc, ConnectionRefusedError) else "timeout", flush=True)
    sys.exit(1)
print("connected", flush=True)
for line in sys.stdin:
    try:
        c.sendall(line.encode())
        print(c.recv(1024).decode().strip() or "closed", flush=True)
    except OSError:
        print("timeout", flush=True)
"""


@contextmanager
def listening(lab: Lab, instance: str, port: int) -> Iterator[None]:
    server = subprocess.Popen(lab.exec_argv(instance, [sys.executable, "-c", SERVER, str(port)]),
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        yield
    finally:
        server.kill()
        server.wait()


class Connection:
    """A TCP connection from inside an instance that stays open across rule changes."""

    def __init__(self, lab: Lab, instance: str, address: str, port: int):
        self.proc = subprocess.Popen(lab.exec_argv(instance, [sys.executable, "-c", CLIENT, address, str(port)]),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.connected = self.proc.stdout.readline().strip() == "connected"

    def echo(self, text: str) -> str:
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def tcp_echo(lab: Lab, source: str, address: str, port: int) -> bool:
    conn = Connection(lab, source, address, port)
    try:
        return conn.connected and conn.echo("hello") == "hello"
    finally:
        conn.close()


def router(lab: Lab) -> str:
    return names.router_ns(lab.name, "main")


@contextmanager
def traced(lab: Lab, *addresses: str) -> Iterator[NftTrace]:
    ns = router(lab)
    with NftTrace(ns) as trace:
        nft_run(ns, f"add element ip {TABLE} trace_src {{ {', '.join(addresses)} }}")
        try:
            yield trace
        finally:
            nft_run(ns, f"delete element ip {TABLE} trace_src {{ {', '.join(addresses)} }}")


def drop_comment(lab: Lab, trace: NftTrace) -> str:
    """The comment of the rule that dropped the traced packet (waits for the drop to be reported)."""
    event = trace.wait_for(lambda e: e["verdict"] == "drop", timeout=2.0)
    assert event is not None, "no traced drop"
    listing = json.loads(nft_run(router(lab), f"list table ip {TABLE}", json_output=True, handles=True))
    rules = {(i["rule"]["chain"], i["rule"]["handle"]): i["rule"].get("comment", "")
             for i in listing["nftables"] if "rule" in i}
    return rules[(event["chain"], event["handle"])]


# -- security groups -----------------------------------------------------------------------------
def test_sender_egress_and_receiver_ingress_each_block():
    groups = "mute: {ingress: [{protocol: all, source: 0.0.0.0/0}], egress: []}, deaf: {}"
    with lab_up("sg-eachdir", topology(groups, instances="security_groups: [open]")) as lab:
        assert ping(lab, "x", "10.0.2.10")
        security.modify_network_interface_attribute(lab, "x", groups=["mute"])     # sender: no egress
        assert not ping(lab, "x", "10.0.2.10")
        security.modify_network_interface_attribute(lab, "x", groups=["open"])
        security.modify_network_interface_attribute(lab, "y", groups=["deaf"])     # receiver: no ingress
        assert not ping(lab, "x", "10.0.2.10")
        security.modify_network_interface_attribute(lab, "y", groups=["open"])
        assert ping(lab, "x", "10.0.2.10")


def test_an_authorized_rule_goes_to_its_place_in_every_chain_of_the_group():
    """A rule authorized goes into the chain of each of the group's ENIs at its place (by index, not a reload):
    a tracked one after the rules before it, one that makes its flows untracked first; the router's table then
    lists as the model plans it, and the packets it admits pass."""
    groups = "web: {ingress: [{protocol: tcp, ports: 22, source: 10.0.0.0/16}]}"
    with lab_up("lvsg-place", topology(groups, instances="security_groups: [web]")) as lab:
        assert not ping(lab, "y", "10.0.1.10")
        security.authorize_security_group_ingress(lab, "web", SecurityGroupRule("icmp", cidr=IPv4Network("10.0.2.0/24")))
        assert lab.differences() == []
        assert ping(lab, "y", "10.0.1.10")
        security.authorize_security_group_ingress(lab, "web", SecurityGroupRule("udp", 53, 53, cidr=ANYWHERE))
        assert lab.differences() == []


def test_group_reference_follows_membership_and_a_refused_change_changes_nothing():
    groups = "clients: {}, web: {ingress: [{protocol: icmp, source: sg:clients}]}"
    with lab_up("sg-member", topology(groups)) as lab:
        security.modify_network_interface_attribute(lab, "y", groups=["web"])
        assert not ping(lab, "x", "10.0.2.10")
        security.modify_network_interface_attribute(lab, "x", groups=["default", "clients"])
        assert ping(lab, "x", "10.0.2.10")
        members = nft_json(router(lab), f"list set ip {TABLE} sg_clients")["nftables"][1]["set"]["elem"]
        assert members == ["10.0.1.10"]
        security.modify_network_interface_attribute(lab, "x", groups=["default"])
        assert not ping(lab, "x", "10.0.2.10")

        before = (lab.topology, nft_run(router(lab), f"list table ip {TABLE}"))
        for bad, code in ((["nope"], "InvalidGroup.NotFound"), (["default", "default"], "InvalidParameterValue")):
            with pytest.raises(UsageError) as err:
                security.modify_network_interface_attribute(lab, "x", groups=bad)
            assert err.value.code == code
        assert (lab.topology, nft_run(router(lab), f"list table ip {TABLE}")) == before
        assert Lab.attach(lab.name).topology == lab.topology        # live changes are the lab's state


def test_replies_of_an_outbound_connection_pass_without_inbound_rules():
    groups = "client: {ingress: []}, server: {ingress: [{protocol: tcp, ports: 8080, source: 10.0.0.0/16}]}"
    with lab_up("sg-state", topology(groups, instances="security_groups: [client]")) as lab:
        security.modify_network_interface_attribute(lab, "y", groups=["server"])
        with listening(lab, "y", 8080), listening(lab, "x", 8080):
            assert tcp_echo(lab, "x", "10.0.2.10", 8080)          # replies: conntrack, not rules
            assert not tcp_echo(lab, "y", "10.0.1.10", 8080)      # x really admits nothing inbound


@pytest.mark.parametrize("source, survives", [("10.0.1.0/24", True), ("0.0.0.0/0", False)],
                         ids=["tracked", "untracked"])
def test_revoking_the_admitting_rule_cuts_untracked_flows_only(source, survives):
    # y's egress allows everything to 0.0.0.0/0: a 0.0.0.0/0 inbound rule makes its flows untracked
    groups = f"server: {{ingress: [{{protocol: tcp, ports: 8080, source: {source}}}]}}"
    name = "ct-tracked" if survives else "ct-untracked"
    with lab_up(name, topology(groups)) as lab:
        security.modify_network_interface_attribute(lab, "y", groups=["server"])
        rule = SecurityGroupRule("tcp", 8080, 8080, cidr=IPv4Network(source))
        with listening(lab, "y", 8080):
            conn = Connection(lab, "x", "10.0.2.10", 8080)
            try:
                assert conn.connected and conn.echo("before") == "before"
                security.revoke_security_group_ingress(lab, "server", rule)
                assert conn.echo("after") == ("after" if survives else "timeout")
            finally:
                conn.close()
            assert not tcp_echo(lab, "x", "10.0.2.10", 8080)     # new connections: no rule, no entry
            security.authorize_security_group_ingress(lab, "server", rule)
            assert tcp_echo(lab, "x", "10.0.2.10", 8080)


def test_an_untracked_client_loses_its_replies_when_its_inbound_rule_goes():
    # x allows everything in from 0.0.0.0/0 and out to 0.0.0.0/0: its own connections are untracked at x
    groups = ("peer: {ingress: [{protocol: all, source: 0.0.0.0/0}]}, "
              "server: {ingress: [{protocol: tcp, ports: 8080, source: 10.0.1.0/24}]}")
    with lab_up("ct-client", topology(groups, instances="security_groups: [peer]")) as lab:
        security.modify_network_interface_attribute(lab, "y", groups=["server"])
        with listening(lab, "y", 8080):
            conn = Connection(lab, "x", "10.0.2.10", 8080)
            try:
                assert conn.connected and conn.echo("before") == "before"
                security.revoke_security_group_ingress(lab, "peer", SecurityGroupRule("-1", cidr=ANYWHERE))
                assert conn.echo("after") == "timeout"            # replies now meet x's (empty) inbound rules
            finally:
                conn.close()
            assert tcp_echo(lab, "x", "10.0.2.10", 8080)          # new connections are tracked at x


# -- network ACLs ----------------------------------------------------------------------------------
def test_network_acl_needs_an_ephemeral_port_rule_for_tcp_replies():
    acls = ("strict: {ingress: [{rule: 100, protocol: tcp, ports: 443, source: 0.0.0.0/0, action: allow}], "
            "egress: [{rule: 100, protocol: all, destination: 0.0.0.0/0, action: allow}]}")
    with lab_up("nacl-eph", topology(network_acls=acls)) as lab:
        security.replace_network_acl_association(lab, "a", "strict")
        with listening(lab, "y", 8080):
            assert not tcp_echo(lab, "x", "10.0.2.10", 8080)      # the SYN-ACK meets rule `*`
            security.create_network_acl_entry(
                lab, "strict", NetworkAclEntry(110, "tcp", "allow", False, ANYWHERE, 1024, 65535))
            assert tcp_echo(lab, "x", "10.0.2.10", 8080)


def test_network_acl_lowest_rule_number_wins():
    with lab_up("nacl-order", topology()) as lab:
        assert ping(lab, "x", "10.0.2.10")                      # default NACL: rule 100 allows all
        subnet_a = IPv4Network("10.0.1.0/24")
        security.create_network_acl_entry(lab, "default", NetworkAclEntry(50, "icmp", "deny", False, subnet_a))
        assert not ping(lab, "x", "10.0.2.10")
        security.create_network_acl_entry(
            lab, "default", NetworkAclEntry(40, "icmp", "allow", False, IPv4Network("10.0.1.10/32")))
        assert ping(lab, "x", "10.0.2.10")
        assert not ping(lab, "z", "10.0.2.10")                  # 10.0.1.11 still meets rule 50
        security.delete_network_acl_entry(lab, "default", 50, egress=False)
        assert ping(lab, "z", "10.0.2.10")


def test_a_network_acl_entry_stops_the_very_next_packet_of_an_established_flow():
    """NACLs are stateless (aws-vpc-reference §5): a deny added while a tracked connection is open drops its next
    segment, though its conntrack entry, which SGs rely on, is still there."""
    groups = "server: {ingress: [{protocol: tcp, ports: 8080, source: 10.0.1.0/24}]}"
    with lab_up("nacl-est", topology(groups)) as lab:
        security.modify_network_interface_attribute(lab, "y", groups=["server"])
        deny = NetworkAclEntry(50, "tcp", "deny", False, IPv4Network("10.0.1.0/24"), 8080, 8080)
        with listening(lab, "y", 8080):
            conn = Connection(lab, "x", "10.0.2.10", 8080)
            try:
                assert conn.connected and conn.echo("before") == "before"
                security.create_network_acl_entry(lab, "default", deny)
                assert conn.echo("after") == "timeout"
            finally:
                conn.close()
            security.delete_network_acl_entry(lab, "default", 50, egress=False)
            assert tcp_echo(lab, "x", "10.0.2.10", 8080)


def test_traffic_inside_a_subnet_ignores_its_network_acl():
    with lab_up("nacl-same", topology(network_acls="closed: {}", instances="security_groups: [open]")) as lab:
        security.replace_network_acl_association(lab, "a", "closed")     # a custom NACL denies all
        assert ping(lab, "x", "10.0.1.11")
        assert not ping(lab, "x", "10.0.2.10")


def test_the_router_itself_is_never_filtered():
    groups = "nothing: {ingress: [], egress: []}"
    with lab_up("rtr-never", topology(groups, "closed: {}", "security_groups: [nothing]")) as lab:
        security.replace_network_acl_association(lab, "a", "closed")
        for gateway in ("10.0.1.1", "10.0.0.2", "10.0.2.1", "169.254.169.253"):   # subnet +1, resolver
            assert ping(lab, "x", gateway), gateway
        for resolver in ("10.0.0.2", "169.254.169.253"):                         # DNS, both transports
            for protocol in ("udp", "tcp"):
                result = lab.probe("x", resolver, protocol=protocol, port=53)
                assert result.reachable and not result.explanations, (resolver, protocol, result.answer)
        assert not ping(lab, "x", "10.0.1.11")
        assert not lab.probe("x", "10.0.1.11", protocol="udp", port=53).reachable


# -- source/destination check ----------------------------------------------------------------------
def send_spoofed_icmp(lab: Lab, instance: str, source: str, destination: str, token: bytes) -> None:
    packet = bytes(IP(src=source, dst=destination) / ICMP(id=4242) / token)

    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as sock:
            sock.sendto(packet, (destination, 0))

    run_in_netns(lab.namespace_of(instance), send)


def test_spoofed_source_is_dropped_unless_the_check_is_off():
    with lab_up("srcdst-spoof", topology(instances="security_groups: [open]")) as lab:
        token = b"spoof-%d" % time.monotonic_ns()
        with traced(lab, "10.0.1.99") as trace:
            send_spoofed_icmp(lab, "x", "10.0.1.99", "10.0.2.10", token)
            assert drop_comment(lab, trace) == "code=ENI_SOURCE_DEST_CHECK_RESTRICTION direction=egress eni=x.eth0"
        security.modify_network_interface_attribute(lab, "x", source_dest_check=False)
        with Capture(lab.namespace_of("y"), "eth0") as capture:
            send_spoofed_icmp(lab, "x", "10.0.1.99", "10.0.2.10", token)
            assert capture.wait_for(lambda f: token in f.data, timeout=2.0) is not None


def test_appliance_forwards_only_with_its_check_off():
    # subnet a reaches subnet c through fw (a middlebox route); the replies come back directly
    text = topology(instances="security_groups: [open]",
                    route_tables="routes: [{destination: 10.0.3.0/24, target: fw}]").replace(
        "    instances:\n",
        "    instances:\n"
        "      fw: {subnet: b, private_ip: 10.0.2.20, security_groups: [open], forwarding: true}\n"
        "      w: {subnet: c, private_ip: 10.0.3.10, security_groups: [open]}\n")
    with lab_up("srcdst-mbox", text) as lab:
        with traced(lab, "10.0.1.10") as trace:
            assert not ping(lab, "x", "10.0.3.10")
            assert drop_comment(lab, trace) == "code=ENI_SOURCE_DEST_CHECK_RESTRICTION direction=ingress eni=fw.eth0"
        security.modify_network_interface_attribute(lab, "fw", source_dest_check=False)
        assert ping(lab, "x", "10.0.3.10")
        security.modify_network_interface_attribute(lab, "fw", source_dest_check=True)
        assert not ping(lab, "x", "10.0.3.10")


# -- attribution and loading -------------------------------------------------------------------------
def test_drops_are_attributed_to_the_rule_that_made_them():
    with lab_up("sg-attrib", topology("deaf: {}", instances="security_groups: [open]")) as lab:
        security.modify_network_interface_attribute(lab, "y", groups=["deaf", "default"])
        with traced(lab, "10.0.1.10") as trace:
            assert not ping(lab, "x", "10.0.2.10")
            assert drop_comment(lab, trace) == "code=ENI_SG_RULES_MISMATCH direction=ingress eni=y.eth0 sg=deaf,default"
            # a live change keeps the addresses a probe is tracing
            security.modify_network_interface_attribute(lab, "y", groups=["open"])
            traced_now = nft_json(router(lab), f"list set ip {TABLE} trace_src")["nftables"][1]["set"]["elem"]
            assert traced_now == ["10.0.1.10"]
        security.create_network_acl_entry(
            lab, "default", NetworkAclEntry(70, "-1", "deny", True, IPv4Network("10.0.2.0/24")))
        with traced(lab, "10.0.1.10") as trace:
            assert not ping(lab, "x", "10.0.2.10")
            assert drop_comment(lab, trace) == \
                "code=SUBNET_ACL_RESTRICTION direction=egress acl=default subnet=a rule=70"


def test_generated_ruleset_for_100_enis_loads_and_reloads_atomically():
    instances = "\n".join(f"      i{k}: {{subnet: s{k % 4}, security_groups: [web, app]}}" for k in range(100))
    subnets = "\n".join(f"      s{i}: {{cidr: 10.0.{i}.0/24, az: us-east-1a, network_acl: n}}" for i in range(4))
    t = load_text(f"""
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
{subnets}
    security_groups:
      web: {{ingress: [{{protocol: tcp, ports: 80, source: 0.0.0.0/0}}, {{protocol: tcp, ports: 22, source: sg:app}}]}}
      app:
        ingress: [{{protocol: tcp, ports: 8080, source: sg:web}}, {{protocol: icmp, icmp_type: 8, source: pl:s3}}]
    network_acls:
      n:
        ingress: [{{rule: 100, protocol: tcp, ports: 1024-65535, source: 0.0.0.0/0, action: allow}}]
        egress: [{{rule: 100, protocol: all, destination: 0.0.0.0/0, action: allow}}]
    instances:
{instances}
aws:
  services: [s3]
""", name="big")
    vpc = t.vpcs["main"]
    text = router_ruleset(vpc, subnet_marks(vpc), t)
    ns = f"sgload-{os.getpid()}"
    with Namespaces(ns) as made:
        made.create(ns)
        for _ in range(2):                                   # the second load replaces the first
            started = time.perf_counter()
            nft_run(ns, text)
            elapsed_ms = (time.perf_counter() - started) * 1000
        chains = [i["chain"]["name"] for i in nft_json(ns, "list chains ip")["nftables"] if "chain" in i]
        assert sum(c.startswith("sg_ingress_e") for c in chains) == 100
        print(f"ruleset for 100 ENIs loads in {elapsed_ms:.1f} ms")


def _listing(ns: str) -> list:
    """The table as the kernel holds it, without handles, set elements in a stable order."""
    out = []
    for item in nft_json(ns, f"list table ip {TABLE}")["nftables"]:
        for kind in ("set", "map", "chain", "rule"):
            if kind in item:
                obj = {k: v for k, v in item[kind].items() if k != "handle"}
                if "elem" in obj:
                    obj["elem"] = sorted(obj["elem"], key=json.dumps)
                out.append((kind, json.dumps(obj, sort_keys=True)))
    return sorted(out)


def test_live_changes_as_diffs_leave_the_same_table_as_a_full_load():
    groups = "web: {ingress: [{protocol: tcp, ports: 80, source: 0.0.0.0/0}]}, db: {ingress: []}"
    t = load_text(topology(groups, "n: {ingress: [{rule: 100, protocol: all, source: 0.0.0.0/0, action: allow}]}",
                           instances="security_groups: [web]"), name="diff")
    steps = [lambda t: security.authorized(t, "db", [SecurityGroupRule("tcp", 5432, 5432, group="web")], egress=False),
             lambda t: security.with_interface_attribute(t, "y", ["db", "open"], False),
             lambda t: security.with_network_acl_association(t, "b", "n"),
             lambda t: security.revoked(t, "web", [SecurityGroupRule("tcp", 80, 80, cidr=ANYWHERE)], egress=False),
             lambda t: security.with_interface_attribute(t, "x", ["db"], True),
             lambda t: security.with_network_acl_association(t, "b", "default")]
    diffed, fresh = f"nftdiff-{os.getpid()}-a", f"nftdiff-{os.getpid()}-b"
    with Namespaces(f"nftdiff-{os.getpid()}") as made:
        made.create(diffed, fresh)
        vpc = t.vpcs["main"]
        before = router_ruleset(vpc, subnet_marks(vpc), t)
        nft_run(diffed, before)
        for step in steps:
            t = step(t)
            vpc = t.vpcs["main"]
            after = router_ruleset(vpc, subnet_marks(vpc), t)
            diff = ruleset_diff(before, after)
            assert diff is not None and "delete table" not in diff
            nft_run(diffed, diff)
            nft_run(fresh, after)
            assert _listing(diffed) == _listing(fresh)
            before = after
