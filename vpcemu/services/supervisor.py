"""The lab supervisor: one process per lab running everything long-lived the lab needs.

    python -m vpcemu.services.supervisor STATE_DIR LAB

It reads the lab's model (STATE_DIR/model.yaml, kernel/stored_model.py), creates or loads the lab CA (STATE_DIR/ca/) and
writes the CA bundle programs in the lab trust (STATE_DIR/ca-bundle.pem), moves into the lab's
parking namespace (so the lab's teardown finds it among the lab's processes), then starts:
  - one VPC resolver per VPC in its router namespace, at the VPC's +2 and 169.254.169.253;
  - the internet's resolver (public DNS for the lab) in the core namespace, if the lab has internet hosts;
  - the instance metadata service (services/metadata.py) of each VPC with instances, at 169.254.169.254 in its
    router namespace, with the lab's credentials (services/credentials.py, made here at the first start);
  - each internet host's listeners in the host's namespace;
  - the AWS region (moto) in the region namespace, if the lab has services;
  - the lab's EC2 API (vpcemu/ec2api), if `ec2` is one of them: a program of its own (an argv), as it
    sits above the lab and calls its live ops.
The services run in a worker process it forks and replaces at once if it dies (Keeper), the EC2 API in a
process it starts and restarts likewise; the keeper prints `ready` once the first worker has bound
everything and the EC2 API listens (or `error: <message>` and exits 1), and
runs until SIGTERM, when it stops the worker and exits 0. SIGHUP, forwarded to the worker, re-reads
the model and swaps each resolver's zone (a live change). STATE_DIR/services.json says which worker
runs, how often it was restarted and which services it holds.
kernel/process.py starts and stops it; supervisor_spec() says what it runs, without root.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from ..errors import KernelError
from ..kernel.journal import GO, JOURNALLED, MODEL_FILE, RELOADED_FILE, SERVICES_FILE, read_json
from ..kernel.stored_model import read_model
from ..kernel.netns import enter_netns
from ..kernel.process import read_line, starttime
from ..model.internet import Listener
from ..model.topology import Topology
from ..plan import names
from ..plan.build import AMAZON_DNS_LINK_LOCAL
from ..plan.internet import PUBLIC_RESOLVER
from .ec2_api import SERVICE as EC2, Ec2ApiSpec, ec2_api_spec

CA_DIR = "ca"
CA_BUNDLE_FILE = "ca-bundle.pem"
READY = "ready"


@dataclass(frozen=True)
class ResolverSpec:
    vpc: str
    namespace: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class MetadataSpec:
    vpc: str
    namespace: str


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
class PublicResolverSpec:
    namespace: str
    address: str


@dataclass(frozen=True)
class SupervisorSpec:
    resolvers: tuple[ResolverSpec, ...]
    hosts: tuple[HostSpec, ...]
    region: RegionSpec | None
    answering: bool             # some VPC has enable_dns_support
    public: PublicResolverSpec | None = None     # the internet's resolver, which internet hosts use
    metadata: tuple[MetadataSpec, ...] = ()
    ec2_api: Ec2ApiSpec | None = None

    @property
    def needed(self) -> bool:
        """Whether the lab needs a supervisor at all: a resolver that answers, an instance (its IMDS), a
        listener or a service."""
        return (self.answering or bool(self.metadata) or bool(self.hosts) or self.region is not None
                or self.public is not None or self.ec2_api is not None)


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
    served = {s: tuple(str(a) for a in addrs) for s, addrs in topology.service_addresses.items() if s != EC2}
    if served:                  # moto answers every service but ec2, which is the lab's own (ec2_api)
        region = RegionSpec(names.region_ns(lab), topology.region, served)
    public = PublicResolverSpec(names.internet_ns(lab), PUBLIC_RESOLVER) if topology.internet_hosts else None
    metadata = tuple(MetadataSpec(vpc.name, names.router_ns(lab, vpc.name)) for vpc in topology.vpcs.values()
                     if vpc.instances)
    return SupervisorSpec(resolvers, hosts, region,
                          answering=any(v.enable_dns_support for v in topology.vpcs.values()), public=public,
                          metadata=metadata, ec2_api=ec2_api_spec(topology, lab))


def import_ahead(region: bool = True) -> None:
    """Import what starting the services needs (moto's server, for the AWS region, takes most of it)."""
    from ..dns import zone  # noqa: F401
    from . import aws, ca, credentials, internet, metadata, resolver  # noqa: F401
    if region:
        import moto.moto_server.werkzeug_app  # noqa: F401
        import werkzeug.serving  # noqa: F401


class Supervisor:
    """The running services of one lab (in this process); start() binds them all, or none."""

    def __init__(self, state_dir: Path, lab: str):
        self.state_dir = Path(state_dir)
        self.lab = lab
        self.handles: list = []
        self.resolvers: dict[str, object] = {}      # VPC → its VpcResolver, whose zone SIGHUP swaps
        self.public = None                          # the internet's VpcResolver, swapped likewise

    def read_model(self) -> Topology:
        return read_model(self.state_dir)

    def prepare(self, spec: SupervisorSpec) -> None:
        """What needs no namespace, done while the lab's kernel objects are still being made: the
        imports (none left to do in a supervisor the warm service process forked), the CA and its bundle."""
        import_ahead(region=spec.region is not None)
        from .ca import CertificateAuthority
        from .credentials import lab_credentials

        CertificateAuthority.load_or_create(self.state_dir / CA_DIR).bundle(self.state_dir / CA_BUNDLE_FILE)
        lab_credentials(self.state_dir)

    def start(self, topology: Topology, spec: SupervisorSpec) -> None:
        from ..dns.zone import build_public_zone, build_zone
        from .aws import AwsRegion
        from .ca import CertificateAuthority
        from .internet import start_host_listeners
        from .metadata import INSTANCE_METADATA, PORT, InstanceMetadata
        from .resolver import VpcResolver

        ca = CertificateAuthority.load_or_create(self.state_dir / CA_DIR)
        ca.bundle(self.state_dir / CA_BUNDLE_FILE)
        try:
            for r in spec.resolvers:
                resolver = VpcResolver(build_zone(topology, r.vpc, topology.service_addresses))
                self._start(f"the resolver of VPC {r.vpc}", r.namespace, ", ".join(r.addresses),
                            lambda resolver=resolver, r=r: resolver.start(r.namespace, list(r.addresses)))
                self.resolvers[r.vpc] = resolver
            if spec.public is not None:
                public, p = VpcResolver(build_public_zone(topology)), spec.public
                self._start("the internet's resolver", p.namespace, p.address,
                            lambda: public.start(p.namespace, [p.address]))
                self.public = public
            for m in spec.metadata:
                imds = InstanceMetadata(self.state_dir, m.vpc)
                self._start(f"the instance metadata service of VPC {m.vpc}", m.namespace,
                            f"{INSTANCE_METADATA} tcp/{PORT}", lambda imds=imds, m=m: imds.start(m.namespace))
            for h in spec.hosts:
                self._start(f"the listeners of internet host {h.host}", h.namespace,
                            f"{h.ip} " + " ".join(f"{l.protocol}/{l.port}" for l in h.listen),
                            lambda h=h: start_host_listeners(h.namespace, h.ip, h.listen, ca, h.host))
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
        from ..dns.zone import build_public_zone, build_zone

        version = (self.state_dir / MODEL_FILE).stat().st_mtime_ns
        topology = self.read_model()
        for vpc, resolver in self.resolvers.items():
            if vpc in topology.vpcs:
                resolver.zone = build_zone(topology, vpc, topology.service_addresses)
        if self.public is not None:
            self.public.zone = build_public_zone(topology)
        (self.state_dir / RELOADED_FILE).write_text(str(version))

    def stop(self) -> None:
        for handle in reversed(self.handles):
            handle.stop()
        self.handles.clear()


def describe(spec: SupervisorSpec) -> list[dict]:
    """The services a spec runs, as `status` shows them: what, where, on which addresses."""
    # a VPC's instance metadata service runs beside its resolver, in the router, as one entry (`dns <vpc>`, the
    # name status has always shown), its address added
    imds = {m.vpc for m in spec.metadata}
    out = [{"service": f"dns {r.vpc}", "kind": "dns", "namespace": r.namespace,
            "addresses": [*r.addresses, *(["169.254.169.254 tcp/80"] if r.vpc in imds else [])]}
           for r in spec.resolvers]
    if spec.public is not None:
        out.append({"service": "dns internet", "kind": "dns", "namespace": spec.public.namespace,
                    "addresses": [spec.public.address]})
    out += [{"service": f"host {h.host}", "kind": "internet-host", "namespace": h.namespace,
             "addresses": [f"{h.ip} {l.protocol}/{l.port}" for l in h.listen]} for h in spec.hosts]
    if spec.region is not None:
        out.append({"service": f"region {spec.region.region}", "kind": "aws-region", "namespace": spec.region.namespace,
                    "addresses": [f"{s} {a}" for s, addrs in spec.region.services.items() for a in addrs]})
    if spec.ec2_api is not None:
        out.append({"service": "ec2-api", "kind": "ec2-api", "namespace": spec.ec2_api.namespace,
                    "addresses": [f"ec2 {a} tcp/80 tcp/443" for a in spec.ec2_api.addresses]})
    return out


class Keeper:
    """Keeps the lab's services running: they run in a worker forked from this process, and a worker
    that dies (killed, crashed) is replaced at once.

    Forking from here is what makes a restart fast: this process has done the slow part (imports,
    the CA) before the first fork and holds no threads, so a new worker only binds its sockets. Each
    worker reads the model as it is at its start, so live changes made while it was down hold. The
    keeper is the process the journal names; stopping it stops its worker. SIGCHLD (blocked, like
    the signals it forwards) is how it learns of a death, through the same sigwait as everything else.
    """

    SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD}
    FIRST_START_S = 60.0
    BACKOFF_MAX_S = 5.0

    def __init__(self, supervisor: Supervisor):
        self.supervisor = supervisor
        self.worker: int | None = None
        self.ec2_api: subprocess.Popen | None = None    # kept, so no one else reaps it (subprocess's own cleanup)
        # a keeper started in place of a dead one (`vpcemu repair`) goes on counting
        before = read_json(supervisor.state_dir / SERVICES_FILE)
        self.restarts = before.get("restarts", 0) + (1 if before else 0)
        self.last_exit: str | None = f"the supervisor (pid {before.get('keeper')}) died" if before else None

    def start_worker(self, timeout: float) -> str | None:
        """Fork a worker and wait until it has bound every service; None, or why it failed."""
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:                                # the worker
            os.close(read_fd)
            os.dup2(2, 1)                           # stdout is `vpcemu up`'s pipe, read once by the keeper
            os._exit(_serve(self.supervisor, write_fd))
        os.close(write_fd)
        try:
            answer = read_line(read_fd, timeout)
        finally:
            os.close(read_fd)
        if answer == READY:
            self.worker = pid
            self.write_state()
            return None
        if answer is None:                          # silent past the deadline: not a worker to keep
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return answer[len("error: "):] if answer and answer.startswith("error: ") else \
            f"the worker said {answer!r}" if answer else "the worker exited before it was ready"

    def spawn_ec2_api(self) -> subprocess.Popen | None:
        """Start the lab's EC2 API program (if the lab has one); `await_ec2_api` waits until it listens."""
        spec = supervisor_spec(self.supervisor.read_model(), self.supervisor.lab).ec2_api
        if spec is None:
            return None
        # its stderr is the keeper's: the supervisor log
        return subprocess.Popen(list(spec.argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, close_fds=True)

    def await_ec2_api(self, proc: subprocess.Popen | None, timeout: float) -> str | None:
        """None once it says `ready` (it is then kept), or why it failed (it is then gone)."""
        if proc is None:
            return None
        try:
            answer = read_line(proc.stdout.fileno(), timeout)
        finally:
            proc.stdout.close()
        if answer == READY:
            self.ec2_api = proc
            self.write_state()
            return None
        if answer is None:
            proc.kill()
        proc.wait()
        return "the EC2 API " + (answer[len("error: "):] if answer and answer.startswith("error: ") else
                                 f"said {answer!r}" if answer else "exited before it was ready")

    def ec2_api_died(self) -> bool:
        """Whether the EC2 API program has died (and been reaped) since the last look."""
        if self.ec2_api is None or self.ec2_api.poll() is None:
            return False
        code = self.ec2_api.returncode
        self.last_exit = f"the EC2 API {'killed by signal ' + str(-code) if code < 0 else 'exited with status ' + str(code)}"
        print(f"EC2 API pid {self.ec2_api.pid}: {self.last_exit}", file=sys.stderr, flush=True)
        self.ec2_api = None
        self.restarts += 1
        self.write_state()
        return True

    def write_state(self) -> None:
        topology = self.supervisor.read_model()
        services = describe(supervisor_spec(topology, self.supervisor.lab))
        if self.ec2_api is not None:            # up while this process lives, whatever the worker does
            for s in services:
                if s["kind"] == "ec2-api":
                    s |= {"pid": self.ec2_api.pid, "starttime": starttime(self.ec2_api.pid)}
        state = {"keeper": os.getpid(), "worker": self.worker,
                 "worker_starttime": starttime(self.worker) if self.worker else None,
                 "restarts": self.restarts, "last_exit": self.last_exit, "changed_at": time.time(),
                 "services": services}
        tmp = self.supervisor.state_dir / (SERVICES_FILE + ".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.supervisor.state_dir / SERVICES_FILE)

    def run(self) -> int:
        """Until SIGTERM: forward SIGHUP to the worker, replace it when it dies."""
        backoff = 0.0
        while True:
            sig = signal.sigwait(self.SIGNALS) if self.worker or not backoff else \
                getattr(signal.sigtimedwait(self.SIGNALS, backoff), "si_signo", None)
            if sig in (signal.SIGTERM, signal.SIGINT):
                self.stop_worker()
                print(f"supervisor of lab {self.supervisor.lab}: stopped by signal {sig}", file=sys.stderr, flush=True)
                return 0
            if sig == signal.SIGHUP:
                if self.worker:
                    os.kill(self.worker, signal.SIGHUP)
                continue                            # no worker: the next one reads the model anyway
            if sig == signal.SIGCHLD and self.ec2_api_died():
                why = self.await_ec2_api(self.spawn_ec2_api(), self.FIRST_START_S)
                print(f"EC2 API restart failed: {why}" if why else f"EC2 API restarted, pid {self.ec2_api.pid}",
                      file=sys.stderr, flush=True)
            if sig == signal.SIGCHLD and not self.reaped():
                continue
            if self.worker is None:                 # it died (or the last restart failed): replace it
                why = self.start_worker(self.FIRST_START_S)
                if why is None:
                    backoff = 0.0
                    print(f"worker restarted (restart {self.restarts}), pid {self.worker}", file=sys.stderr, flush=True)
                else:
                    backoff = min(max(backoff * 2, 0.1), self.BACKOFF_MAX_S)
                    self.last_exit = f"restart failed: {why}"
                    self.write_state()
                    print(f"worker restart failed: {why}; next try in {backoff:g} s", file=sys.stderr, flush=True)

    def reaped(self) -> bool:
        """Whether the worker has died (and been reaped) since the last look."""
        if self.worker is None:
            return False
        pid, status = os.waitpid(self.worker, os.WNOHANG)
        if pid == 0:
            return False
        self.last_exit = (f"killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                          else f"exited with status {os.WEXITSTATUS(status)}")
        print(f"worker pid {self.worker} {self.last_exit}", file=sys.stderr, flush=True)
        self.worker = None
        self.restarts += 1
        self.write_state()
        return True

    def stop_worker(self) -> None:
        if self.ec2_api is not None:
            self.ec2_api.terminate()
            self.ec2_api.wait()
            self.ec2_api = None
        if self.worker is None:
            return
        os.kill(self.worker, signal.SIGTERM)
        os.waitpid(self.worker, 0)
        self.worker = None


def _serve(supervisor: Supervisor, ready_fd: int) -> int:
    """The worker: bind every service of the model as it is now, say `ready` (or `error: ...`) on
    `ready_fd`, then serve until SIGTERM; SIGHUP re-reads the model."""
    waited = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    try:
        version = (supervisor.state_dir / MODEL_FILE).stat().st_mtime_ns
        topology = supervisor.read_model()
        supervisor.start(topology, supervisor_spec(topology, supervisor.lab))
        (supervisor.state_dir / RELOADED_FILE).write_text(str(version))
    except BaseException as exc:
        traceback.print_exc()
        os.write(ready_fd, ("error: " + " ".join(str(exc).split()) + "\n").encode())
        return 1
    os.write(ready_fd, f"{READY}\n".encode())
    os.close(ready_fd)
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
        return 0


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m vpcemu.services.supervisor STATE_DIR LAB", file=sys.stderr)
        return 2
    state_dir, lab = Path(argv[0]), argv[1]
    # `vpcemu up` says journalled once its journal names this process; EOF: it died before, and
    # nothing would ever remove what this process made
    if sys.stdin.readline().strip() != JOURNALLED:
        return 1
    # Blocked before any thread or worker exists, so every thread and worker inherits the mask and
    # only sigwait() takes these signals: no handler runs in the middle of a start or a reload.
    signal.pthread_sigmask(signal.SIG_BLOCK, Keeper.SIGNALS)
    supervisor = Supervisor(state_dir, lab)
    keeper = Keeper(supervisor)
    ec2_api = None
    try:
        supervisor.prepare(supervisor_spec(supervisor.read_model(), lab))
        # `vpcemu up` says go (a line on stdin) once the namespaces exist; EOF: the build failed
        if sys.stdin.readline().strip() != GO:
            return 1
        enter_netns(names.parking_ns(lab))
        ec2_api = keeper.spawn_ec2_api()        # it starts (imports, CA) while the worker binds
        why = keeper.start_worker(Keeper.FIRST_START_S) or keeper.await_ec2_api(ec2_api, Keeper.FIRST_START_S)
    except BaseException as exc:
        traceback.print_exc()
        why = " ".join(str(exc).split())
    if why is not None:
        if keeper.ec2_api is None and ec2_api is not None and ec2_api.poll() is None:
            ec2_api.kill()
            ec2_api.wait()
        keeper.stop_worker()
        print("error: " + why, flush=True)
        return 1
    print(READY, flush=True)
    # Nobody reads stdout after `ready`: anything printed later goes to the log instead of a closed pipe.
    os.dup2(2, 1)
    print(f"supervisor of lab {lab}: ready, pid {os.getpid()}, worker {keeper.worker}", file=sys.stderr, flush=True)
    return keeper.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
