"""The lab supervisor: one process per lab running everything long-lived the lab needs.

    python -m vpcemu.services.supervisor STATE_DIR LAB

It reads the lab's model (STATE_DIR/model.pickle), creates or loads the lab CA (STATE_DIR/ca/) and
writes the CA bundle programs in the lab trust (STATE_DIR/ca-bundle.pem), moves into the lab's
parking namespace (so the lab's teardown finds it among the lab's processes), then starts:
  - one VPC resolver per VPC in its router namespace, at the VPC's +2 and 169.254.169.253;
  - each internet host's listeners in the host's namespace;
  - the AWS region (moto) in the region namespace, if the lab has services.
It then prints `ready` (or `error: <message>` and exits 1), and runs until SIGTERM, when it stops
everything and exits 0. SIGHUP re-reads the model and swaps each resolver's zone (a live change).
kernel/process.py starts and stops it; supervisor_spec() says what it runs, without root.
"""
from __future__ import annotations

import os
import pickle
import signal
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from ..errors import KernelError
from ..kernel.netns import enter_netns
from ..model.internet import Listener
from ..model.topology import Topology
from ..plan import names
from ..plan.build import AMAZON_DNS_LINK_LOCAL

RELOADED_FILE = "model-reloaded"
GO = "go"
MODEL_FILE = "model.pickle"
CA_DIR = "ca"
CA_BUNDLE_FILE = "ca-bundle.pem"
READY = "ready"


@dataclass(frozen=True)
class ResolverSpec:
    vpc: str
    namespace: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class HostSpec:
    host: str
    namespace: str
    ip: str
    listen: tuple[Listener, ...]


@dataclass(frozen=True)
class RegionSpec:
    namespace: str
    region: str
    services: dict[str, tuple[str, ...]]        # service → its public addresses


@dataclass(frozen=True)
class SupervisorSpec:
    resolvers: tuple[ResolverSpec, ...]
    hosts: tuple[HostSpec, ...]
    region: RegionSpec | None
    answering: bool             # some VPC has enable_dns_support

    @property
    def needed(self) -> bool:
        """Whether the lab needs a supervisor at all: a resolver that answers, a listener or a service."""
        return self.answering or bool(self.hosts) or self.region is not None


def supervisor_spec(topology: Topology, lab: str) -> SupervisorSpec:
    """What the supervisor of lab `lab` runs, and in which namespace (pure; no root needed).

    Every VPC gets a resolver, even with enable_dns_support false: its zone then makes it stay silent
    (queries time out, as at AWS) instead of the router answering port-unreachable, and a live change
    of the attribute only swaps the zone."""
    resolvers = tuple(ResolverSpec(vpc.name, names.router_ns(lab, vpc.name), (str(vpc.dns_server), AMAZON_DNS_LINK_LOCAL))
                      for vpc in topology.vpcs.values())
    hosts = tuple(HostSpec(h.name, names.internet_host_ns(lab, h.name), str(h.ip), h.listen)
                  for h in topology.internet_hosts.values() if h.listen)
    region = None
    if topology.services:
        region = RegionSpec(names.region_ns(lab), topology.region,
                            {s: tuple(str(a) for a in addrs) for s, addrs in topology.service_addresses.items()})
    return SupervisorSpec(resolvers, hosts, region,
                          answering=any(v.enable_dns_support for v in topology.vpcs.values()))


