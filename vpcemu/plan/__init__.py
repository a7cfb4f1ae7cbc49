"""Planning: Topology → Plan, the desired kernel state as a value (pure: printable, diffable, no root)."""
from .build import plan_lab
from .state import Plan

__all__ = ["Plan", "plan_lab"]
