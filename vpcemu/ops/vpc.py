"""VPCs, live: ModifyVpcAttribute (enableDnsSupport, enableDnsHostnames), one attribute per call.
No kernel object holds them: the lab's resolvers answer from the new model once the call returns
(Lab.commit reloads them), so private hostnames and instances' public names come and go with the
attributes. A lab built with no resolver answering and nothing else to serve has no supervisor: turning
DNS support on starts one."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..kernel import process
from ..model import Topology
from ..rules import vpc as rules
from ..services.supervisor import supervisor_spec
from .api import one_change
from .security import one_vpc, with_vpc

if TYPE_CHECKING:
    from ..lab import Lab


@one_change
def modify_vpc_attribute(lab: Lab, vpc: str, enable_dns_support: bool | None = None,
                         enable_dns_hostnames: bool | None = None) -> Topology:
    topology = vpc_attribute_modified(lab.topology, vpc, enable_dns_support, enable_dns_hostnames)
    idle = process.supervisor_entry(lab.journal) is None
    lab.commit(topology)
    if idle and supervisor_spec(topology, lab.name).needed:
        lab.changing()
        process.start_supervisor(lab.journal, lab.name)
    return topology


def vpc_attribute_modified(topology: Topology, vpc: str, enable_dns_support: bool | None = None,
                           enable_dns_hostnames: bool | None = None) -> Topology:
    attribute, value = rules.one_attribute({"enable_dns_support": enable_dns_support,
                                            "enable_dns_hostnames": enable_dns_hostnames})
    v = one_vpc(topology, vpc, lambda _: True, f"VPC {vpc!r}", "InvalidVpcID.NotFound")
    if not value:
        rules.dns_attribute_off(v.name, attribute, [e.name for e in v.endpoints.values() if e.private_dns_enabled])
    return with_vpc(topology, replace(v, **{attribute: bool(value)}))
