"""A Topology → the describe dict: what each describe-* call would return for the lab, with its ids."""
from __future__ import annotations

from ..model import Topology
from . import (elastic_ip, instance, internet_gateway, nat_gateway, network_acl, network_interface, peering, prefix_list,
               route_table, security_group, subnet, vpc, vpc_endpoint)
from .describe import OWNER, Describe


def export_describe(topology: Topology, account: str = OWNER) -> Describe:
    t = topology
    return {
        "Vpcs": vpc.to_aws(t, account),
        "VpcAttributes": vpc.attributes_to_aws(t),
        "Subnets": subnet.to_aws(t, account),
        "RouteTables": route_table.to_aws(t, account),
        "NetworkInterfaces": network_interface.to_aws(t, account),
        "SecurityGroups": security_group.to_aws(t, account),
        "NetworkAcls": network_acl.to_aws(t, account),
        "InternetGateways": internet_gateway.to_aws(t, account),
        "NatGateways": nat_gateway.to_aws(t, account),
        "VpcEndpoints": vpc_endpoint.to_aws(t, account),
        "VpcPeeringConnections": peering.to_aws(t, account),
        "Reservations": instance.to_aws(t, account),
        "Addresses": elastic_ip.to_aws(t, account),
        "PrefixLists": prefix_list.to_aws(t),
        "ManagedPrefixLists": prefix_list.managed_to_aws(t),
    }
