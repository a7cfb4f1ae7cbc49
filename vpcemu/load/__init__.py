"""Loading: the topology file → a validated, immutable Topology (pure: no root, no kernel).

One module per part of the file, mirroring model/: document (the top level), vpc, subnet,
security_group, network_acl, network_interface (ENIs and instances), gateways (internet and NAT),
endpoint, route_table, peering, internet, expect; shape reads typed YAML values with their paths and
context holds the loader's state. AWS's rules are vpcemu/rules/'s; here each refusal gets its path.
"""
from .document import load_text, load_topology

__all__ = ["load_text", "load_topology"]
