"""The model: pure, immutable dataclasses named after AWS's resources. No I/O, no kernel."""
from .endpoint import VpcEndpoint
from .expectation import Expectation
from .ids import aws_id, mac_address
from .instance import Instance, MetadataOptions
from .internet import InternetHost, Listener
from .nat_gateway import NatGateway
from .network_acl import NetworkAcl, NetworkAclEntry
from .network_interface import Attachment, NetworkInterface
from .peering import VpcPeeringConnection
from .prefix_list import GATEWAY_SERVICES, KNOWN_SERVICES, PrefixList
from .route_table import Route, RouteTable, TargetKind
from .security_group import SecurityGroup, SecurityGroupRule
from .subnet import Subnet
from .topology import Addressing, Ec2ApiTiming, Named, Topology
from .vpc import Vpc

__all__ = [
    "Addressing", "Attachment", "Ec2ApiTiming", "Expectation", "GATEWAY_SERVICES", "Instance", "InternetHost",
    "MetadataOptions",
    "KNOWN_SERVICES", "Listener", "Named", "NatGateway", "NetworkAcl", "NetworkAclEntry",
    "NetworkInterface", "PrefixList", "Route", "RouteTable", "SecurityGroup", "SecurityGroupRule",
    "Subnet", "TargetKind", "Topology", "Vpc", "VpcEndpoint", "VpcPeeringConnection", "aws_id",
    "mac_address",
]
