"""Namespaces for kernel tests that need some without a lab, made and removed by the build's own steps:
apply.create_namespaces (journalled, IPv6 off, lo up, the ownership mark) and apply.teardown (by the
journal, only what carries the mark)."""
from __future__ import annotations

import uuid

from vpcemu.kernel import apply
from vpcemu.kernel.journal import STATE_ROOT, Journal
from vpcemu.plan.names import ownership_mark
from vpcemu.plan.state import Plan


class Namespaces:
    """Namespaces journalled under `lab`, a state directory without a state file, so neither `clean`
    nor `vpcemu list` takes it for a lab; `remove()` (or leaving the `with`) removes them and it."""

    def __init__(self, lab: str, lab_uuid: str | None = None) -> None:
        self.journal = Journal(lab)
        self.mark = ownership_mark(lab, lab_uuid or uuid.uuid4().hex)
        STATE_ROOT.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.journal.dir.mkdir(mode=0o700)

    def create(self, *names: str) -> None:
        apply.create_namespaces(Plan(self.journal.lab, names), self.journal, self.mark)

    def remove(self) -> list[str]:
        """What teardown reports: namespaces it left alone because they do not carry the mark."""
        try:
            return apply.teardown(self.journal, expect_mark=self.mark)
        finally:
            self.journal.remove()

    def __enter__(self) -> Namespaces:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
