"""Errors vpcemu reports to users: what went wrong, where, why, and what to do next.

Every user-facing failure is one of these. Topology and command errors exit with status 2 and
change nothing; kernel errors name the operation, namespace, object and errno.
"""
from __future__ import annotations

from dataclasses import dataclass

from .codes import ErrorCode


class VpcemuError(Exception):
    """Base of every error vpcemu raises on purpose."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One broken rule: `path` names the field (`vpcs.main.subnets.a.cidr`), `code` is AWS's error code."""

    path: str
    message: str
    code: ErrorCode | None = None
    hint: str | None = None

    def __post_init__(self) -> None:
        if self.code is not None:       # an unknown code is a bug here, not the user's problem
            object.__setattr__(self, "code", ErrorCode(self.code))

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        if self.code:
            text += f" [{self.code}]"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class TopologyError(VpcemuError):
    """The topology file breaks one or more rules; nothing was built."""

    exit_code = 2

    def __init__(self, problems: list[Problem], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        lines = [f"{head}{len(self.problems)} problem(s) in the topology:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class UsageError(VpcemuError):
    """A command was asked for something that does not exist or is not allowed; nothing changed."""

    exit_code = 2

    def __init__(self, message: str, code: ErrorCode | str | None = None, hint: str | None = None):
        code = None if code is None else ErrorCode(code)
        self.message = message          # without code and hint: the loader files it under a YAML path
        self.code = code
        self.hint = hint
        text = message + (f" [{code}]" if code else "") + (f" (hint: {hint})" if hint else "")
        super().__init__(text)


class ServiceDown(VpcemuError):
    """A service of the lab (its resolver, an internet host, the AWS region) is not running, so what a
    probe or a program would see is not what AWS would do."""

    exit_code = 4


class KernelError(VpcemuError):
    """A kernel operation failed: which operation, in which namespace, on which object, errno."""

    def __init__(self, operation: str, namespace: str | None, obj: str | None, errno: int | None, detail: str):
        self.operation = operation
        self.namespace = namespace
        self.obj = obj
        self.errno = errno
        self.detail = detail
        where = f" in namespace {namespace}" if namespace else ""
        what = f" on {obj}" if obj else ""
        err = f" (errno {errno})" if errno is not None else ""
        super().__init__(f"{operation}{what}{where} failed{err}: {detail}")
