"""One import's state: the dump, what of it is live, the names chosen, the format-1 document being written,
where each part of that document came from (so a refusal names the file and the AWS id), and what the
import reports (problems stop it; notices are said and, with --strict, unrepresentable ones stop it too).

The per-kind modules fill it in three passes (aws/importer.py): `live` picks what AWS would treat as live,
names.py names it, `from_aws` writes its part of the document.
"""
from __future__ import annotations

from typing import Any

from ..errors import Problem
from .describe import DESCRIBE_KEYS, Describe, Notice, Origin, items

Document = dict[str, Any]
DESCRIBE_KINDS = {k: kind for k, (_, kind, _) in DESCRIBE_KEYS.items()} | {"Instances": "instance"}
ID_FIELDS = {k: field for k, (_, _, field) in DESCRIBE_KEYS.items()} | {"Instances": "InstanceId"}


class Importer:
    def __init__(self, describe: Describe, origin: Origin, region: str, account: str | None):
        self.describe = describe
        self.origin = origin
        self.region = region
        self.account = account
        self.problems: list[Problem] = []
        self.notices: list[Notice] = []
        self.known: dict[str, str] = {}                   # every id in the dump → its key, live or not
        self.live: dict[str, dict[str, dict]] = {}        # key → id → item, for what import carries over
        self.names: dict[str, str] = {}                   # id → its name in the document
        self.eni_role: dict[str, str] = {}                # ENI id → primary, standalone, nat, endpoint or service
        self.attached: dict[str, list[str]] = {}          # instance id → the ids of its live ENIs
        self.primary: dict[str, str] = {}                 # instance id → its primary ENI's id
        self.eips: dict[str, dict[str, str]] = {}         # ENI id → private IP → Elastic IP
        self.public_ips: dict[str, str] = {}              # ENI id → the public IPv4 AWS assigned its primary IP
        self.sources: dict[str, str] = {}                 # id → where it came from, for what one item holds inside
        self.prefix_list_services: dict[str, str] = {}    # pl id → the service of an AWS-managed list (s3, dynamodb)
        self.prefix_list_cidrs: dict[str, list[str]] = {} # pl id → CIDRs of any other list whose entries are known
        self.services: set[str] = set()                   # services the endpoints reach (aws.services)
        self.prefix_list_ids: dict[str, str] = {}         # service → its AWS-managed prefix list's id
        self.allocation_ids: dict[str, str] = {}          # Elastic IP carried over → its AllocationId
        self.doc: Document = {"format": 1, "region": region, "vpcs": {}}
        self.provenance: dict[str, tuple[str, str]] = {}  # document path → (file or key, AWS id)

    # -- what the dump holds -------------------------------------------------------------------------
    def items(self, key: str):
        return items(self.describe, key)

    def where(self, key: str, item: dict) -> str:
        """The file `item` came from (or its key, for a dict handed to the API)."""
        ident = item.get(ID_FIELDS.get(key, ""))
        if isinstance(ident, str) and ident in self.sources:
            return self.sources[ident]
        return self.origin(key, item)

    def of(self, key: str) -> dict[str, dict]:
        return self.live.setdefault(key, {})

    def is_live(self, key: str, ident: Any) -> bool:
        return isinstance(ident, str) and ident in self.live.get(key, {})

    def holds(self, ident: Any) -> bool:
        """The dump has this id, live or not (anything but a string is no id)."""
        return isinstance(ident, str) and ident in self.known

    # -- reports -------------------------------------------------------------------------------------
    def error(self, key: str, item: dict, ident: Any, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(f"{self.where(key, item)}: {ident or '(no id)'}", message, hint=hint))

    def notice(self, category: str, kind: str, ident: Any, detail: str) -> None:
        self.notices.append(Notice(category, kind, str(ident), detail))

    def dropped(self, kind: str, ident: Any, detail: str) -> None:
        self.notice("dropped", kind, ident, detail)

    def unrepresentable(self, kind: str, ident: Any, detail: str) -> None:
        self.notice("unrepresentable", kind, ident, detail)

    def changed(self, kind: str, ident: Any, detail: str) -> None:
        self.notice("changed", kind, ident, detail)

    def reference(self, key: str, item: dict, ident: Any, field: str, target: Any, target_key: str) -> bool:
        """`item`'s `field` names `target` of `target_key`: True if it is live; an id the dump does not hold at
        all is a dangling reference (an error); one it holds but dropped is for the caller to say."""
        if self.is_live(target_key, target):
            return True
        if not self.holds(target):
            kind = DESCRIBE_KINDS.get(target_key, target_key)
            self.error(key, item, ident, f"{field} {target!r} is not in the dump", hint=f"dump {kind}s too "
                       f"(the {target_key} call's output), or remove what refers to it")
        return False

    # -- the document --------------------------------------------------------------------------------
    def vpc_doc(self, vpc_id: str) -> Document:
        return self.doc["vpcs"][self.names[vpc_id]]

    def place(self, vpc_id: str, section: str, ident: str, fragment: Document, key: str, item: dict) -> None:
        """`fragment` as vpcs.<vpc>.<section>.<name of ident>, remembered as coming from `item`."""
        name = self.names[ident]
        self.vpc_doc(vpc_id).setdefault(section, {})[name] = fragment
        self.provenance[f"vpcs.{self.names[vpc_id]}.{section}.{name}"] = (self.where(key, item), ident)

    def came_from(self, path: str, key: str, item: dict, ident: str) -> None:
        self.provenance[path] = (self.where(key, item), ident)
