"""VPCs, live: ModifyVpcAttribute (enableDnsSupport, enableDnsHostnames), one attribute per call.
No kernel object holds them: the lab's resolvers answer from the new model once the call returns
(Lab.commit reloads them), so private hostnames, instances' public names and endpoints' private DNS
come and go with the attributes."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..model import Topology
from ..rules import vpc as rules
from .api import one_change
from .security import one_vpc, with_vpc

if TYPE_CHECKING:
    from ..lab import Lab


@one_change
def modify_vpc_attribute(lab: Lab, vpc: str, enable_dns_support: bool | None = None,
                         enable_dns_hostnames: bool | None = None) -> Topology:
    return lab.commit(vpc_attribute_modified(lab.topology, vpc, enable_dns_support, enable_dns_hostnames))


def vpc_attribute_modified(topology: Topology, vpc: str, enable_dns_support: bool | None = None,
                           enable_dns_hostnames: bool | None = None) -> Topology:
    attribute, value = rules.one_attribute({"enable_dns_support": enable_dns_support,
                                            "enable_dns_hostnames": enable_dns_hostnames})
    v = one_vpc(topology, vpc, lambda _: True, f"VPC {vpc!r}", "InvalidVpcID.NotFound")
    if not value:
        rules.dns_attribute_off(v.name, attribute, [e.name for e in v.endpoints.values() if e.private_dns_enabled])
    return with_vpc(topology, replace(v, **{attribute: bool(value)}))
