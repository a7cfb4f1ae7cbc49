"""The lab supervisor against the real kernel: started by Lab.up in the lab's parking namespace, the
VPC resolver answering programs inside instances, a live model change by SIGHUP, stopped by down
(also after being killed by hand), a failed start rolled back; and, in namespaces made here until the
planner builds the internet, an internet host's listeners and the AWS region run by the supervisor."""
from __future__ import annotations

import http.client
import json
import os
import select
import signal
import socket
import ssl
import time
import uuid
from dataclasses import replace

import pytest

from kernel_clients import A2_NAME, TWO_INSTANCES as PLAIN

from vpcemu import Lab, load_text
from vpcemu.errors import KernelError, ServiceDown
from vpcemu.kernel import apply, netns, process
from vpcemu.kernel.journal import Journal
from vpcemu.kernel.pids import running
from vpcemu.kernel.process import signal_supervisor, start_supervisor, supervisor_entry
from vpcemu.plan import names
from vpcemu.plan.state import Plan
from vpcemu.kernel.stored_model import write_model

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root"),
]



def _exited(pidfd: int) -> bool:
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(0))


def _supervisor_pidfd(lab: Lab) -> int:
    return os.pidfd_open(supervisor_entry(lab.journal)["pid"])


def _query(ns: str, server: str, name: str, qtype: str = "A") -> tuple[str, list[str]]:
    from dnslib import QTYPE, RCODE, DNSRecord
    packet = netns.run_in_netns(ns, DNSRecord.question(name, qtype).send, server, 53, False, 3)
    reply = DNSRecord.parse(packet)
    return RCODE[reply.header.rcode], [str(r.rdata) for r in reply.rr if r.rtype == getattr(QTYPE, qtype)]


@pytest.fixture(scope="module")
def lab():
    lab = Lab.up(load_text(PLAIN, name="k-sup"))
    try:
        yield lab
    finally:
        lab.down()


def test_the_supervisor_runs_in_the_parking_namespace(lab):
    entry = supervisor_entry(lab.journal)
    assert entry["pid"] > 0 and entry["starttime"] > 0
    assert os.stat(f"/proc/{entry['pid']}/ns/net").st_ino == netns.netns_inode(names.parking_ns("k-sup"))
    state = lab.journal.state()
    print(f"build {state['build_seconds']} s, services answering {state['services_seconds']} s after it")


def test_up_reports_the_time_until_usable_and_its_parts(lab):
    """Lab.up returned once every service answers: the journal's usable time is the whole of it, its parts add
    up to it, and status says the same."""
    lab.require_services(wait=0)
    state = lab.journal.state()
    parts = [state[f"{k}_seconds"] for k in ("prepare", "build", "services")]
    assert all(p >= 0 for p in parts) and state["build_seconds"] > 0
    assert abs(sum(parts) - state["usable_seconds"]) < 0.002          # each is rounded to 0.1 ms
    assert lab.status()["up_seconds"] == {"usable": state["usable_seconds"], "prepare": parts[0],
                                          "build": parts[1], "services": parts[2]}


def test_programs_in_an_instance_resolve_through_the_vpc_resolver(lab):
    r = lab.exec("a1", ["getent", "hosts", A2_NAME])       # /etc/netns/<ns>/resolv.conf → 10.0.0.2
    assert r.returncode == 0 and r.stdout.split() == ["10.0.1.5", A2_NAME], r.stderr
    ns = names.instance_ns("k-sup", "a1")
    assert _query(ns, "169.254.169.253", A2_NAME) == ("NOERROR", ["10.0.1.5"])
    assert _query(ns, "10.0.0.2", "5.1.0.10.in-addr.arpa", "PTR") == ("NOERROR", [A2_NAME + "."])

    def not_dns():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(3)
            s.sendto(b"\x12\x34 is not a DNS query", ("10.0.0.2", 53))
            return s.recv(512)
    reply = netns.run_in_netns(ns, not_dns)                     # a real resolver answers FORMERR
    assert reply[:2] == b"\x12\x34" and reply[2] & 0x80 and reply[3] & 0x0F == 1


