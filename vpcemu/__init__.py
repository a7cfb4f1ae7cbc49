"""vpcemu: Amazon VPC networking emulated on one Linux host with network namespaces.

The product's core is `Lab`; the CLI (`vpcemu`) and the pytest plugin (`vpc_lab`) are thin users of it.
"""
from .errors import KernelError, TopologyError, UsageError, VpcemuError
from .lab import Lab
from .load import load_text, load_topology

__all__ = ["KernelError", "Lab", "TopologyError", "UsageError", "VpcemuError", "load_text", "load_topology"]
