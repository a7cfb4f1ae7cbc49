"""A build killed at any instant leaves nothing `clean` cannot find; a lab whose model is torn or whose
journal is damaged is still removed completely; one lab's damage stops nobody else; nothing of a lab
being built is touched; `up` of a name whose build died says so, and `--replace` builds anew; and a
series of up/down leaves nothing growing (tests/reliability/chaos_up.py, with small numbers here:
`scripts/chaos` runs the long versions)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import chaos_up
from vpcemu.cli import app
from vpcemu.errors import UsageError
from vpcemu.kernel import netns
from vpcemu.kernel.journal import MODEL_FILE, STATE_ROOT, Journal
from vpcemu.lab import Lab
from vpcemu.lifecycle import clean_crashed
from vpcemu.load import load_text

pytestmark = [pytest.mark.reliability, pytest.mark.kernel,
              pytest.mark.skipif(os.geteuid() != 0, reason="builds labs: needs root")]

SMALL = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
    instances:
      a1: {subnet: a, private_ip: 10.0.1.10}
      a2: {subnet: a, private_ip: 10.0.1.11}
"""
runner = CliRunner()


def cli(*argv: str):
    r = runner.invoke(app, list(argv))
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.output
    return r


def up_small(name: str) -> Lab:
    return Lab.up(load_text(SMALL, name=name))


def crash(lab: Lab) -> None:
    """Make `lab` look like a build whose builder died: its status never became up."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    lab.journal.write_state(status="building", pid=dead.pid)


# -- kill -9 of up at random instants and aimed at the namespace phase -------------------------------
def test_kill_9_of_up_anywhere_leaves_nothing_after_clean_and_the_name_builds_again():
    figures = chaos_up.run(kills=6, aimed=4, seed=14, lab="k-chaos")
    print({k: v for k, v in figures.items() if k != "failures"})
    assert figures["kills"] == 10 and figures["aimed_kills"] == 4
    assert chaos_up.holds(figures), str(figures)


def test_up_down_cycles_leave_nothing_growing():
    figures = chaos_up.soak(5, lab="k-soak")
    print(figures)
    assert chaos_up.soak_holds(figures), str(figures)


# -- a build held mid-way (a hook in a child process: the build waits for a line on stdin) --------------
HELD_BUILD = """
import sys
from vpcemu.kernel import apply
from vpcemu.lab import Lab
from vpcemu.load import load_text
real = apply.apply_links

def apply_links(plan):
    print("namespaces made", flush=True)      # the namespaces exist, their veths do not yet
    sys.stdin.readline()
    real(plan)

