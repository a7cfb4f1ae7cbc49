"""describe-* JSON files ⇄ a describe dict.

Reading: one file per call as people save it (`aws ec2 describe-vpcs > vpcs.json`), recognised by its
top-level key, the names free; a file, a directory of them, or the layout Batfish and CloudMapper use,
`aws_configs/[accounts/<id>/]<region>/*.json`, from which --region and --account pick. Writing: one file
per call, named after the AWS CLI command, which reading gives back.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..errors import Problem
from .describe import DESCRIBE_KEYS, IGNORED, UNREPRESENTED, Describe, DumpError, Origin, unknown_key

REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
ATTRIBUTES = ("EnableDnsSupport", "EnableDnsHostnames", "EnableNetworkAddressUsageMetrics")
MANAGED_FIELDS = ("OwnerId", "AddressFamily", "State", "PrefixListArn", "MaxEntries", "Entries")
MAX_FILE_BYTES = 64 * 1024 * 1024
# the AWS CLI command of each key, which names the file export writes
COMMANDS = {"Vpcs": "describe-vpcs", "Subnets": "describe-subnets", "RouteTables": "describe-route-tables",
            "NetworkInterfaces": "describe-network-interfaces", "SecurityGroups": "describe-security-groups",
            "NetworkAcls": "describe-network-acls", "InternetGateways": "describe-internet-gateways",
            "NatGateways": "describe-nat-gateways", "VpcEndpoints": "describe-vpc-endpoints",
            "VpcPeeringConnections": "describe-vpc-peering-connections", "Reservations": "describe-instances",
            "Addresses": "describe-addresses", "PrefixLists": "describe-prefix-lists",
            "ManagedPrefixLists": "describe-managed-prefix-lists"}


def write_dump(describe: Describe, directory: Path) -> list[Path]:
    """One file per call: each response exactly as the AWS CLI prints it."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for key, command in COMMANDS.items():
        body = {"PrefixLists" if key == "ManagedPrefixLists" else key: describe.get(key, [])}
        written.append(_write(directory / f"{command}.json", body))
    for attribute in describe.get("VpcAttributes", []):
        name = next(a for a in ATTRIBUTES if a in attribute)
        written.append(_write(directory / f"describe-vpc-attribute-{attribute['VpcId']}-{name}.json", attribute))
    return written


def _write(path: Path, body: Any) -> Path:
    path.write_text(json.dumps(body, indent=2) + "\n")
    return path


def read_dump(path: Path, region: str | None = None, account: str | None = None) -> tuple[Describe, Origin, str | None]:
    """The describe dict of the files under `path`, where each item came from, and the Region of the layout's
    directory (None for flat files)."""
    files, layout_region = _files(path, region, account)
    describe: Describe = {}
    origins: dict[tuple[str, str], str] = {}
    problems: list[Problem] = []
    for f in files:
        body, problem = _parse(f)
        if problem is not None:
            problems.append(problem)
            continue
        for key, items in _responses(f, body, problems):
            describe.setdefault(key, []).extend(items)
            field = DESCRIBE_KEYS[key][2] if key in DESCRIBE_KEYS else UNREPRESENTED[key][1]
            for item in items:
                if isinstance(item, dict) and isinstance(item.get(field), str):
                    origins.setdefault((key, item[field]), str(f))
    if problems:
        raise DumpError(problems, str(path))
    files_of: dict[str, list[str]] = {}
    for (key, _), f in origins.items():
        files_of.setdefault(key, []).append(f)

    def origin(key: str, item: dict) -> str:
        field = DESCRIBE_KEYS[key][2] if key in DESCRIBE_KEYS else ""
        found = origins.get((key, item.get(field))) if isinstance(item.get(field), str) else None
        candidates = sorted(set(files_of.get(key, [])))
        return found or (candidates[0] if len(candidates) == 1 else key)

    return describe, origin, layout_region


def _files(path: Path, region: str | None, account: str | None) -> tuple[list[Path], str | None]:
    if not path.exists():
        raise DumpError([Problem(str(path), "no such file or directory")])
    if path.is_file():
        return [path], None
    root = path / "aws_configs" if (path / "aws_configs").is_dir() else path
    found: list[tuple[Path, str | None, str | None]] = []
    for f in sorted(root.rglob("*.json")):
        parts = f.relative_to(root).parts[:-1]
        where_region = next((p for p in parts if REGION_RE.match(p)), None)
        where_account = parts[parts.index("accounts") + 1] if "accounts" in parts[:-1] else None
        found.append((f, where_region, where_account))
    if not found:
        raise DumpError([Problem(str(path), "holds no .json files",
                                 hint="save each describe-* call's output as a .json file there")])
    regions = sorted({r for _, r, _ in found if r})
    if region is None and len(regions) > 1:
        raise DumpError([Problem(str(path), f"holds several Regions ({', '.join(regions)})",
                                 hint="a lab is one Region: pass --region")])
    chosen = region or (regions[0] if regions else None)
    if region is not None and regions and region not in regions:
        raise DumpError([Problem(str(path), f"holds no directory for Region {region} (only {', '.join(regions)})")])
    accounts = sorted({a for _, _, a in found if a})
    if account is not None and accounts and account not in accounts:
        raise DumpError([Problem(str(path), f"holds no directory for account {account} (only {', '.join(accounts)})")])
    files = [f for f, r, a in found if (r is None or r == chosen) and (a is None or account is None or a == account)]
    return files, chosen if regions else None


def _parse(f: Path) -> tuple[Any, Problem | None]:
    try:
        if f.stat().st_size > MAX_FILE_BYTES:
            return None, Problem(str(f), f"is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        text = f.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, Problem(str(f), f"cannot be read as UTF-8 text: {exc}")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, Problem(str(f), f"is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                             hint="save the describe-* output with --output json (the AWS CLI's default)")
    except RecursionError:
        return None, Problem(str(f), "is not JSON a describe-* call returns: it is nested too deeply")
    if not isinstance(body, dict):
        return None, Problem(str(f), f"must hold one describe-* response (a JSON object), not a {type(body).__name__}",
                             hint="save the whole response, without --query")
    return body, None


def _responses(f: Path, body: dict, problems: list[Problem]) -> list[tuple[str, list]]:
    """The (key, items) one file holds. A DescribeVpcAttribute response is one VpcAttributes item; a
    DescribeManagedPrefixLists response is told from DescribePrefixLists' (both say PrefixLists) by its fields."""
    keys = set(body) - set(IGNORED)
    if body.get("NextToken"):
        problems.append(Problem(str(f), "is one page of a longer output (it has a NextToken)",
                                hint="dump every page: the AWS CLI does unless --max-items or --no-paginate is given"))
        return []
    if "VpcId" in keys and keys - {"VpcId"} <= set(ATTRIBUTES):
        return [("VpcAttributes", [{k: body[k] for k in keys}])]
    out = []
    for key in sorted(keys):
        items = body[key]
        if key == "PrefixLists" and isinstance(items, list) and any(
                isinstance(i, dict) and any(k in i for k in MANAGED_FIELDS) for i in items):
            key = "ManagedPrefixLists"
        if key not in DESCRIBE_KEYS and key not in UNREPRESENTED:
            problems.append(unknown_key(key, str(f)))
        elif not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            problems.append(Problem(str(f), f"{key} must be a list of objects, as AWS returns it"))
        else:
            out.append((key, items))
    return out
