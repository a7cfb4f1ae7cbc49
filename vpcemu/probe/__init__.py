"""Probes: real packets through the real kernel objects, with the path they took and why they stopped."""
from .probe import Hop, ProbeResult, run_probe

__all__ = ["Hop", "ProbeResult", "run_probe"]