apply.apply_links = apply_links
Lab.up(load_text(sys.argv[1], name=sys.argv[2]))
print("up", flush=True)
"""


def held_build(name: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HELD_BUILD, SMALL, name], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=chaos_up.ENV)
    assert proc.stdout.readline().strip() == "namespaces made"
    return proc


def lab_namespaces(name: str) -> list[str]:
    return sorted(n for n in os.listdir(netns.NETNS_DIR) if n.startswith(f"{name}-"))


def test_a_lab_being_built_is_listed_as_building_and_nothing_touches_it():
    name = "k-held"
    proc = held_build(name)
    try:
        made = lab_namespaces(name)
        assert made
        r = cli("status", "--json")
        assert r.exit_code == 0, r.output
        [mine] = [s for s in json.loads(r.stdout) if s["lab"] == name]
        assert mine["status"] == "building"
        r = cli("status", name)
        assert r.exit_code == 0 and "building" in r.output, r.output
        assert cli("clean").exit_code == 0
        r = cli("up", str(chaos_up.DEFAULT), "--name", name, "--replace")
        assert r.exit_code == 2 and "LabAlreadyExists" in r.output, r.output
        r = cli("down", name)
        assert r.exit_code == 2 and "is being built" in r.output, r.output
        with pytest.raises(UsageError, match="already up"):
            Lab.up(load_text(SMALL, name=name), replace=True)
        assert lab_namespaces(name) == made and Journal(name).exists()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "up"
    finally:
        proc.kill()
        proc.wait()
    Lab.remove(name)
    assert lab_namespaces(name) == [] and chaos_up.remains(name) == []


def test_up_of_a_name_whose_build_died_says_so_and_replace_builds_anew():
    name = "k-died"
    proc = held_build(name)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert lab_namespaces(name)
    r = cli("up", str(chaos_up.DEFAULT), "--name", name)
    assert r.exit_code == 2
    assert "LabCrashed" in r.output and "vpcemu clean" in r.output and "--replace" in r.output
    r = cli("status", "--json")
    assert r.exit_code == 0 and {"lab": name, "status": "crashed"}.items() <= \
        next(s for s in json.loads(r.stdout) if s["lab"] == name).items()
    lab = Lab.up(load_text(SMALL, name=name), replace=True)
    try:
        assert lab.status()["status"] == "up" and lab.probe("a1", "a2").reachable
    finally:
        lab.down()
    assert chaos_up.remains(name) == []


def test_a_half_made_namespace_the_journal_names_is_removed():
    name = "k-half"
    lab = up_small(name)
    placeholder, unmarked = f"{name}-placeholder", f"{name}-unmarked"
    lab.journal.record("netns", name=placeholder)
    open(f"{netns.NETNS_DIR}/{placeholder}", "x").close()        # the file made to mount on, never mounted
    lab.journal.record("netns", name=unmarked)
    subprocess.run(["ip", "netns", "add", unmarked], check=True)  # mounted, the mark not yet written
    crash(lab)
    report = clean_crashed()
    assert name in report["removed_labs"], report
    assert lab_namespaces(name) == [] and chaos_up.remains(name) == []


# -- damaged state -----------------------------------------------------------------------------------
def test_a_lab_whose_model_is_torn_or_missing_is_removed_by_down_and_by_clean():
    for verb, damage in (("down", "torn"), ("down", "missing"), ("clean", "torn"), ("clean", "missing")):
        name = f"k-{damage}"
        lab = up_small(name)
        model = lab.journal.dir / MODEL_FILE
        if damage == "torn":
            model.write_bytes(model.read_bytes()[:50])
        else:
            model.unlink()
        try:
            r = cli("status", name)
            assert r.exit_code == 0 and "damaged" in r.output and f"vpcemu down {name}" in r.output, r.output
            r = cli("sg", "show", "default", "--lab", name)
            assert r.exit_code == 2 and "no usable state" in r.output, r.output
            r = cli("down", name) if verb == "down" else cli("clean")
            assert r.exit_code == 0, r.output
            assert chaos_up.remains(name) == [], (verb, damage)
        finally:
            if Journal(name).exists():
                Lab.remove(name)


def test_a_journal_holding_names_that_are_no_lab_objects_is_skipped_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    for verb in ("down", "clean"):
        name = f"k-bad{verb}"
        lab = up_small(name)
        for entry in ({"kind": "netns", "name": "e;touch /tmp/vpcemu-x"}, {"kind": "netns", "name": "a/../../b"},
                      {"kind": "netns", "name": ".."}, {"kind": "netns", "name": 5},
                      {"kind": "file", "path": str(victim)}, {"kind": "symlink", "path": "/etc/netns/other"},
                      {"kind": "process", "pid": 1}):
            with open(lab.journal.path, "a") as f:
                f.write(json.dumps(entry) + "\n")
        check = cli("status", name, "--check")         # read, never followed: the kernel still holds the model
        assert check.exit_code == 0 and check.exception is None, check.output
        if verb == "clean":
            crash(lab)
        r = cli(verb)
        assert r.exit_code == 0, r.output
        assert "left alone" in r.output and "e;touch" in r.output
        assert chaos_up.remains(name) == [] and victim.read_text() == "keep me"
        assert not os.path.exists("/tmp/vpcemu-x")


def test_one_labs_damage_stops_no_other_labs_status_clean_or_down():
    names = ["k-dmg-state", "k-dmg-jrnl", "k-dmg-ok"]
    labs = [up_small(n) for n in names]
    labs[0].journal.state_path.write_bytes(b"\xff{torn")
    with open(labs[1].journal.path, "ab") as f:
        f.write(b"\x00\xff garbage\n[]\n{\"kind\": 5}\n")
    (labs[1].journal.dir / MODEL_FILE).write_bytes(b"not a pickle")
    r = cli("status", "--json")
    assert r.exit_code == 0, r.output
    shown = {s["lab"]: s["status"] for s in json.loads(r.stdout)}
    assert shown == {**shown, "k-dmg-state": "damaged", "k-dmg-jrnl": "damaged", "k-dmg-ok": "up"}
    assert cli("down", "k-dmg-ok").exit_code == 0
    r = cli("clean", "--json")
    assert r.exit_code == 0, r.output
    assert {"k-dmg-state", "k-dmg-jrnl"} <= set(json.loads(r.stdout)["removed_labs"])
    for n in names:
        assert chaos_up.remains(n) == [], n


def test_status_text_shows_the_supervisor_and_each_service():
    topology = SMALL + "internet:\n  hosts:\n    ext: {ip: 198.18.0.50, listen: [tcp/80]}\n"
    with Lab.up(load_text(topology, name="k-svc")):
        r = cli("status", "k-svc")
        assert r.exit_code == 0
        assert "supervisor pid" in r.output and "restarts 0" in r.output
        assert "dns main: up" in r.output and "host ext: up" in r.output


def test_clean_finds_a_staging_directory_a_build_left_before_its_lab_had_a_name():
    dead = subprocess.Popen(["true"])
    dead.wait()
    staging = STATE_ROOT / f".k-staged.{dead.pid}.1.abcd.new"
    staging.mkdir(parents=True)
    (staging / "state.json").write_text("{}")
    assert cli("clean").exit_code == 0
    assert not staging.exists()


def test_a_building_lab_is_judged_by_its_builders_pid_and_start_time():
    with up_small("k-pid") as lab:
        lab.journal.write_state(status="building")              # its builder, this process, lives
        assert cli("clean").exit_code == 0
        assert Journal("k-pid").exists() and lab.probe("a1", "a2").reachable
        lab.journal.write_state(starttime=1)                    # the pid now names another process
        r = cli("clean", "--json")
        assert r.exit_code == 0 and json.loads(r.stdout)["removed_labs"] == ["k-pid"]
        assert chaos_up.remains("k-pid") == []
