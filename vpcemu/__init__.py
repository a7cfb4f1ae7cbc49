"""vpcemu: Amazon VPC networking emulated on one Linux host with network namespaces.

The product's core is `Lab`; the CLI (`vpcemu`) and the pytest plugin (`vpc_lab`) are thin users of it.
"""
from typing import TYPE_CHECKING

from .errors import KernelError, TopologyError, UsageError, VpcemuError

if TYPE_CHECKING:
    from .lab import Lab
    from .load import load_text, load_topology

__all__ = ["KernelError", "Lab", "TopologyError", "UsageError", "VpcemuError", "load_text", "load_topology"]


def __getattr__(name: str):
    # Imported on first use, so a process that needs one part (the lab supervisor, `vpcemu validate`)
    # does not pay for loading all of them.
    if name == "Lab":
        from .lab import Lab
        return Lab
    if name in ("load_text", "load_topology"):
        from . import load
        return getattr(load, name)
    raise AttributeError(f"module 'vpcemu' has no attribute {name!r}")
