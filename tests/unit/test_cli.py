"""The CLI contract: exit codes, --json, clear errors; nothing built on bad input."""
from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from vpcemu.cli import app

TOPOLOGIES = Path(__file__).parents[2] / "topologies"
runner = CliRunner()


def test_validate_ok():
    r = runner.invoke(app, ["validate", str(TOPOLOGIES / "three-tier.yaml")])
    assert r.exit_code == 0 and "valid" in r.stdout


def test_validate_bad_file_exit_2_with_path_and_code(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: 1\nvpcs:\n  main:\n    cidr: 10.0.0.0/16\n    subnets:\n"
                   "      a: {cidr: 10.1.0.0/24, az: us-east-1a}\n")
    r = runner.invoke(app, ["validate", str(bad), "--json"])
    assert r.exit_code == 2
    body = json.loads(r.stdout)
    assert body["problems"][0]["path"] == "vpcs.main.subnets.a.cidr"
    assert body["problems"][0]["code"] == "InvalidSubnet.Range"


def test_missing_file_exit_2(tmp_path):
    r = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert r.exit_code == 2


def test_plan_json_without_root():
    r = runner.invoke(app, ["plan", str(TOPOLOGIES / "default.yaml"), "--json"])
    assert r.exit_code == 0
    assert "default-vpc-main" in json.loads(r.stdout)["namespaces"]


def test_plan_shows_each_veth_with_its_mtu():
    r = runner.invoke(app, ["plan", str(TOPOLOGIES / "default.yaml")])
    assert r.exit_code == 0
    assert "veth igw " in r.stdout and " ⇄ default-igw-main/vpc " in r.stdout
    lines = r.stdout.splitlines()
    assert next(x for x in lines if " ⇄ default-igw-main/vpc " in x).endswith(" mtu 9001")
    assert next(x for x in lines if " ⇄ default-igw-main/inet " in x).endswith(" mtu 1500")
    assert next(x for x in lines if " ⇄ default-nat-nat-a/eth0 " in x).endswith(" mtu 8500")


def test_up_with_a_bad_topology_creates_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: 1\nname: cli-bad\nvpcs:\n  main: {cidr: 10.0.0.0/8}\n")
    before = sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else []
    r = runner.invoke(app, ["up", str(bad)])
    assert r.exit_code == 2 and "InvalidVpc.Range" in r.output
    after = sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else []
    assert before == after
    assert not Path("/run/vpcemu/cli-bad").exists()


# -- a process loads only its verb's module ------------------------------------------------------------
def test_each_verb_is_found_in_the_module_that_defines_it():
    import importlib

    from vpcemu import cli
    defined = {}
    for module, attr, name in cli.GROUPS:
        verbs = getattr(importlib.import_module(f"vpcemu.cli.{module}"), attr)
        if name:
            defined[name] = module
        for info in verbs.registered_commands if not name else ():
            defined[info.name or info.callback.__name__.replace("_", "-")] = module
    assert defined == cli.VERBS
    full = __import__("typer").main.get_command(app)
    assert set(full.commands) == set(cli.VERBS)


def test_the_verb_of_a_command_line():
    from vpcemu.cli import verb
    assert verb(["validate", "x.yaml"]) == "validate"
    assert verb(["--lock-timeout", "5", "sg", "authorize"]) == "sg"
    assert verb(["--lock-timeout=5", "exec", "web-1", "--", "ls"]) == "exec"
    for argv in ([], ["--help"], ["nope"], ["--lock-timeout"]):
        assert verb(argv) is None, argv


def test_validate_imports_no_other_verbs_module():
    import subprocess
    import sys
    code = ("import sys; from vpcemu import cli; sys.argv = ['vpcemu', 'validate', 'topologies/default.yaml']\n"
            "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('vpcemu.cli.')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       cwd=Path(__file__).resolve().parents[2])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "['vpcemu.cli.common', 'vpcemu.cli.files']"


def test_the_kernel_layer_loads_pyroute2s_netlink_definitions_without_the_rest_of_pyroute2():
    """pyroute2's package __init__ (NDB, IPDB, WireGuard, ...) runs only when someone asks pyroute2 for a name;
    then every name it defines is there, as if it had run at the start."""
    import subprocess
    import sys
    code = ("import sys, vpcemu.kernel.apply, vpcemu.kernel.host\n"
            "print('pyroute2.ndb' in sys.modules, 'pyroute2.iproute' in sys.modules)\n"
            "from pyroute2 import IPRoute, NDB\n"
            "import pyroute2\n"
            "print(IPRoute is pyroute2.iproute.IPRoute, NDB.__name__, isinstance(pyroute2.__version__, str))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       cwd=Path(__file__).resolve().parents[2])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["False False", "True NDB True"]
