"""AWS-shaped identifiers (`vpc-…`, `subnet-…`, `eni-…`) derived from names, so a topology always gets the same ids."""
from __future__ import annotations

import hashlib
import re

# AWS's resource ids: the prefix of the kind, then 8 hex digits (the old short ids) or 17 (the long ones)
ID_RE = re.compile(r"^(?P<prefix>[a-z]+)-(?:[0-9a-f]{8}|[0-9a-f]{17})$")


def aws_id(prefix: str, *parts: str) -> str:
    """`prefix-` + 17 hex digits, stable for the same parts (AWS's long-id shape)."""
    digest = hashlib.sha256("/".join((prefix, *parts)).encode()).hexdigest()
    return f"{prefix}-{digest[:17]}"


def mac_address(*parts: str) -> str:
    """A stable, unicast, locally administered MAC (AWS uses the same kind: 0e:…, 12:…)."""
    digest = hashlib.sha256("/".join(("mac", *parts)).encode()).digest()
    return ":".join(f"{b:02x}" for b in (0x0E, *digest[:5]))
