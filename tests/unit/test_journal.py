"""A lab's state directory without root: it appears atomically with its state, a dead builder's
staging directory is found, a damaged journal or state reads as what can be trusted of it, removal is
claimed by one process at a time, a lab's condition is judged by pid *and* start time, and the one
lab-name rule."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from vpcemu import lifecycle
from vpcemu.errors import UsageError
from vpcemu.kernel import apply, journal as journal_mod
from vpcemu.kernel.journal import MODEL_FILE, NETNS_NOT_OURS, Journal, abandoned_staging, all_labs
from vpcemu.kernel.stored_model import write_model
from vpcemu.kernel.pids import running, starttime
from vpcemu.load import load_text
from vpcemu.rules.names import lab_name_problem, valid_lab_name


@pytest.fixture(autouse=True)
def state_root(tmp_path, monkeypatch):
    monkeypatch.setattr(journal_mod, "STATE_ROOT", tmp_path)
    return tmp_path


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_lab_directory_appears_with_its_state_and_nothing_else_is_left(state_root):
    j = Journal("a")
    j.create("u1", "<test>")
    assert sorted(os.listdir(state_root)) == ["a"]
    assert os.listdir(j.dir) == ["state.json"]
    state = j.state()
    assert state["uuid"] == "u1" and state["status"] == "building"
    assert running(state["pid"], state["starttime"])
    with pytest.raises(FileExistsError):
        Journal("a").create("u2", "<test>")
    assert sorted(os.listdir(state_root)) == ["a"] and j.state()["uuid"] == "u1"
    assert all_labs() == ["a"]


def test_write_state_replaces_the_file_and_leaves_no_temporary(state_root):
    j = Journal("a")
    j.create("u1", "<test>")
    j.write_state(status="up")
    assert j.state()["status"] == "up" and j.state()["uuid"] == "u1"
    assert os.listdir(j.dir) == ["state.json"]


def test_a_staging_directory_of_a_dead_builder_is_abandoned_and_a_live_ones_is_not(state_root):
    dead = state_root / f".a.{dead_pid()}.12345.abcd.new"
    mine = state_root / f".b.{os.getpid()}.{starttime(os.getpid())}.abcd.new"
    reused = state_root / f".c.{os.getpid()}.1.abcd.new"         # our pid, another start time
    for d in (dead, mine, reused, state_root / ".not-staging", state_root / ".x.y.new"):
        d.mkdir()
    assert abandoned_staging() == sorted([dead, reused])
    assert all_labs() == []


def test_a_lab_directory_leaves_its_name_before_it_is_emptied(state_root, monkeypatch):
    j = Journal("a")
    j.create("u1", "<test>")
    seen = []
    monkeypatch.setattr(journal_mod.shutil, "rmtree", lambda path, ignore_errors: seen.append(path))
    j.remove()                                          # as if killed while emptying it
    assert not j.dir.exists() and all_labs() == []
    [gone] = seen
    assert gone.parent == state_root and gone.name.startswith(".a.") and gone.name.endswith(".gone")
    assert abandoned_staging() == []                    # this process is alive: its removal is under way
    dead = state_root / f".a.{dead_pid()}.99.abcd.gone"
    gone.rename(dead)
    assert abandoned_staging() == [dead]
    Journal("a").create("u2", "<test>")                 # the name is free at once


def test_a_damaged_journal_yields_only_its_entries(state_root):
    j = Journal("a")
    j.create("u1", "<test>")
    j.record("netns", name="a-park")
    with open(j.path, "ab") as f:
        f.write(b'\xff\xfe not json\n5\n["list"]\n{"no": "kind"}\n{"kind": 7}\n{"kind": "netns", "name": 3}\n'
                b'{"kind": "netns", "name": "a-one"}\n{"kind": "netns", "name": "a-taken"}\n'
                b'{"kind": "' + NETNS_NOT_OURS.encode() + b'", "name": "a-taken"}\n{"kind": "netns", "na')
    assert [e["kind"] for e in j.entries()] == ["netns", "netns", "netns", "netns", NETNS_NOT_OURS]
    assert j.live_namespaces() == ["a-park", "a-one"]
    assert j.recorded_namespaces() == (["a-park", 3, "a-one", "a-taken"], {"a-taken"})


def test_a_torn_or_foreign_state_reads_as_none(state_root):
    j = Journal("a")
    j.create("u1", "<test>")
    for text in (b'{"uuid": "u1", "sta', b"[1, 2]", b"\xff"):
        j.state_path.write_bytes(text)
        assert j.state() == {}
        assert lifecycle.condition(j) == lifecycle.DAMAGED


def test_a_journal_refuses_a_name_that_leaves_the_state_root():
    for bad in ("", "..", ".hidden", "a/b", "../x", "a\0b"):
        with pytest.raises(ValueError):
            Journal(bad)


def test_removal_is_claimed_by_one_live_process_and_taken_over_from_a_dead_one(state_root):
    j = Journal("a")
    j.create("u1", "<test>")
    marker = j.dir / "removing"
    marker.write_text(json.dumps({"pid": 1, "starttime": starttime(1)}))      # init: alive
    assert j.claim_removal() == {"pid": 1, "starttime": starttime(1)}
    assert j.remover() == {"pid": 1, "starttime": starttime(1)}
    marker.write_text(json.dumps({"pid": dead_pid(), "starttime": 5}))
    assert j.remover() is None
    assert j.claim_removal() is None                                          # taken over
    assert json.loads(marker.read_text())["pid"] == os.getpid()
    assert j.claim_removal() is None                                          # ours already
    assert sorted(p.name for p in j.dir.iterdir()) == ["removing", "state.json"]
    with pytest.raises(UsageError, match="being removed by pid 1"):
        marker.write_text(json.dumps({"pid": 1, "starttime": starttime(1)}))
        lifecycle.remove(j)
    assert j.dir.exists()


def test_a_builder_is_judged_by_pid_and_start_time(state_root):
    j = Journal("a")
    j.create("u1", "<test>")
    assert lifecycle.condition(j) == lifecycle.BUILDING
    j.write_state(starttime=1)                              # this pid, but not the process that built
    assert lifecycle.condition(j) == lifecycle.CRASHED
    j.write_state(pid=dead_pid(), starttime=None)
    assert lifecycle.condition(j) == lifecycle.CRASHED
    old = {k: v for k, v in j.state().items() if k != "starttime"}     # a state from before start times
    journal_mod.write_json(j.state_path, {**old, "pid": os.getpid()})
    assert lifecycle.condition(j) == lifecycle.BUILDING


def test_an_up_lab_whose_model_cannot_be_read_is_damaged(state_root):
    j = Journal("a")
    j.create("u1", "<test>")
    j.write_state(status="up")
    model = load_text("format: 1\nvpcs:\n  main: {cidr: 10.0.0.0/16}\n")
    write_model(j.dir, model)
    assert lifecycle.condition(j) == lifecycle.UP
    text = (j.dir / MODEL_FILE).read_bytes()
    for torn in (text[:40], b"", b"\xff not UTF-8"):       # its cache was made from another text: not used
        (j.dir / MODEL_FILE).write_bytes(torn)
        assert lifecycle.condition(j) == lifecycle.DAMAGED
    (j.dir / MODEL_FILE).unlink()
    assert lifecycle.condition(j) == lifecycle.DAMAGED


def test_teardown_touches_only_paths_a_lab_writes(state_root):
    j = Journal("lab")
    assert apply._lab_path(j, f"{j.dir}/etc/main/resolv.conf")
    assert apply._lab_path(j, "/etc/netns/lab-i-web")
    for bad in ("/etc/passwd", "/etc/netns/other-i-web", f"{j.dir}/../other/x", "relative", None, 5,
                "/etc/netns/lab-i/../../passwd"):
        assert not apply._lab_path(j, bad), bad


def test_the_symlinks_of_one_target_share_one_inode(tmp_path):
    """/etc/netns/<ns> of every instance of a VPC → its directory: one symlink, hard links to it for the rest."""
    links = {str(tmp_path / "netns" / f"i{n}"): f"/run/vpcemu/lab/etc/{vpc}" for n, vpc in enumerate("aabab")}
    apply.write_symlinks(links)
    for path, target in links.items():
        assert os.path.islink(path) and os.readlink(path) == target
    inodes = {target: {os.lstat(p).st_ino for p, t in links.items() if t == target} for target in links.values()}
    assert all(len(same) == 1 for same in inodes.values()) and len(set.union(*inodes.values())) == 2
    os.unlink(str(tmp_path / "netns" / "i0"))               # teardown unlinks each path: the others stay
    assert os.readlink(str(tmp_path / "netns" / "i1")) == "/run/vpcemu/lab/etc/a"
    apply.write_symlinks({str(tmp_path / "netns" / "i1"): "/elsewhere"})
    assert os.readlink(str(tmp_path / "netns" / "i1")) == "/elsewhere"
    assert os.readlink(str(tmp_path / "netns" / "i3")) == "/run/vpcemu/lab/etc/a"


@pytest.mark.parametrize("name", ["a", "lab-1", "0", "a" * 12])
def test_a_good_lab_name(name):
    assert lab_name_problem(name) is None and valid_lab_name(name) == name


@pytest.mark.parametrize("name", ["", "..", "../vpcemu/x", "/run/vpcemu/x", "x/", "-x", "X", "a_b", "a.b",
                                  "a" * 13, "é", "a b", None, 5])
def test_a_bad_lab_name(name):
    assert lab_name_problem(name)
    with pytest.raises(UsageError, match="must be 1-12 characters"):
        valid_lab_name(name)
