"""Every verb of `vpcemu --help`, given what it must refuse: exit 2 with a message, no traceback, and
the lab exactly as before (its model, journal and state files, its status, and each namespace's
links, addresses, routes, rules, permanent neighbours and nft ruleset; no namespace, /etc/netns entry
or state directory added or removed).

Bad lab names (`..`, `/`, too long, upper case, unknown) for every verb that names a lab; files that
are not files (FIFOs, /dev/zero, directories), not UTF-8, not JSON, or of the wrong shape; paths to
write that cannot be written; numbers out of range (negative, zero, NaN, absurd); names AWS would
refuse (too long, characters a name cannot hold, taken); references to what does not exist; and
typer's own refusals (missing or unknown options, words where numbers go). One lab serves the module.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vpcemu.cli import app
from vpcemu.kernel.journal import JOURNAL_FILE, MODEL_FILE, STATE_FILE, STATE_ROOT
from vpcemu.kernel.nft import nft_run
from vpcemu.lab import Lab
from vpcemu.load import load_text

pytestmark = [pytest.mark.reliability, pytest.mark.kernel,
              pytest.mark.skipif(os.geteuid() != 0, reason="builds a lab: needs root")]

REPO = Path(__file__).resolve().parents[2]
LAB = "k-badargs"
# the drill lab, its AWS services, and a detached ENI (spare) to attach
TOPOLOGY = (REPO / "tests" / "data" / "drill.yaml").read_text().replace(
    "    network_interfaces:\n",
    "    network_interfaces:\n      spare: {subnet: private-a, security_groups: [open]}\n") \
    + "aws:\n  services: [s3, sqs]\n"
LONG = "x" * 64                                   # one more than a name may have
DESCRIPTION_256 = "d" * 256                       # one more than AWS's 255

BAD_LAB_NAMES = {
    "dotdot-path": "../vpcemu/" + LAB, "absolute": f"/run/vpcemu/{LAB}", "trailing-slash": f"{LAB}/",
    "empty": "", "dotdot": "..", "upper": "K-BADARGS", "too-long": "a" * 13, "semicolon": "x;rm -rf",
    "unknown": "nope",
}

# verb → its arguments but the lab (each a command that would act on the lab if the lab were right)
LAB_VERBS = {
    "probe": ["probe", "active", "standby", "--lab"],
    "sg-show": ["sg", "show", "open", "--lab"],
    "sg-authorize": ["sg", "authorize", "open", "-p", "tcp", "--port", "80", "--peer", "10.9.0.0/16", "--lab"],
    "nacl-show": ["nacl", "show", "default", "--lab"],
    "eni-detach": ["eni", "detach", "vip", "--lab"],
    "eni-create": ["eni", "create", "new-eni", "--subnet", "private-a", "--lab"],
    "exec": ["exec", "--lab", "{name}", "active", "--", "true"],
    "flowlogs": ["flowlogs", "-d", "0", "--lab"],
    "drill": ["drill", "az-outage", "--az", "us-east-1a", "--client", "client", "--target", "ext", "--lab"],
    "eip": ["eip", "disassociate", "198.51.100.20", "--lab"],
    "nat": ["nat", "delete", "nat-b", "--lab"],
    "route": ["route", "delete", "private-a", "0.0.0.0/0", "--lab"],
    "endpoint": ["endpoint", "delete", "nope", "--lab"],
    "diff": ["diff", "{matrix}", "--lab"],
    "verify": ["verify"],
    "matrix": ["matrix"],
    "status": ["status"],
    "report": ["report", "-o", "{tmp}/report.html"],
    "down": ["down"],
}


def lab_name_cases() -> dict[str, list[str]]:
    out = {}
    for verb, args in LAB_VERBS.items():
        # every bad name for the verbs that take the name first-hand; three for the others
        names = BAD_LAB_NAMES if verb in ("status", "down", "probe") else \
            {k: BAD_LAB_NAMES[k] for k in ("dotdot-path", "trailing-slash", "too-long")}
        for case, name in names.items():
            argv = [a.replace("{name}", name) for a in args]
            out[f"lab-{verb}-{case}"] = argv if "{name}" in " ".join(args) else [*argv, name]
    out["up-name-dotdot"] = ["up", "{topology}", "--name", "../x"]
    out["up-name-slash"] = ["up", "{topology}", "--name", "a/b"]
    out["up-name-long"] = ["up", "{topology}", "--name", "a" * 13]
    out["up-name-upper"] = ["up", "{topology}", "--name", "UP"]
    out["plan-name-slash"] = ["plan", "{topology}", "--name", "a/b"]
    out["up-same-name"] = ["up", "{topology}", "--name", LAB]
    out["down-name-and-all"] = ["down", LAB, "--all"]
    return out


FILE_CASES = {
    # files a verb reads
    **{f"{verb}-{what}": [verb, path] for verb in ("validate", "plan", "up")
       for what, path in (("dev-zero", "/dev/zero"), ("dev-urandom", "/dev/urandom"), ("fifo", "{fifo}"),
                          ("directory", "{dir}"), ("missing", "{tmp}/missing.yaml"), ("not-utf8", "{not_utf8}"),
                          ("too-big", "{big}"))},
    **{f"diff-before-{what}": ["diff", path, "--lab", LAB]
       for what, path in (("dev-zero", "/dev/zero"), ("dev-urandom", "/dev/urandom"), ("fifo", "{fifo}"),
                          ("directory", "{dir}"), ("missing", "{tmp}/missing.json"), ("not-utf8", "{not_utf8}"),
                          ("too-big", "{big}"), ("not-json", "{not_json}"), ("json-list", "{json_list}"),
                          ("no-cells", "{no_cells}"), ("bad-cell", "{bad_cell}"), ("deep-json", "{deep_json}"),
                          ("port-none-tcp", "{tcp_without_port}"))},
    **{f"diff-after-{what}": ["diff", "{matrix}", path]
       for what, path in (("dev-zero", "/dev/zero"), ("fifo", "{fifo}"), ("not-json", "{not_json}"))},
    # paths to write
    **{f"matrix-save-{what}": ["matrix", LAB, "--save", path]
       for what, path in (("directory", "{dir}"), ("missing-dir", "{tmp}/no/such/dir/m.json"),
                          ("under-a-file", "{not_json}/m.json"), ("fifo", "{fifo}"), ("proc", "/proc/vpcemu-m.json"))},
    **{f"flowlogs-output-{what}": ["flowlogs", "-d", "0", "--lab", LAB, "-o", path]
       for what, path in (("directory", "{dir}"), ("missing-dir", "{tmp}/no/such/dir/f.log"),
                          ("under-a-file", "{not_json}/f.log"), ("fifo", "{fifo}"))},
    **{f"{verb}-{what}": [*args, path]
       for verb, args in (("report-output", ["report", LAB, "-o"]), ("graph-output", ["graph", LAB, "-f", "svg", "-o"]),
                          ("probe-svg", ["probe", "active", "standby", "--lab", LAB, "--svg"]),
                          ("matrix-svg", ["matrix", LAB, "--svg"]),
                          ("drill-svg", ["drill", "az-outage", "--az", "us-east-1a", "--client", "client", "--target",
                                         "ext", "--lab", LAB, "--svg"]))
       for what, path in (("directory", "{dir}"), ("missing-dir", "{tmp}/no/such/dir/p.svg"), ("fifo", "{fifo}"))},
    **{f"graph-{what}": ["graph", path] for what, path in (("dev-zero", "/dev/zero"), ("fifo", "{fifo}"),
                                                            ("directory", "{dir}"), ("missing", "{tmp}/missing.yaml"),
                                                            ("not-utf8", "{not_utf8}"))},
    "graph-png-to-stdout": ["graph", LAB, "-f", "png"],
}

NUMBER_CASES = {
    **{f"probe-timeout-{v}": ["probe", "active", "standby", "--lab", LAB, "--timeout", v]
       for v in ("-1", "0", "nan", "inf", "1e9")},
    **{f"probe-port-{v}": ["probe", "active", "standby", "--lab", LAB, "-p", "tcp", "--port", v]
       for v in ("0", "-1", "65536", "99999999999999999999")},
    "probe-protocol": ["probe", "active", "standby", "--lab", LAB, "-p", "sctp"],
    **{f"matrix-timeout-{v}": ["matrix", LAB, "--timeout", v] for v in ("-1", "0", "nan")},
    **{f"matrix-port-{v}": ["matrix", LAB, "--port", v] for v in ("tcp/0", "tcp/70000", "sctp/1", "tcp", "tcp/x")},
    "matrix-from-unknown": ["matrix", LAB, "--from", "nope"],
    "matrix-to-unknown": ["matrix", LAB, "--to", "nope"],
    **{f"flowlogs-duration-{v}": ["flowlogs", "--lab", LAB, "-d", v] for v in ("-1", "nan", "inf", "1e12")},
    **{f"flowlogs-interval-{v}": ["flowlogs", "--lab", LAB, "-d", "0", "-i", v] for v in ("0", "-5", "100000")},
    **{f"drill-interval-{v}": ["drill", "az-outage", "--az", "us-east-1a", "--client", "client", "--target", "ext",
                               "--lab", LAB, "--interval-ms", v] for v in ("0", "-1", "nan", "1e9")},
    **{f"drill-hold-{v}": ["drill", "az-outage", "--az", "us-east-1a", "--client", "client", "--target", "ext",
                           "--lab", LAB, "--hold-ms", v] for v in ("-1", "inf", "1e12")},
    **{f"drill-tcp-port-{v}": ["drill", "az-outage", "--az", "us-east-1a", "--client", "client", "--target", "ext",
                               "--lab", LAB, "--tcp-port", v] for v in ("0", "70000")},
    **{f"drill-delay-{v}": ["drill", "eni-move", "--eni", "vip", "--to", "standby", "--client", "client",
                            "--lab", LAB, "--delay-ms", v] for v in ("-1", "nan", "1e12")},
    **{f"eni-delay-{verb}-{v}": ["eni", verb, *args, "--lab", LAB, "--delay-ms", v]
       for verb, args in (("detach", ["vip"]), ("move", ["vip", "--to", "standby"]),
                          ("attach", ["vip", "-i", "standby", "-d", "2"]))
       for v in ("-1", "nan")},
    **{f"eni-attach-index-{v}": ["eni", "attach", "spare", "-i", "standby", "-d", v, "--lab", LAB]
       for v in ("-1", "0", "32", "99999999999999999999")},
    **{f"sg-icmp-{what}": ["sg", "authorize", "open", "-p", "icmp", "--peer", "10.9.0.0/16", "--lab", LAB, opt, v]
       for what, opt, v in (("type-256", "--icmp-type", "256"), ("type-minus-2", "--icmp-type", "-2"),
                            ("code-300", "--icmp-code", "300"))},
    **{f"sg-port-{v}": ["sg", "authorize", "open", "-p", "tcp", "--port", v, "--peer", "10.9.0.0/16", "--lab", LAB]
       for v in ("80-70", "abc", "99999", "-5", "1-2-3")},
    **{f"nacl-rule-number-{v}": ["nacl", "add-entry", "default", "-n", v, "-p", "tcp", "--port", "80",
                                 "--action", "allow", "--cidr", "10.9.0.0/16", "--lab", LAB]
       for v in ("0", "32767", "-1", "100")},     # 100 is taken by the default ACL's entry
}

NAME_CASES = {
    # names AWS or a kernel object would refuse, and names taken
    **{f"eni-create-name-{what}": ["eni", "create", name, "--subnet", "private-a", "--lab", LAB]
       for what, name in (("64", LONG), ("200", "e" * 200), ("semicolon", "e;touch /tmp/vpcemu-x"),
                          ("slash", "a/b"), ("dotdot", ".."), ("empty", ""), ("space", "a b"),
                          ("newline", "a\nb"), ("taken-instance", "active"), ("taken-eni", "vip"),
                          ("taken-nat", "nat-a"), ("unicode", "é"))},
    **{f"endpoint-create-name-{what}": ["endpoint", "create", name, "--service", "s3", "--type", "gateway",
                                        "--route-table", "private-a", "--lab", LAB]
       for what, name in (("64", LONG), ("semicolon", "e;touch /tmp/vpcemu-x"), ("slash", "a/b"),
                          ("empty", ""), ("taken", "client"))},
    "sg-description-256": ["sg", "authorize", "open", "-p", "tcp", "--port", "81", "--peer", "10.9.0.0/16",
                           "--description", DESCRIPTION_256, "--lab", LAB],
    "sg-description-newline": ["sg", "authorize", "open", "-p", "tcp", "--port", "81", "--peer", "10.9.0.0/16",
                               "--description", "a\nb", "--lab", LAB],
    "sg-description-unicode": ["sg", "authorize", "open", "-p", "tcp", "--port", "81", "--peer", "10.9.0.0/16",
                               "--description", "café", "--lab", LAB],
    "eni-description-256": ["eni", "create", "new-eni", "--subnet", "private-a", "--description", DESCRIPTION_256,
                            "--lab", LAB],
    "eni-description-control": ["eni", "create", "new-eni", "--subnet", "private-a", "--description", "a\x1bb",
                                "--lab", LAB],
}

REFERENCE_CASES = {
    # what does not exist, or may not be done to what does
    "sg-unknown-group": ["sg", "authorize", "nope", "-p", "tcp", "--port", "80", "--peer", "10.9.0.0/16", "--lab", LAB],
    "sg-peer-not-cidr": ["sg", "authorize", "open", "-p", "tcp", "--peer", "nope", "--lab", LAB],
    "sg-peer-33": ["sg", "authorize", "open", "-p", "tcp", "--peer", "10.0.0.0/33", "--lab", LAB],
    "sg-peer-unknown-group": ["sg", "authorize", "open", "-p", "tcp", "--peer", "sg:nope", "--lab", LAB],
    "sg-peer-unknown-prefix-list": ["sg", "authorize", "open", "-p", "tcp", "--peer", "pl:nope", "--lab", LAB],
    "sg-protocol": ["sg", "authorize", "open", "-p", "tcpx", "--peer", "10.9.0.0/16", "--lab", LAB],
    "sg-port-and-icmp": ["sg", "authorize", "open", "-p", "icmp", "--port", "80", "--icmp-type", "8",
                         "--peer", "10.9.0.0/16", "--lab", LAB],
    "sg-revoke-absent": ["sg", "revoke", "open", "-p", "tcp", "--port", "9", "--peer", "10.9.0.0/16", "--lab", LAB],
    "sg-duplicate": ["sg", "authorize", "open", "-p", "all", "--peer", "0.0.0.0/0", "--lab", LAB],
    "sg-show-unknown": ["sg", "show", "nope", "--lab", LAB],
    "sg-unknown-vpc": ["sg", "show", "open", "--vpc", "nope", "--lab", LAB],
    "nacl-unknown": ["nacl", "show", "nope", "--lab", LAB],
    "nacl-action": ["nacl", "add-entry", "default", "-n", "50", "-p", "tcp", "--action", "maybe",
                    "--cidr", "10.9.0.0/16", "--lab", LAB],
    "nacl-cidr": ["nacl", "add-entry", "default", "-n", "50", "-p", "tcp", "--action", "allow", "--cidr", "x",
                  "--lab", LAB],
    "nacl-delete-absent": ["nacl", "delete-entry", "default", "-n", "999", "--lab", LAB],
    "nacl-associate-unknown-subnet": ["nacl", "associate", "nope", "default", "--lab", LAB],
    "nacl-associate-unknown-acl": ["nacl", "associate", "private-a", "nope", "--lab", LAB],
    "eni-attach-unknown": ["eni", "attach", "nope", "-i", "standby", "-d", "2", "--lab", LAB],
    "eni-attach-attached": ["eni", "attach", "vip", "-i", "standby", "-d", "2", "--lab", LAB],
    "eni-attach-unknown-instance": ["eni", "attach", "spare", "-i", "nope", "-d", "2", "--lab", LAB],
    "eni-attach-index-taken": ["eni", "attach", "spare", "-i", "active", "-d", "1", "--lab", LAB],
    "eni-detach-detached": ["eni", "detach", "spare", "--lab", LAB],
    "eni-detach-unknown": ["eni", "detach", "nope", "--lab", LAB],
    "eni-detach-primary": ["eni", "detach", "active.eth0", "--lab", LAB],
    "eni-detach-requester-managed": ["eni", "detach", "nat-a.eni", "--lab", LAB],
    "eni-delete-requester-managed": ["eni", "delete", "nat-a.eni", "--lab", LAB],
    "eni-move-unknown": ["eni", "move", "nope", "--to", "standby", "--lab", LAB],
    "eni-move-unknown-instance": ["eni", "move", "vip", "--to", "nope", "--lab", LAB],
    "eni-create-unknown-subnet": ["eni", "create", "new-eni", "--subnet", "nope", "--lab", LAB],
    "eni-create-address-outside": ["eni", "create", "new-eni", "--subnet", "private-a", "-a", "10.0.0.50",
                                   "--lab", LAB],
    "eni-create-address-taken": ["eni", "create", "new-eni", "--subnet", "private-a", "-a", "10.0.1.10",
                                 "--lab", LAB],
    "eni-create-address-reserved": ["eni", "create", "new-eni", "--subnet", "private-a", "-a", "10.0.1.1",
                                    "--lab", LAB],
    "eni-create-address-garbage": ["eni", "create", "new-eni", "--subnet", "private-a", "-a", "x", "--lab", LAB],
    "eni-create-unknown-group": ["eni", "create", "new-eni", "--subnet", "private-a", "-g", "nope", "--lab", LAB],
    "eni-create-six-groups": ["eni", "create", "new-eni", "--subnet", "private-a", *["-g", "open"] * 6, "--lab", LAB],
    "eni-delete-unknown": ["eni", "delete", "nope", "--lab", LAB],
    "eni-delete-attached": ["eni", "delete", "vip", "--lab", LAB],
    "eni-assign-garbage": ["eni", "assign-private-ip", "vip", "-a", "x", "--lab", LAB],
    "eni-assign-outside": ["eni", "assign-private-ip", "vip", "-a", "10.0.0.99", "--lab", LAB],
    "eni-assign-taken": ["eni", "assign-private-ip", "vip", "-a", "10.0.1.20", "--lab", LAB],
    "eni-unassign-absent": ["eni", "unassign-private-ip", "vip", "-a", "10.0.1.199", "--lab", LAB],
    "eni-unassign-primary": ["eni", "unassign-private-ip", "vip", "-a", "10.0.1.100", "--lab", LAB],
    "eni-modify-nothing": ["eni", "modify", "vip", "--lab", LAB],
    "eni-modify-unknown-group": ["eni", "modify", "vip", "-g", "nope", "--lab", LAB],
    "eni-modify-unknown": ["eni", "modify", "nope", "--no-source-dest-check", "--lab", LAB],
    "eip-associate-not-public": ["eip", "associate", "10.0.1.5", "--eni", "vip", "--lab", LAB],
    "eip-associate-garbage": ["eip", "associate", "x", "--eni", "vip", "--lab", LAB],
    "eip-associate-unknown-eni": ["eip", "associate", "198.51.100.30", "--eni", "nope", "--lab", LAB],
    "eip-associate-foreign-private": ["eip", "associate", "198.51.100.30", "--eni", "vip", "--private-ip",
                                      "10.0.1.20", "--lab", LAB],
    "eip-associate-in-use": ["eip", "associate", "198.51.100.20", "--eni", "vip", "--lab", LAB],
    "eip-associate-private-garbage": ["eip", "associate", "198.51.100.30", "--eni", "vip", "--private-ip", "x",
                                      "--lab", LAB],
    "eip-disassociate-unknown": ["eip", "disassociate", "198.51.100.99", "--lab", LAB],
    "eip-disassociate-garbage": ["eip", "disassociate", "x", "--lab", LAB],
    "nat-delete-unknown": ["nat", "delete", "nope", "--lab", LAB],
    "nat-delete-unknown-vpc": ["nat", "delete", "nat-b", "--vpc", "nope", "--lab", LAB],
    "route-create-unknown-table": ["route", "create", "nope", "10.9.0.0/16", "blackhole", "--lab", LAB],
    "route-create-bad-destination": ["route", "create", "private-a", "x", "blackhole", "--lab", LAB],
    "route-create-unknown-target": ["route", "create", "private-a", "10.9.0.0/16", "nope", "--lab", LAB],
    "route-create-existing": ["route", "create", "private-a", "0.0.0.0/0", "blackhole", "--lab", LAB],
    "route-create-vpc-cidr": ["route", "create", "private-a", "10.0.0.0/16", "blackhole", "--lab", LAB],
    "route-replace-absent": ["route", "replace", "private-a", "10.9.0.0/16", "blackhole", "--lab", LAB],
    "route-delete-absent": ["route", "delete", "private-a", "10.9.0.0/16", "--lab", LAB],
    "route-delete-local": ["route", "delete", "private-a", "10.0.0.0/16", "--lab", LAB],
    "endpoint-create-unknown-service": ["endpoint", "create", "ep", "--service", "nope", "--lab", LAB],
    "endpoint-create-type": ["endpoint", "create", "ep", "--service", "s3", "--type", "magic", "--lab", LAB],
    "endpoint-create-unknown-subnet": ["endpoint", "create", "ep", "--service", "sqs", "--subnet", "nope",
                                       "--lab", LAB],
    "endpoint-create-unknown-route-table": ["endpoint", "create", "ep", "--service", "s3", "--type", "gateway",
                                            "--route-table", "nope", "--lab", LAB],
    "endpoint-create-gateway-for-sqs": ["endpoint", "create", "ep", "--service", "sqs", "--type", "gateway",
                                        "--route-table", "private-a", "--lab", LAB],
    "endpoint-create-unknown-group": ["endpoint", "create", "ep", "--service", "sqs", "--subnet", "private-a",
                                      "--group", "nope", "--lab", LAB],
    "endpoint-delete-unknown": ["endpoint", "delete", "nope", "--lab", LAB],
    "drill-nat-unknown-route-table": ["drill", "nat-gateway-failure", "--nat-gateway", "nat-a", "--route-table",
                                      "nope", "--to", "nat-b", "--client", "client", "--target", "ext", "--lab", LAB],
    "drill-nat-unknown-nat": ["drill", "nat-gateway-failure", "--nat-gateway", "nope", "--route-table",
                              "private-a", "--to", "nat-b", "--client", "client", "--target", "ext", "--lab", LAB],
    "drill-eni-move-unknown-eni": ["drill", "eni-move", "--eni", "nope", "--to", "standby", "--client", "client",
                                   "--lab", LAB],
    "drill-ip-move-unknown-address": ["drill", "ip-move", "--address", "10.0.1.199", "--to", "standby.eth0",
                                      "--client", "client", "--lab", LAB],
    "drill-ip-move-garbage-address": ["drill", "ip-move", "--address", "x", "--to", "standby.eth0",
                                      "--client", "client", "--lab", LAB],
    "drill-az-unknown": ["drill", "az-outage", "--az", "us-east-1z", "--client", "client", "--target", "ext",
                         "--lab", LAB],
    "exec-unknown-target": ["exec", "--lab", LAB, "nope", "--", "true"],
    "exec-no-command": ["exec", "--lab", LAB, "active", "--"],
    "exec-detached-eni": ["exec", "--lab", LAB, "10.0.1.5", "--", "true"],
    "probe-unknown-source": ["probe", "nope", "standby", "--lab", LAB],
    "probe-unknown-destination": ["probe", "active", "nope", "--lab", LAB],
    "status-unknown": ["status", "nope"],
}

TYPER_CASES = {
    # refused by the command line parser itself
    "no-verb-option": ["--nope"],
    "unknown-verb": ["nope"],
    "up-no-file": ["up"],
    "probe-one-argument": ["probe", "active"],
    "probe-port-word": ["probe", "active", "standby", "--port", "eighty", "--lab", LAB],
    "probe-timeout-word": ["probe", "active", "standby", "--timeout", "soon", "--lab", LAB],
    "sg-missing-peer": ["sg", "authorize", "open", "-p", "tcp", "--lab", LAB],
    "nacl-rule-number-word": ["nacl", "delete-entry", "default", "-n", "one", "--lab", LAB],
    "eni-attach-missing-index": ["eni", "attach", "vip", "-i", "standby", "--lab", LAB],
    "drill-unknown": ["drill", "meteor", "--lab", LAB],
    "clean-argument": ["clean", "everything"],
    "eni-unknown-option": ["eni", "detach", "vip", "--force", "--lab", LAB],
}

CASES = {**lab_name_cases(), **FILE_CASES, **NUMBER_CASES, **NAME_CASES, **REFERENCE_CASES, **TYPER_CASES}


def test_there_are_at_least_150_cases():
    assert len(CASES) >= 150, len(CASES)


# -- the lab, and what "unchanged" means ----------------------------------------------------------------
def kernel_state(namespaces: list[str]) -> dict:
    """Each namespace's links, addresses, routes, rules, permanent neighbours (one `ip -batch` per
    namespace) and nft ruleset; carrier and operstate left out, as the kernel settles them itself."""
    batch = "link show\naddr show\nroute show table all\nrule show\nneigh show nud permanent\n"
    out = {}
    for ns in namespaces:
        text = subprocess.run(["ip", "-o", "-n", ns, "-batch", "-"], input=batch, capture_output=True, text=True,
                              check=True).stdout
        lines = [" ".join(w for w in line.replace(",LOWER_UP", "").replace("NO-CARRIER,", "").split()
                          if w not in SETTLING) for line in text.splitlines()]
        out[ns] = (sorted(lines), nft_run(ns, "list ruleset"))
    return out


SETTLING = {"UP", "DOWN", "LOWERLAYERDOWN", "UNKNOWN", "DORMANT"}     # operstate words


def cheap_state(lab: Lab) -> dict:
    d = STATE_ROOT / lab.name
    status = lab.status()
    for volatile in ("supervisor", "services_down"):      # the keeper's account, not the lab's model
        status.pop(volatile)
    return {"files": {f: (d / f).read_bytes() for f in (MODEL_FILE, JOURNAL_FILE, STATE_FILE)},
            "netns": sorted(os.listdir("/run/netns")),
            "etc_netns": sorted(os.listdir("/etc/netns")) if os.path.isdir("/etc/netns") else [],
            "labs": sorted(os.listdir(STATE_ROOT)), "status": status}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad-args")
    paths = {"tmp": str(tmp), "dir": str(tmp / "a-directory"), "fifo": str(tmp / "a-fifo"),
             "topology": str(tmp / "lab.yaml")}
    os.mkdir(paths["dir"])
    os.mkfifo(paths["fifo"])
    Path(paths["topology"]).write_text(TOPOLOGY)
    for key, content in (("not_utf8", b"format: 1\n\xff\xfe\n"), ("big", b"#" * (3 * 1024 * 1024)),
                         ("not_json", b"hello"), ("json_list", b"[1, 2]"), ("no_cells", b'{"lab": "x"}'),
                         ("deep_json", b"[" * 100_000),
                         ("bad_cell", json.dumps({"lab": LAB, "ports": [], "sources": [], "destinations": [],
                                                  "cells": [{"source": [1]}]}).encode()),
                         ("tcp_without_port", json.dumps({"lab": LAB, "ports": [], "sources": [], "destinations": [],
                                                          "cells": [{"source": "a", "destination": "b",
                                                                     "protocol": "tcp", "port": None,
                                                                     "observed": True, "answer": None,
                                                                     "reason": None}] * 2}).encode()),
                         ("matrix", json.dumps({"lab": LAB, "ports": ["icmp"], "sources": [], "destinations": [],
                                                "cells": []}).encode())):
        paths[key] = str(tmp / key)
        Path(paths[key]).write_bytes(content)
    with Lab.up(load_text(TOPOLOGY, name=LAB)) as the_lab:
        namespaces = the_lab.journal.live_namespaces()
        yield the_lab, paths, namespaces, cheap_state(the_lab), kernel_state(namespaces)


@pytest.mark.parametrize("argv", CASES.values(), ids=CASES.keys())
def test_a_bad_argument_exits_2_with_a_message_and_changes_nothing(lab, argv):
    the_lab, paths, namespaces, cheap, kernel = lab
    argv = [a.format(**paths) if "{" in a else a for a in argv]
    r = CliRunner().invoke(app, argv)
    assert r.exception is None or isinstance(r.exception, SystemExit), \
        f"{argv}: {type(r.exception).__name__}: {r.exception}"
    assert r.exit_code == 2, f"{argv}: exit {r.exit_code}: {r.output}"
    assert r.output.strip(), f"{argv}: no message"
    assert "Traceback" not in r.output
    assert not os.path.exists("/tmp/vpcemu-x"), "a name reached a shell"
    assert cheap_state(Lab.attach(LAB)) == cheap, argv
    assert kernel_state(namespaces) == kernel, argv