def test_exec_gives_the_lab_environment(lab):
    out = lab.exec("a1", ["printenv", "SSL_CERT_FILE", "AWS_REGION"]).stdout.split()
    bundle = str(lab.journal.dir / "ca-bundle.pem")
    assert out == [bundle, "us-east-1"]
    ca = (lab.journal.dir / "ca" / "ca.pem").read_text()
    assert ca in open(bundle).read()


def test_sighup_swaps_the_resolver_zone_for_the_changed_model(lab):
    ns = names.instance_ns("k-sup", "a1")
    original = lab.topology
    vpc = lab.topology.vpcs["main"]
    changed = replace(lab.topology, vpcs={"main": replace(vpc, enable_dns_hostnames=False)})

    def reload_until(expected):
        assert signal_supervisor(lab.journal, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while _query(ns, "10.0.0.2", A2_NAME) != expected:     # each try is a real query and answer
            assert time.monotonic() < deadline, f"the resolver never answered {expected}"

    try:
        write_model(lab.journal.dir, changed)
        reload_until(("NXDOMAIN", []))
    finally:
        write_model(lab.journal.dir, original)
    reload_until(("NOERROR", ["10.0.1.5"]))


def test_down_stops_the_supervisor():
    lab = Lab.up(load_text(PLAIN, name="k-sup-down"))
    pidfd = _supervisor_pidfd(lab)
    try:
        pid = supervisor_entry(lab.journal)["pid"]
        assert not _exited(pidfd)
        lab.down()
        assert _exited(pidfd)
        deadline = time.monotonic() + 5     # and reaped, by its parent (this process, or the warm service process)
        while os.path.exists(f"/proc/{pid}"):
            assert time.monotonic() < deadline, f"supervisor pid {pid} left a zombie"
            time.sleep(0.001)
        assert not lab.journal.dir.exists()
    finally:
        os.close(pidfd)


def test_down_after_the_supervisor_was_killed_by_hand():
    lab = Lab.up(load_text(PLAIN, name="k-sup-kill"))
    namespaces = [e["name"] for e in lab.journal.entries("netns")]
    pidfd = _supervisor_pidfd(lab)
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        select.select([pidfd], [], [], 10)
        assert _exited(pidfd)
        lab.down()
    finally:
        os.close(pidfd)
    assert apply.namespaces_present(namespaces) == []
    assert not lab.journal.dir.exists()


def test_a_supervisor_that_cannot_start_fails_up_and_leaves_nothing(monkeypatch):
    lab_name = "k-sup-fail"
    router = names.router_ns(lab_name, "main")
    held: list[socket.socket] = []
    recorded: list[dict] = []
    real_build, real_record = apply.build, Journal.record

    def build_then_take_the_resolver_port(plan, journal, lab_uuid):
        real_build(plan, journal, lab_uuid)
        sock = netns.run_in_netns(router, socket.socket, socket.AF_INET, socket.SOCK_DGRAM)
        held.append(sock)
        sock.bind(("10.0.0.2", 53))

    def record(self, kind, **fields):
        recorded.append({"kind": kind, **fields})
        real_record(self, kind, **fields)

    monkeypatch.setattr(apply, "build", build_then_take_the_resolver_port)
    monkeypatch.setattr(Journal, "record", record)
    try:
        with pytest.raises(KernelError, match="Address already in use") as failure:
            Lab.up(load_text(PLAIN, name=lab_name))
    finally:
        for sock in held:
            sock.close()
    assert "supervisor.log" in str(failure.value)              # the log's tail comes with the error
    [entry] = [e for e in recorded if e["kind"] == "process"]
    assert not running(entry["pid"], entry["starttime"])          # exited (its parent reaps it)
    assert not Journal(lab_name).dir.exists()
    assert apply.namespaces_present([router, names.parking_ns(lab_name), names.instance_ns(lab_name, "a1")]) == []


# -- internet host listeners and the AWS region, in namespaces made here ---------------------------------
EDGE = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
internet:
  hosts:
    ext: {ip: 198.18.0.50, listen: [tcp/80, tcp/443, tcp/7, udp/7]}
aws:
  services: [s3]
"""


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, dict]:
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, json.load(r)
    finally:
        conn.close()


def test_supervisor_runs_internet_host_listeners_and_the_region():
    lab = "k-sup-edge"
    topology = load_text(EDGE, name=lab)
    journal = Journal(lab)
    lab_uuid = uuid.uuid4().hex
    os.close(journal.create(lab_uuid, "<test>"))      # the build lock: this test builds by hand
    host_ns, region_ns, router = names.internet_host_ns(lab, "ext"), names.region_ns(lab), names.router_ns(lab, "main")
    on_lo = {names.parking_ns(lab): [], router: ["10.0.0.2", "169.254.169.253"], host_ns: ["198.18.0.50"],
             region_ns: [str(a) for a in topology.service_addresses["s3"]],
             names.internet_ns(lab): ["169.254.255.1"]}         # the internet's resolver
    try:
        # what the planner will build, made as the build makes it: journalled, so teardown removes it
        apply.create_namespaces(Plan(lab, tuple(on_lo)), journal, names.ownership_mark(lab, lab_uuid))
        for ns, addresses in on_lo.items():
            with netns.open_iproute(ns) as ipr:
                for a in addresses:
                    ipr.addr("add", index=1, address=a, prefixlen=32)
                # routed, as in a built lab, to where packets vanish: a DNS lookup from the services
                # (of the host's nameserver) would wait for its timeout instead of failing at once
                ipr.link("add", ifname="void0", kind="veth", peer={"ifname": "void1"})
                for ifname in ("void0", "void1"):
                    ipr.link("set", index=ipr.link_lookup(ifname=ifname)[0], state="up")
                ipr.route("add", dst="0.0.0.0/0", oif=ipr.link_lookup(ifname="void0")[0], scope=253)
        write_model(journal.dir, topology)
        t0 = time.monotonic()
        start_supervisor(journal, lab)
        ready_s = time.monotonic() - t0
        print(f"supervisor with the region (moto) ready in {ready_s:.2f} s")
        assert ready_s < 4, "something in the supervisor's start waits on the network"
        bundle = str(journal.dir / "ca-bundle.pem")

        def at_the_host():
            # a client that connects to 443 and never starts a handshake holds up no one else
            idle = socket.create_connection(("198.18.0.50", 443), timeout=5)
            out = {"http": _get(http.client.HTTPConnection("198.18.0.50", 80, timeout=5), "/")}
            tls = ssl.create_default_context(cafile=bundle)
            out["https"] = _get(http.client.HTTPSConnection("198.18.0.50", 443, timeout=5, context=tls), "/x")
            with socket.create_connection(("198.18.0.50", 443), timeout=5) as raw:
                with tls.wrap_socket(raw, server_hostname="ext") as s:     # the certificate names the host
                    out["tls_name"] = s.getpeercert()["subjectAltName"]
            with socket.create_connection(("198.18.0.50", 7), timeout=5) as s:
                s.sendall(b"echo me")
                s.shutdown(socket.SHUT_WR)
                out["tcp"] = s.recv(100)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.settimeout(5)
                u.sendto(b"datagram", ("198.18.0.50", 7))
                out["udp"] = u.recv(100)
            idle.close()
            return out

        out = netns.run_in_netns(host_ns, at_the_host)
        assert out["http"] == (200, {"client": "198.18.0.50", "port": out["http"][1]["port"], "host": "ext"})
        assert out["https"][0] == 200 and out["https"][1]["host"] == "ext"
        assert ("DNS", "ext") in out["tls_name"] and ("IP Address", "198.18.0.50") in out["tls_name"]
        assert out["tcp"] == b"echo me" and out["udp"] == b"datagram"

        s3 = str(topology.service_addresses["s3"][1])

        def at_the_region():
            with socket.create_connection((s3, 443), timeout=5):            # idle, as above
                tls = ssl.create_default_context(cafile=bundle)
                return [_get(http.client.HTTPConnection(s3, 80, timeout=5), "/vpcemu/whoami"),
                        _get(http.client.HTTPSConnection(s3, 443, timeout=5, context=tls), "/vpcemu/whoami")]

        for status, body in netns.run_in_netns(region_ns, at_the_region):
            assert status == 200 and body["client"] == s3
        assert _query(router, "10.0.0.2", "ext") == ("NOERROR", ["198.18.0.50"])

        apply.teardown(journal)
        assert "stopped by signal 15" in (journal.dir / "supervisor.log").read_text()
        assert apply.namespaces_present(on_lo) == []
    finally:
        apply.teardown(journal)
        journal.remove()


# -- supervised services: a dead worker is replaced, a dead lab says so --------------------------------
def _answers_within(ns: str, seconds: float) -> float | None:
    """Seconds until the VPC resolver answers a real query from `ns` (None: not within `seconds`)."""
    from dnslib import DNSRecord
    question = DNSRecord.question(A2_NAME)
    started = time.monotonic()

    def ask():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.02)
            s.sendto(question.pack(), ("10.0.0.2", 53))
            try:
                return DNSRecord.parse(s.recv(512))
            except (TimeoutError, ConnectionRefusedError):
                return None
    while time.monotonic() - started < seconds:
        reply = netns.run_in_netns(ns, ask)
        if reply is not None and reply.rr:
            return time.monotonic() - started
    return None


def test_a_killed_worker_is_replaced_and_status_shows_the_restart():
    lab = Lab.up(load_text(PLAIN, name="k-sup-rst"))
    try:
        ns = names.instance_ns("k-sup-rst", "a1")
        before = process.supervisor_health(lab.journal)
        assert before["state"] == "up" and before["restarts"] == 0
        assert [s["service"] for s in before["services"]] == ["dns main"]
        assert all(s["state"] == "up" for s in before["services"])
        os.kill(before["worker_pid"], signal.SIGKILL)
        back = _answers_within(ns, 5)
        print(f"DNS answers again {back:.3f} s after the worker was killed" if back else "DNS never came back")
        assert back is not None and back < 1.0
        # the new worker answers a moment before the keeper records it (after the worker's `ready`): the
        # keeper's account is what status reads, so it is awaited, by its own content
        deadline = time.monotonic() + 5
        while (process.supervisor_health(lab.journal) or {}).get("worker_pid") in (None, before["worker_pid"]) \
                and time.monotonic() < deadline:
            time.sleep(0.002)
        after = lab.status()
        assert after["status"] == "up" and after["services_down"] == []
        assert after["supervisor"]["restarts"] == 1 and after["supervisor"]["last_exit"] == "killed by signal 9"
        assert after["supervisor"]["worker_pid"] != before["worker_pid"]
        assert lab.probe("a1", "a2").reachable
    finally:
        lab.down()


def test_services_nobody_restarts_fail_probes_loudly_by_name():
    lab = Lab.up(load_text(PLAIN, name="k-sup-dead"))
    try:
        health = process.supervisor_health(lab.journal)
        keeper = os.pidfd_open(health["pid"])
        worker = os.pidfd_open(health["worker_pid"])
        try:
            for pidfd in (keeper, worker):          # the keeper first, so nothing restarts the worker
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                select.select([pidfd], [], [], 10)
        finally:
            os.close(keeper)
            os.close(worker)
        status = lab.status()
        assert status["status"] == "degraded" and status["services_down"] == ["dns main"]
        assert status["supervisor"]["state"] == "down"
        with pytest.raises(ServiceDown, match="dns main is not running .*supervisor pid .* down too"):
            lab.probe("a1", "a2", protocol="udp", port=53)
    finally:
        lab.down()
    assert apply.namespaces_present([names.parking_ns("k-sup-dead")]) == []
