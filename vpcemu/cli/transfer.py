"""`vpcemu import aws PATH`: an AWS account's describe-* output → a format-1 topology file,
`vpcemu import terraform STATE`: the same from a Terraform state (through vpcemu/aws/terraform.py), and
`vpcemu export LAB`: a lab (as it is now, after live changes) → AWS's describe-* files or a format-1 file.
Import and export of files need no root; exporting a running lab reads its model (root)."""
from __future__ import annotations

import json
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from .common import JsonOpt, call, console, emit, err_console

app = typer.Typer()
import_app = typer.Typer(no_args_is_help=True, help="Make a topology file from an existing network's description.")

OutOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="Write here instead of standard output.")]


@import_app.command("aws")
def import_aws(
        path: Annotated[Path, typer.Argument(help="A describe-* JSON file, a directory of them, or an aws_configs/ "
                                                  "tree ([accounts/<id>/]<region>/*.json).")],
        output: OutOpt = None,
        region: Annotated[Optional[str], typer.Option(help="The Region to import (needed when PATH holds several).")]
        = None,
        account: Annotated[Optional[str], typer.Option(help="Only this account's resources.")] = None,
        strict: Annotated[bool, typer.Option(help="Exit 2 if anything cannot be represented.")] = False,
        as_json: JsonOpt = False) -> None:
    """Import an AWS account's VPCs from its describe-* output (AWS CLI or boto3, one file per call). What is not
    live is dropped, what vpcemu cannot represent is listed; both are said. Exit 2, writing nothing, if the dump is
    malformed or breaks an AWS rule."""
    from ..aws import convert, read_dump
    describe, origin, layout_region = call(as_json, read_dump, path, region, account)
    imported = call(as_json, convert, describe, region or layout_region, account, origin, str(path))
    finish_import(str(path), imported, output, strict, as_json)


def finish_import(source: str, imported: tuple, output: Path | None, strict: bool, as_json: bool) -> None:
    """What every `vpcemu import` does with the document made: --strict, write it, say what was not carried over."""
    text, notices, topology = imported
    unrepresentable = [n for n in notices if n.category == "unrepresentable"]
    if strict and unrepresentable:
        call(as_json, _refuse_unrepresentable, unrepresentable)
    if output is not None:
        output.write_text(text)
    summary = {"imported": source, "output": str(output) if output else None, "region": topology.region,
               "vpcs": len(topology.vpcs), "subnets": sum(len(v.subnets) for v in topology.vpcs.values()),
               "instances": len(topology.instances), "network_interfaces": len(topology.network_interfaces),
               "notices": [asdict(n) for n in notices]}
    if as_json:
        if output is None:
            summary["topology"] = text
        emit(summary, True)
        return
    for n in notices:
        err_console.print(f"[yellow]{n.category}[/]: {n.kind} {n.id}: {n.detail}", highlight=False)
    if output is None:
        print(text, end="")
    else:
        console.print(f"[green]imported[/]: {source} → {output}: {summary['vpcs']} VPC(s), {summary['subnets']} "
                      f"subnet(s), {summary['instances']} instance(s), {summary['network_interfaces']} ENI(s); "
                      f"{len(notices)} notice(s)")


def _refuse_unrepresentable(notices: list) -> None:
    raise UsageError(f"--strict: {len(notices)} thing(s) in the dump cannot be represented: "
                     + "; ".join(f"{n.kind} {n.id}" for n in notices),
                     hint="drop --strict to import the rest (each is listed), or remove them from the dump")


@import_app.command("terraform")
def import_terraform(
        state: Annotated[Path, typer.Argument(help="terraform.tfstate (state version 4, or `terraform state pull`), "
                                                   "or `terraform show -json` output.")],
        output: OutOpt = None,
        strict: Annotated[bool, typer.Option(help="Exit 2 if anything cannot be represented.")] = False,
        as_json: JsonOpt = False) -> None:
    """Import the VPCs a Terraform state manages, as AWS would describe them (the local and gateway-endpoint
    routes the provider leaves out, the main route table, the default security group and network ACL). What
    vpcemu cannot represent is listed by resource address. Exit 2, writing nothing, if the state is malformed,
    names an object it does not hold, or breaks an AWS rule."""
    from ..aws import DESCRIBE_KEYS, convert
    from ..aws.terraform import convert_state, read_state
    data = call(as_json, read_state, state)
    describe, warnings, addresses = call(as_json, convert_state, data, str(state))

    def origin(key: str, item: dict) -> str:       # the importer's refusals name the resource to change
        field = DESCRIBE_KEYS[key][2] if key in DESCRIBE_KEYS else ""
        return addresses.get(str(item.get(field)), key)

    text, notices, topology = call(as_json, convert, describe, None, None, origin, str(state), "terraform")
    finish_import(str(state), (text, warnings + notices, topology), output, strict, as_json)


class Format(str, Enum):
    aws = "aws"
    yaml = "yaml"


@app.command()
def export(
        lab: Annotated[str, typer.Argument(help="A running lab's name, or a topology file.")],
        format: Annotated[Format, typer.Option("--format", "-f", help="aws: one describe-* JSON file per call; "
                                                                       "yaml: a format-1 topology file.")] = Format.yaml,
        output: Annotated[Optional[Path], typer.Option(
            "--output", "-o", help="aws: a directory (default: standard output, all calls in one JSON object); "
                                   "yaml: a file (default: standard output).")] = None,
        account: Annotated[Optional[str], typer.Option(help="The account id the AWS shapes name as owner.")] = None,
        as_json: JsonOpt = False) -> None:
    """Export a lab as it is now (after live changes): AWS's describe-* output, which `vpcemu import aws` reads back
    to the same lab, or a format-1 topology that builds the same lab."""
    topology = _topology(lab, as_json)
    if format == Format.yaml:
        from ..load.write import topology_text
        text = topology_text(topology)
        if output is None:
            print(text, end="")
        else:
            output.write_text(text)
            if not emit({"exported": topology.name, "format": "yaml", "output": str(output)}, as_json):
                console.print(f"[green]exported[/]: lab {topology.name} → {output}")
        return
    from ..aws import export_describe, write_dump
    from ..aws.describe import OWNER
    describe = export_describe(topology, account or OWNER)
    if output is None:
        print(json.dumps(describe, indent=2))
        return
    files = write_dump(describe, output)
    if not emit({"exported": topology.name, "format": "aws", "files": [str(f) for f in files]}, as_json):
        console.print(f"[green]exported[/]: lab {topology.name} → {len(files)} describe-* file(s) in {output}")


def _topology(lab: str, as_json: bool):
    """A topology file's model, or the running lab's as it is now."""
    if lab.endswith((".yaml", ".yml")) or Path(lab).is_file():
        from ..load import load_topology
        return call(as_json, load_topology, Path(lab))
    from .common import running_lab
    return running_lab(lab, as_json).refresh().topology
