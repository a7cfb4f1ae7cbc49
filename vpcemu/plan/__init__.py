"""Planning: Topology → Plan, the desired kernel state as a value (pure: printable, diffable, no root).

`plan_lab` is imported on first use (PEP 562), so importing a light part of the package (`plan.names`, for a
lab's namespace names) does not load the planner."""
from .state import Plan

__all__ = ["Plan", "plan_lab"]


def __getattr__(name: str):
    if name == "plan_lab":
        from .build import plan_lab
        return plan_lab
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
