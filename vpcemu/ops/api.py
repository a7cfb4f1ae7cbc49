"""One change of a running lab: an AWS API call (ops/) or a drill, run inside the lab's lock."""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable, TypeVar

if TYPE_CHECKING:
    from ..lab import Lab

F = TypeVar("F", bound=Callable[..., Any])


def one_change(fn: F) -> F:
    """`fn(lab, ...)` runs inside `lab.change()`: it reads the model as committed now, and no other
    process's change comes between its checks and its commit."""
    @functools.wraps(fn)
    def call(lab: "Lab", *args: Any, **kwargs: Any) -> Any:
        with lab.change():
            return fn(lab, *args, **kwargs)
    return call  # type: ignore[return-value]
