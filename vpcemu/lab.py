"""Lab: the Python API and the product's core. The CLI and the pytest plugin are thin users of it.

    with Lab.up("topologies/three-tier.yaml") as lab:
        lab.exec("web-1", ["ip", "-4", "addr"])
        lab.probe("web-1", "app-a", protocol="tcp", port=22)
"""
from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import replace as dataclass_replace
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from . import history, lifecycle
from .codes import ErrorCode
from .errors import ServiceDown, UsageError
# apply, conntrack, host and reconcile (pyroute2: 60 ms to import) are imported by the methods that use them,
# so a process that only reads a lab (`vpcemu status`) does without them
from .kernel import netns, process
from .kernel.journal import BUILT_DIR, CHANGING_FILE, LOCK_TIMEOUT, MODEL_FILE, Journal, all_labs
from .kernel.stored_model import StagedModel, keep_as_built, read_model_if_changed, restore_model, write_model
from .model import Topology
from .plan import names
from .plan.names import ownership_mark
from .plan.state import Plan
from .rules import elastic_ip
from .rules.names import unknown_id, valid_lab_name
from .services.environment import exec_environment, instance_resolv_conf, trust_argv
from .services.supervisor import CA_BUNDLE_FILE, supervisor_spec


@dataclass(frozen=True)
class Endpoint:
    """Where a name lives in the lab: its namespace, its interface and address there."""

    name: str
    kind: str                     # instance | network-interface | internet-host | aws-service | address
    namespace: str | None
    address: IPv4Address
    ifname: str | None = None
    vpc: str | None = None


def require_root() -> None:
    if os.geteuid() != 0:
        raise UsageError("building and using labs needs root (network namespaces, netlink, nftables)",
                         hint="run with sudo; `vpcemu validate` and `vpcemu plan` work without root")