class Supervisor:
    """The running services of one lab (in this process); start() binds them all, or none."""

    def __init__(self, state_dir: Path, lab: str):
        self.state_dir = Path(state_dir)
        self.lab = lab
        self.handles: list = []
        self.resolvers: dict[str, object] = {}      # VPC → its VpcResolver, whose zone SIGHUP swaps

    def read_model(self) -> Topology:
        return pickle.loads((self.state_dir / MODEL_FILE).read_bytes())

    def prepare(self, spec: SupervisorSpec) -> None:
        """What needs no namespace, done while the lab's kernel objects are still being made: the
        imports (moto's take about a second), the CA and its bundle."""
        from . import aws, internet, resolver  # noqa: F401
        from .ca import CertificateAuthority

        CertificateAuthority.load_or_create(self.state_dir / CA_DIR).bundle(self.state_dir / CA_BUNDLE_FILE)
        if spec.region is not None:
            import moto.moto_server.werkzeug_app  # noqa: F401

    def start(self, topology: Topology, spec: SupervisorSpec) -> None:
        from ..dns.zone import build_zone
        from .aws import AwsRegion
        from .ca import CertificateAuthority
        from .internet import start_host_listeners
        from .resolver import VpcResolver

        ca = CertificateAuthority.load_or_create(self.state_dir / CA_DIR)
        ca.bundle(self.state_dir / CA_BUNDLE_FILE)
        try:
            for r in spec.resolvers:
                resolver = VpcResolver(build_zone(topology, r.vpc, topology.service_addresses))
                self._start(f"the resolver of VPC {r.vpc}", r.namespace, ", ".join(r.addresses),
                            lambda: resolver.start(r.namespace, list(r.addresses)))
                self.resolvers[r.vpc] = resolver
            for h in spec.hosts:
                self._start(f"the listeners of internet host {h.host}", h.namespace,
                            f"{h.ip} " + " ".join(f"{l.protocol}/{l.port}" for l in h.listen),
                            lambda: start_host_listeners(h.namespace, h.ip, h.listen, ca, h.host))
            if spec.region is not None:
                region = AwsRegion(spec.region.region, ca, {s: list(a) for s, a in spec.region.services.items()})
                self._start(f"the AWS region {spec.region.region}", spec.region.namespace,
                            ", ".join(a for addrs in spec.region.services.values() for a in addrs) + " tcp/80 tcp/443",
                            lambda: region.start(spec.region.namespace))
        except BaseException:
            self.stop()
            raise

    def _start(self, what: str, namespace: str, where: str, start) -> None:
        try:
            self.handles.append(start())
        except OSError as exc:      # a bind refused: say which service, where
            raise KernelError(f"start {what}", namespace, where, exc.errno, exc.strerror or str(exc)) from exc

    def reload(self) -> None:
        """Swap each resolver's zone for one built from the model as it is now, then say which model
        that was (its mtime in RELOADED_FILE), so the caller can wait for exactly this reload."""
        from ..dns.zone import build_zone

        version = (self.state_dir / MODEL_FILE).stat().st_mtime_ns
        topology = self.read_model()
        for vpc, resolver in self.resolvers.items():
            if vpc in topology.vpcs:
                resolver.zone = build_zone(topology, vpc, topology.service_addresses)
        (self.state_dir / RELOADED_FILE).write_text(str(version))

    def stop(self) -> None:
        for handle in reversed(self.handles):
            handle.stop()
        self.handles.clear()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m vpcemu.services.supervisor STATE_DIR LAB", file=sys.stderr)
        return 2
    state_dir, lab = Path(argv[0]), argv[1]
    # Blocked before any thread exists, so every thread inherits the mask and only sigwait() below
    # takes these signals: no handler runs in the middle of a start or a reload.
    waited = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    supervisor = Supervisor(state_dir, lab)
    try:
        topology = supervisor.read_model()
        spec = supervisor_spec(topology, lab)
        supervisor.prepare(spec)
        # `vpcemu up` says go (a line on stdin) once the namespaces exist; EOF: the build failed
        if sys.stdin.readline().strip() != GO:
            return 1
        enter_netns(names.parking_ns(lab))
        supervisor.start(topology, spec)
    except BaseException as exc:
        traceback.print_exc()
        print("error: " + " ".join(str(exc).split()), flush=True)
        return 1
    print(READY, flush=True)
    # Nobody reads stdout after `ready`: anything printed later goes to the log instead of a closed pipe.
    os.dup2(2, 1)
    print(f"supervisor of lab {lab}: ready, pid {os.getpid()}", file=sys.stderr, flush=True)
    while True:
        sig = signal.sigwait(waited)
        if sig == signal.SIGHUP:
            try:
                supervisor.reload()
                print("model reloaded", file=sys.stderr, flush=True)
            except Exception:           # a bad model must not take the running lab's services down
                traceback.print_exc()
            continue
        supervisor.stop()
        print(f"supervisor of lab {lab}: stopped by signal {sig}", file=sys.stderr, flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
