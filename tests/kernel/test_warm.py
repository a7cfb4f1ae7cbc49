"""The warm service process (kernel/warm.py, services/warm.py) against the real kernel: a lab's supervisor
forked by it serves the lab and belongs to nobody but init; one whose starter dies before journalling it
exits by itself; only root reaches it; `vpcemu clean` stops it; with VPCEMU_WARM=0 a fresh Python starts
the supervisor, as when no warm process runs."""
from __future__ import annotations

import errno
import os
import select
import socket
import time

import pytest

from kernel_clients import A2_NAME, TWO_INSTANCES as PLAIN

from vpcemu import Lab, load_text
from vpcemu.kernel import netns, warm
from vpcemu.kernel.pids import starttime
from vpcemu.kernel.process import supervisor_entry
from vpcemu.lifecycle import clean_crashed
from vpcemu.plan import names

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root"),
]



def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        return int(f.read().rsplit(b")", 1)[1].split()[1])


def _cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode()


def _exits(pid: int, timeout: float) -> bool:
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True             # gone already, reaped too
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    finally:
        os.close(pidfd)


def test_a_supervisor_forked_by_the_warm_process_serves_the_lab_and_is_reaped_when_down():
    server = warm.listening(30)
    lab = Lab.up(load_text(PLAIN, name="k-warm"))
    try:
        entry = supervisor_entry(lab.journal)
        pid = entry["pid"]
        assert "vpcemu.services.warm" in _cmdline(pid)          # forked from the warm process, not a fresh Python
        assert _parent(pid) == server["pid"]                     # its child, reaped by it
        assert os.stat(f"/proc/{pid}/ns/net").st_ino == netns.netns_inode(names.parking_ns("k-warm"))
        r = lab.exec("a1", ["getent", "hosts", A2_NAME])   # through the VPC resolver it runs
        assert r.returncode == 0 and r.stdout.split()[0] == "10.0.1.5", r.stderr
        assert lab.journal.state()["services_seconds"] > 0
        assert lab.status()["services_started_by"] == "warm"
    finally:
        lab.down()
    deadline = time.monotonic() + 10
    while starttime(pid) == entry["starttime"]:             # exited when down returned; reaped by the server
        assert time.monotonic() < deadline, "the warm process left its supervisor a zombie"
        time.sleep(0.001)


def test_a_supervisor_whose_starter_dies_before_journalling_it_exits_by_itself():
    warm.listening(30)
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    log = os.open("/dev/null", os.O_WRONLY)
    try:
        pid = warm.request(warm.code_key(), ["/nonexistent-state-dir", "k-orphan"], (stdin_r, stdout_w, log))
    finally:
        for fd in (stdin_r, stdout_w, log):
            os.close(fd)
    assert pid is not None
    os.close(stdin_w)               # the starter "dies": the supervisor reads EOF instead of `journalled`
    try:
        assert _exits(pid, 10), "an unjournalled supervisor kept running"
        assert os.read(stdout_r, 100) == b""                # it said nothing: it never started anything
    finally:
        os.close(stdout_r)


def test_only_root_reaches_the_warm_process():
    server = warm.listening(30)
    child = os.fork()
    if child == 0:
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
                s.connect(str(warm.path(server["key"], "sock")))
            os._exit(0)
        except PermissionError:
            os._exit(errno.EACCES)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == errno.EACCES


def test_clean_stops_the_warm_process_and_removes_its_files():
    server = warm.listening(30)
    report = clean_crashed()
    assert f"stopped the warm service process (pid {server['pid']})" in report["stopped"]
    assert _exits(server["pid"], 0)
    assert not list(warm.WARM_ROOT.glob(f"{server['key']}.*"))


def test_without_the_warm_process_a_fresh_python_starts_the_supervisor(monkeypatch):
    monkeypatch.setenv(warm.ENABLED_ENV, "0")
    lab = Lab.up(load_text(PLAIN, name="k-cold"))
    try:
        pid = supervisor_entry(lab.journal)["pid"]
        assert "-m vpcemu.services.supervisor" in _cmdline(pid)
        assert lab.status()["services_started_by"] == "fresh"
        r = lab.exec("a1", ["getent", "hosts", A2_NAME])
        assert r.returncode == 0 and r.stdout.split()[0] == "10.0.1.5", r.stderr
    finally:
        lab.down()