class Lab:
    def __init__(self, name: str, topology: Topology, journal: Journal, lock_timeout: float = LOCK_TIMEOUT,
                 model_version: str | None = None):
        self.name = name
        self.topology = topology
        self.journal = journal
        self.lock_timeout = lock_timeout
        self.rulesets: dict[str, str] = {}     # VPC → the router ruleset last loaded by this process
        # the digest of the stored document `topology` was read from (None: not known, read again at need)
        self._model_version = model_version
        self._lock_fd: int | None = None
        self._lock_depth = 0
        self._plans: dict[str, Plan] = {}       # model version → its plan, the two used last (a reset's two)
        self._built: tuple[tuple[int, int], Topology, str] | None = None    # (inode, mtime) → built model, version

    # -- lifecycle ---------------------------------------------------------------------------
    @classmethod
    def up(cls, topology: str | Path | Topology, name: str | None = None, replace: bool = False,
           source: str | None = None) -> "Lab":
        """Build a lab and start its supervisor (resolvers, internet hosts, AWS services); all-or-nothing.
        Raises TopologyError (nothing created) or KernelError (rolled back). A lab of the same name
        whose last build died is refused, or with `replace` removed first; a live one is always refused.
        `source`: where the lab came from as `status` says it (default: the file, or "<python>").

        The journal's state records how long it took (`timings`): `usable_seconds` from this call until every
        namespace is built and every service answers, and its parts `prepare_seconds` (load, plan, claim),
        `build_seconds` (the kernel build) and `services_seconds` (from the end of the build until the
        services answer; the supervisor starts during the build)."""
        called = time.monotonic()
        from .kernel import apply, host
        from .load import load_topology
        if name is not None:
            valid_lab_name(name)
        if not isinstance(topology, Topology):
            source = source or str(topology)
            topology = load_topology(topology, name=name)
        else:
            source = source or "<python>"
        lab_name = valid_lab_name(name or topology.name)
        elastic_ip.off_host_networks(elastic_ip.lab_public_addresses(topology), host.uplink_networks())
        plan = _planned(topology, Journal(lab_name))
        require_root()
        journal = Journal(lab_name)
        lab = cls(lab_name, topology, journal)
        lab_uuid = uuid.uuid4().hex
        lock = _claim(journal, lab_uuid, source, replace)
        try:
            # a placeholder file in /run/netns is in the way too (the kernel's O_EXCL says File exists)
            clash = [ns for ns in plan.namespaces if netns.entry_exists(ns)]
            if clash:
                raise UsageError(f"namespace {clash[0]} exists already and is not this lab's",
                                 ErrorCode.NAMESPACE_IN_USE,
                                 hint="choose another lab name with --name; `vpcemu clean` removes what crashed "
                                      "labs left")
            lab.commit(topology)
            keep_as_built(journal.dir)
            started = time.monotonic()
            # the supervisor starts (imports, CA) while the kernel objects are made, then binds in them
            supervisor = process.spawn_supervisor(journal, lab_name) \
                if supervisor_spec(topology, lab_name).needed else None
            apply.build(plan, journal, lab_uuid)
            built = time.monotonic()
            if supervisor is not None:
                process.await_supervisor(journal, lab_name, supervisor)
            usable = time.monotonic()
            journal.write_state(status="up", usable_seconds=round(usable - called, 4),
                                prepare_seconds=round(started - called, 4), build_seconds=round(built - started, 4),
                                services_seconds=round(usable - built, 4),
                                services_started_by=None if supervisor is None else process.started_by(supervisor))
        except BaseException:
            apply.teardown(journal, expect_mark=ownership_mark(lab_name, lab_uuid))
            journal.remove()
            raise
        finally:
            os.close(lock)
        return lab

    @classmethod
    def attach(cls, name: str | None = None) -> "Lab":
        """The running lab called `name`, or the only one that is up."""
        journal = Journal(_choose(name))
        topology, version = _read_model(journal)
        return cls(journal.lab, topology, journal, model_version=version)

    @staticmethod
    def remove(name: str | None = None) -> list[str]:
        """Tear down the lab called `name` (or the only one up) from its journal, without needing its
        model: what `down` does, for a lab whose model is torn too. A lab still being built is
        refused. Returns what was left alone (entries that cannot be the lab's), and why."""
        journal = Journal(_choose(name))
        if lifecycle.condition(journal) == lifecycle.BUILDING:
            raise UsageError(f"lab {journal.lab!r} is being built by pid {journal.state().get('pid')}",
                             hint="wait until `vpcemu up` returns; if it hangs, stop it, then `vpcemu clean`")
        return lifecycle.remove(journal)

    @staticmethod
    def list() -> list[str]:
        return all_labs()

    # -- changing it ---------------------------------------------------------------------------
    @contextmanager
    def change(self) -> Iterator["Lab"]:
        """Hold the lab's lock around one change: read model → edit → kernel → commit, with no other
        process's change in between (an flock on the state directory, waited for `lock_timeout` s,
        then LabBusy). Inside, `self.topology` is the committed model as it is now, whoever wrote it.

        All or nothing: a change that fails after its first kernel step (`changing()`) is rolled back
        by reconciling the kernel to the still-committed model; one killed there leaves a marker, and
        the next change of the lab repairs first. Re-entrant: a drill's steps share one hold."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield self
            finally:
                self._lock_depth -= 1
            return
        fd = self._lock()
        self._lock_fd, self._lock_depth = fd, 1
        marker = self.journal.dir / CHANGING_FILE
        try:
            self.refresh()
            if marker.exists():                 # a change was killed between its kernel steps
                self.repair()
                marker.unlink()
            try:
                yield self
            except BaseException:
                if marker.exists():
                    self.repair()
                raise
            finally:
                marker.unlink(missing_ok=True)
        finally:
            self._lock_fd, self._lock_depth = None, 0
            os.close(fd)

    def _lock(self) -> int:
        fd = self.journal.lock(self.lock_timeout)
        if fd is None:
            raise UsageError(f"lab {self.name} is busy: another change held its lock for {self.lock_timeout:g} s",
                             "LabBusy", hint="try again, or wait longer with --lock-timeout SECONDS")
        return fd

    def changing(self) -> None:
        """Called by a live change before its first kernel step: from here a failure or a kill needs the
        kernel reconciled to the committed model (see `change`)."""
        if not self._lock_depth:
            raise RuntimeError("a live change must run inside Lab.change()")
        (self.journal.dir / CHANGING_FILE).touch()

    def refresh(self) -> "Lab":
        """Read the committed model again if another process committed since this one last read or
        wrote it (a read and a digest of the document when nothing changed). Changes do it under the
        lock; readers (probe, verify, status) before they look."""
        topology, version = _read_model(self.journal, self._model_version)
        if topology is not None:
            self.topology = topology
            self.rulesets.clear()               # what this process loaded may have been replaced since
            self._model_version = version
        return self

    @staticmethod
    def choose(name: str | None) -> str:
        """`name`, checked by the lab-name rule and up; or the only lab that is up."""
        return _choose(name)

    @classmethod
    def statuses(cls) -> list[dict]:
        """status() of every lab; one that cannot be attached (being built, damaged) says its condition
        and why, so no lab stops the listing of another."""
        from .status import unattached_status
        out = []
        for name in all_labs():
            try:
                out.append(cls.attach(name).status())
            except UsageError as exc:
                journal = Journal(name)
                if journal.exists():            # not removed meanwhile
                    out.append(unattached_status(journal, str(exc)))
        return out

    def commit(self, topology: Topology, stored: Path | StagedModel | None = None) -> Topology:
        """Make `topology` the lab's model: the one write path for it. It is stored as a format-1 document
        (and a pickle of it to read faster, kernel/stored_model.py), each file replaced atomically (a reader
        sees the old model or the new one, never part of one), and when anything the VPC resolvers answer
        from changed, they answer from the new model once this returns. `stored`: a directory holding
        `topology` stored already (the built model), whose files are put in place instead of written anew; or
        `topology` staged already (StagedModel), put in place."""
        before = self.topology
        version = restore_model(self.journal.dir, stored) if isinstance(stored, Path) else \
            stored.install() if stored is not None else write_model(self.journal.dir, topology)
        self.topology = topology
        self._model_version = version
        if not _same_resolver_inputs(before, topology):
            process.reload_supervisor(self.journal)
        return topology

    def down(self) -> list[str]:
        """Stop the supervisor, then tear down from the journal, newest first; nothing else is touched.
        Waits for a change in progress to end (the lab's lock), so none is left half-applied. Returns
        what was left alone (entries that cannot be the lab's), and why."""
        try:
            fd = None if self._lock_depth else self._lock()
        except FileNotFoundError:
            return []                           # removed meanwhile
        try:
            return lifecycle.remove(self.journal)
        finally:
            if fd is not None:
                os.close(fd)

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.down()

    # -- model and kernel agree -------------------------------------------------------------
    def planned(self, topology: Topology | None = None) -> Plan:
        """The kernel state the committed model (or `topology`) asks for: what `up` builds, resolv.conf
        files included."""
        if topology is not None:
            return _planned(topology, self.journal)
        return self._plan(self.topology, self._model_version)

    def _plan(self, topology: Topology, version: str | None) -> Plan:
        """The plan of `topology`, stored as model `version`; the plans of the last two versions are kept."""
        if version is None:
            return _planned(topology, self.journal)
        plan = self._plans.pop(version, None) or _planned(topology, self.journal)
        self._plans[version] = plan
        while len(self._plans) > 2:
            del self._plans[next(iter(self._plans))]
        return plan

    def _built_model(self) -> tuple[Topology, str]:
        """The model the lab was built from and its version (read once: it never changes)."""
        path = self.journal.dir / BUILT_DIR
        st = (path / MODEL_FILE).stat()
        if self._built is None or self._built[0] != (st.st_ino, st.st_mtime_ns):
            self._built = ((st.st_ino, st.st_mtime_ns), *read_model_if_changed(path, None))
        return self._built[1], self._built[2]

    def differences(self) -> list[str]:
        """Each way the lab's kernel differs from the committed model, and a dead supervisor; empty when
        all agree. Changes nothing; waits for a change in progress to end (the lab's lock)."""
        from .kernel import reconcile
        with self._held():
            found = reconcile.differences(self.planned(), self.journal)
        health = process.supervisor_health(self.journal)
        if health is not None and health["state"] != "up":
            found.append(f"the supervisor (pid {health['pid']}) is not running: nothing restarts the services")
        return found

    def repair(self) -> list[str]:
        """Make the kernel hold the committed model again (after a change failed or was killed), and
        the resolvers answer from it; one line per fix made. Inside a change it is that change's
        rollback; on its own it takes the lab's lock, and a killed change's marker goes with the repair."""
        from .kernel import reconcile
        with self._held() as own:
            fixed = reconcile.reconcile(self.planned(), self.journal)
            self.rulesets.clear()               # what this process loaded may be what was just undone
            revived = process.revive_supervisor(self.journal, self.name)
            if revived:
                fixed.append(revived)
            # a change killed between writing the model and telling the resolvers leaves them behind;
            # which model they read is known only by its version, so any other version is read again
            if process.supervisor_behind(self.journal):
                process.reload_supervisor(self.journal)
            if own:
                (self.journal.dir / CHANGING_FILE).unlink(missing_ok=True)
            return fixed

    def reset(self) -> list[str]:
        """Undo every live change since the lab was built (security groups, NACLs, ENI moves and attachments,
        addresses, EIPs, routes, endpoints, VPC attributes, whoever made them) and forget every tracked flow:
        the difference between the plans of the committed model and of the built one applied as a live change
        applies it (ops/live.py: only what differs is touched, each router's table changed in one transaction
        where it differs, nothing read back from the kernel), the built model committed again, the resolvers
        told, and every namespace's conntrack table emptied. A lab whose last change was cut short is repaired
        first (Lab.change: the kernel read back and reconciled to the committed model), so the difference
        starts from a kernel known to hold it. What a test started inside instances (processes, files) and
        what the AWS services hold (S3 objects) stay. Returns one line per kernel step made."""
        from .kernel import conntrack
        from .ops.live import apply_plans
        with self.change():
            built, version = self._built_model()
            plan, done = self._plan(built, version), []
            if version != self._model_version:
                done = apply_plans(self, built, self.planned(), plan)
                self.commit(built, stored=self.journal.dir / BUILT_DIR)
            conntrack.forget_all_flows(plan.namespaces)
        return done

    @contextmanager
    def _held(self) -> Iterator[bool]:
        """The lab's lock for a look at (or repair of) the whole lab, unless this process's change holds
        it already; True when taken here. The model is re-read if another process committed since."""
        if self._lock_depth:
            yield False
            return
        fd = self._lock()
        try:
            self.refresh()
            yield True
        finally:
            os.close(fd)

    # -- names -------------------------------------------------------------------------------
    def resolve(self, target: str) -> Endpoint:
        """An instance (name or i- id), an ENI (name or eni- id), an internet host or an IPv4 address."""
        t = self.topology
        target = t.name_of(target, "i", "eni")
        if target in t.instances:
            inst = t.instances[target]
            eni = t.vpcs[inst.vpc].network_interfaces[inst.primary_network_interface]
            return Endpoint(target, "instance", names.instance_ns(self.name, target), eni.private_ip_address,
                            "eth0", inst.vpc)
        try:
            eni = t.network_interface(target)
        except KeyError:
            eni = None
        if eni is not None:
            if eni.attachment is None:
                return Endpoint(target, "network-interface", None, eni.private_ip_address, None, eni.vpc)
            return Endpoint(target, "network-interface", names.instance_ns(self.name, eni.attachment.instance),
                            eni.private_ip_address, names.instance_link(eni.attachment.device_index), eni.vpc)
        if target in t.internet_hosts:
            return Endpoint(target, "internet-host", names.internet_host_ns(self.name, target),
                            t.internet_hosts[target].ip)
        if target in t.services:
            return Endpoint(target, "aws-service", names.region_ns(self.name), t.service_addresses[target][0])
        try:
            return Endpoint(target, "address", None, IPv4Address(target))
        except ValueError:
            pass
        unknown_id(target, ("i", "eni"))
        known = sorted(t.instances) + sorted(t.network_interfaces) + sorted(t.internet_hosts) + list(t.services)
        raise UsageError(f"{target!r} is not an instance, ENI, internet host, AWS service or IPv4 address of lab "
                         f"{self.name}",
                         hint=f"known: {', '.join(known[:20])}")

    def namespace_of(self, target: str) -> str:
        ep = self.resolve(target)
        if ep.namespace is None:
            raise UsageError(f"{target!r} has no namespace to run programs in",
                             hint="name an instance, an ENI attached to one, or an internet host")
        return ep.namespace

    # -- using it ----------------------------------------------------------------------------
    def exec_environment(self, instance: bool = False) -> dict[str, str]:
        """What a program run in the lab gets in its environment: the region, the AWS CLI on the PATH, dummy
        credentials outside instances (inside, IMDS hands out the role's) and, once the supervisor has
        written it, the CA bundle that trusts the lab's services."""
        bundle = self.journal.dir / CA_BUNDLE_FILE
        # no bundle without a supervisor, and then nothing in the lab speaks TLS
        return exec_environment(self.topology.region, bundle if bundle.exists() else None, instance)

    def exec_argv(self, target: str, argv: list[str]) -> list[str]:
        """The argv that runs `argv` inside `target`'s namespace with exec_environment() added (by
        `env`, so it holds for whoever runs the argv). `ip netns exec` puts the namespace's
        /etc/netns/<ns>/resolv.conf (the VPC resolver) in place of /etc/resolv.conf, in a mount namespace of
        its own where the lab's CA bundle then covers every trust store (services/trust_mount.py)."""
        if not argv:
            raise UsageError("no command given", hint="vpcemu exec web-1 -- ip -4 addr")
        ep = self.resolve(target)
        in_instance = ep.kind in ("instance", "network-interface")
        env = [f"{k}={v}" for k, v in self.exec_environment(in_instance).items()]
        bundle = self.journal.dir / CA_BUNDLE_FILE
        trust = trust_argv(bundle) if bundle.exists() else []
        return ["ip", "netns", "exec", self.namespace_of(target), "env", *env, *trust, *argv]

    def exec(self, target: str, argv: list[str], check: bool = False, timeout: float | None = None,
             **kwargs: Any) -> subprocess.CompletedProcess:
        """Run a program inside an instance or internet host (argv list: user words never reach a shell)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(self.exec_argv(target, argv), check=check, timeout=timeout, **kwargs)

    SERVICE_RESTART_WAIT_S = 2.0

    def require_services(self, wait: float = SERVICE_RESTART_WAIT_S) -> None:
        """Return once every service of the lab answers (waiting up to `wait` s for a restart under
        way); raise ServiceDown naming the ones that do not, so that no check reports what only a
        kernel RST or a silent port said."""
        deadline = time.monotonic() + wait
        while True:
            health = process.supervisor_health(self.journal)
            down = [s for s in health["services"] if s["state"] != "up"] if health else []
            if health is not None and not health["services"]:
                down = [{"service": "every service", "namespace": names.parking_ns(self.name)}]
            if not down:
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.01)        # the keeper restarts the worker; its account says when it is back
        keeper = "up" if health["state"] == "up" else "down too: nothing will restart them"
        raise ServiceDown(f"lab {self.name}: {', '.join(s['service'] for s in down)} "
                          f"{'is' if len(down) == 1 else 'are'} not running (supervisor pid {health['pid']} {keeper}; "
                          f"restarts so far: {health['restarts']}; last: {health['last_exit'] or 'none'}); "
                          f"see {self.journal.dir / 'supervisor.log'}")

    def probe(self, source: str, destination: str, protocol: str = "icmp", port: int | None = None,
              timeout: float = 1.0, record: bool = True):
        """One probe; kept in the lab's history for `vpcemu report` unless `record` is False (verify keeps
        its probes in its own record)."""
        from .probe import run_probe
        self.refresh()
        self.require_services()
        result = run_probe(self, source, destination, protocol=protocol, port=port, timeout=timeout)
        if record:
            history.record(self.journal.dir, "probe", result.to_dict())
        return result

    def status(self) -> dict:
        from .status import lab_status
        return lab_status(self.refresh())


def _choose(name: str | None) -> str:
    labs = all_labs()
    if name is None:
        if len(labs) != 1:
            raise UsageError("no lab is up" if not labs else f"{len(labs)} labs are up ({', '.join(labs)})",
                             hint="name one with --lab" if labs else "start one with `vpcemu up FILE`")
        return labs[0]
    valid_lab_name(name)
    if name not in labs:
        raise UsageError(f"no lab named {name!r} is up", hint=f"labs up: {', '.join(labs) or 'none'}")
    return name


def _claim(journal: Journal, lab_uuid: str, source: str, replace: bool) -> int:
    """Claim the lab's name for a new build, holding its lock (the fd returned). A lab of that name whose
    last build died (crashed, broken, damaged) is refused, or with `replace` removed first; a live one is
    always refused."""
    for _ in range(2):
        try:
            return journal.create(lab_uuid, source)
        except FileExistsError:
            state = lifecycle.condition(journal) if journal.exists() else None
        name = journal.lab
        if state is None or state not in lifecycle.GONE:
            building = f" (being built by pid {journal.state().get('pid')})" if state == lifecycle.BUILDING else ""
            raise UsageError(f"a lab named {name!r} is already up{building}" if state else
                             f"{journal.dir} exists but holds no lab's state",
                             ErrorCode.LAB_ALREADY_EXISTS,
                             hint=f"`vpcemu down {name}` first, or choose another name with --name" if state else
                             "it is not vpcemu's: move it away, or choose another name with --name")
        if not replace:
            raise UsageError(f"lab {name!r} is {state}: {lifecycle.WHY[state]}; what it left is in the way",
                             ErrorCode.LAB_CRASHED,
                             hint="`vpcemu clean` removes it, or `vpcemu up --replace` removes it and builds anew")
        lifecycle.remove(journal)
    raise UsageError(f"a lab named {journal.lab!r} was made again while the crashed one was removed",
                     ErrorCode.LAB_ALREADY_EXISTS, hint="another `vpcemu up` of the same name won; `vpcemu status` shows it")


def _same_resolver_inputs(before: Topology, after: Topology) -> bool:
    """Do the resolvers answer the same from both models? At once where every VPC kept its ENIs (the same
    objects: an edit replaces what it changes) and its endpoints and DNS attributes; else compared in full."""
    if before is after:
        return True
    if before.vpcs.keys() == after.vpcs.keys() and all(
            a.network_interfaces is b.network_interfaces
            and (a.endpoints, a.enable_dns_support, a.enable_dns_hostnames)
            == (b.endpoints, b.enable_dns_support, b.enable_dns_hostnames)
            for a, b in ((before.vpcs[name], v) for name, v in after.vpcs.items())):
        return True
    return _resolver_inputs(before) == _resolver_inputs(after)


def _resolver_inputs(topology: Topology) -> tuple:
    """What the resolvers' zones are built from (dns/zone.py): ENI addresses (private; public, of attached
    ENIs, for instances' public names), endpoints and the VPCs' DNS attributes."""
    return ({n: (e.private_ip_addresses, e.public_addresses if e.attachment else {})
             for n, e in topology.network_interfaces.items()},
            {v.name: (v.endpoints, v.enable_dns_support, v.enable_dns_hostnames) for v in topology.vpcs.values()})


def _planned(topology: Topology, journal: Journal) -> Plan:
    from .plan import plan_lab
    plan = plan_lab(topology, journal.lab)
    files, links = instance_resolv_conf(topology, journal.lab, journal.dir)
    return dataclass_replace(plan, files={**plan.files, **files}, symlinks={**plan.symlinks, **links})


def _read_model(journal: Journal, known: str | None = None) -> tuple[Topology | None, str]:
    """The lab's committed model and its version (None for the model if its version is `known`);
    UsageError saying why if there is none to act on."""
    name = journal.lab
    try:
        return read_model_if_changed(journal.dir, known)
    except Exception:           # missing, damaged or not a model: nothing to act on but the journal
        state = lifecycle.condition(journal)
        if state == lifecycle.BUILDING:
            raise UsageError(f"lab {name!r} is still being built (pid {journal.state().get('pid')})",
                             hint="wait until `vpcemu up` returns") from None
        raise UsageError(f"lab {name!r} has no usable state ({state}: its model cannot be read)",
                         hint=f"`vpcemu down {name}` removes it from its journal; `vpcemu clean` removes "
                              "every crashed or damaged lab") from None
