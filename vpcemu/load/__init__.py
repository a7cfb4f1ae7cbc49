"""Loading: the topology file → a validated, immutable Topology (pure: no root, no kernel)."""
from .loader import load_text, load_topology

__all__ = ["load_text", "load_topology"]
