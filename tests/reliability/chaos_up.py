"""Kill -9 of `vpcemu up` at any instant, then `vpcemu clean`: nothing of the lab may remain, and the
same name builds again. Plus an up/down soak that measures what a long series of labs leaves behind.

    run(kills=100, aimed=40, seed=1)   # scripts/chaos
    soak(cycles=200)

`run` kills `vpcemu up` (a subprocess, as a CI timeout would) `kills` times at a random instant of the
whole command (from its start to the time a full `up` takes) and `aimed` times while its namespaces
are being made (once the journal lists a random number of them: the journal is read as an observer,
the build is never made to wait). After each kill: `vpcemu clean` must exit 0 and leave nothing of
the lab (namespaces of its prefix, /etc/netns entries, its state directory or a staging one, a
process in one of its namespaces or running its supervisor), then `up` of the same name must
succeed and `down` must leave nothing either. Labs other than the one named are never touched.
"""
from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from vpcemu.kernel import netns
from vpcemu.kernel.journal import JOURNAL_FILE, STATE_ROOT
from vpcemu.lab import Lab

REPO = Path(__file__).resolve().parents[2]
DEFAULT = REPO / "topologies" / "default.yaml"
STRAY_EXIT_S = 5.0          # a supervisor whose builder died before journalling it exits by itself within this


def vpcemu(*args: str) -> list[str]:
    """The `vpcemu` command of this checkout, run by this interpreter (see ENV)."""
    return [sys.executable, "-c", "import sys; from vpcemu.cli import main; sys.argv[0] = 'vpcemu'; main()", *args]


# this checkout's vpcemu first, for the command and the supervisor it starts, whatever is installed
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


# -- what is left of a lab -----------------------------------------------------------------------------
def namespace_inodes(lab: str) -> set[int]:
    """Inodes of the lab's namespaces now (recorded before `clean`, so processes kept in one whose
    /run/netns entry is gone are still found)."""
    out = set()
    for name in _entries(netns.NETNS_DIR, lab):
        inode = netns.netns_inode(name)
        if inode is not None:
            out.add(inode)
    return out


def _entries(directory: str, lab: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir(directory) if n.startswith(f"{lab}-"))
    except FileNotFoundError:
        return []


def _supervisors(lab: str) -> list[int]:
    """Processes running the lab's supervisor (keeper or worker), by their command line."""
    wanted = f"vpcemu.services.supervisor\0{STATE_ROOT / lab}\0".encode()
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if wanted in f.read():
                        out.append(int(pid))
            except OSError:
                continue
    return out


def _in_namespaces(inodes: set[int]) -> list[int]:
    dev, out = os.stat("/proc/self/ns/net").st_dev, []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                st = os.stat(f"/proc/{pid}/ns/net")
            except OSError:
                continue
            if st.st_dev == dev and st.st_ino in inodes:
                out.append(int(pid))
    return out


def _wait_gone(pids: list[int], seconds: float) -> None:
    """Wait (on pidfds, no sleeping) until each process has exited, at most `seconds` in all."""
    deadline = time.monotonic() + seconds
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        finally:
            os.close(fd)


def remains(lab: str, inodes: set[int] = frozenset()) -> list[str]:
    """Everything of `lab` still on the host, described; empty when nothing is."""
    # A supervisor whose builder died before journalling it has written nothing and exits on its
    # own; one alive after STRAY_EXIT_S is a leftover.
    _wait_gone(_supervisors(lab), STRAY_EXIT_S)
    out = [f"namespace {n}" for n in _entries(netns.NETNS_DIR, lab)]
    out += [f"/etc/netns/{n}" for n in _entries("/etc/netns", lab)]
    if (STATE_ROOT / lab).exists():
        out.append(f"state directory {STATE_ROOT / lab}: {sorted(os.listdir(STATE_ROOT / lab))}")
    if STATE_ROOT.is_dir():
        out += [f"staging directory {p}" for p in STATE_ROOT.iterdir() if p.name.startswith(f".{lab}.")]
    out += [f"supervisor pid {p}" for p in _supervisors(lab)]
    out += [f"pid {p} in a namespace of the lab" for p in _in_namespaces(set(inodes))]
    return out


# -- kill -9 of up --------------------------------------------------------------------------------------
def _netns_journalled(lab: str) -> int:
    try:
        with open(STATE_ROOT / lab / JOURNAL_FILE, "rb") as f:
            return f.read().count(b'"kind": "netns"')
    except OSError:
        return 0


def _built(lab: str) -> bool:
    try:
        return json.loads((STATE_ROOT / lab / "state.json").read_text()).get("status") == "up"
    except (OSError, ValueError):
        return False


def _start_up(lab: str, topology: Path) -> subprocess.Popen:
    return subprocess.Popen(vpcemu("up", str(topology), "--name", lab), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=ENV)


def _kill(proc: subprocess.Popen) -> tuple[bool, str]:
    """SIGKILL `proc`: whether the signal ended it (not so if it had exited already), and its stderr."""
    finished = proc.poll() is not None
    if not finished:
        proc.send_signal(signal.SIGKILL)
    err = proc.stderr.read().decode(errors="replace")
    proc.wait()
    proc.stderr.close()
    return not finished and proc.returncode == -signal.SIGKILL, err


def _calibrate(lab: str, topology: Path) -> tuple[float, int]:
    """Seconds a whole `vpcemu up` takes here, and how many namespaces it makes."""
    started = time.monotonic()
    proc = subprocess.run(vpcemu("up", str(topology), "--name", lab), capture_output=True, text=True, env=ENV)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"`vpcemu up` of the test lab failed: {proc.stderr}")
    made = _netns_journalled(lab)
    left = Lab.remove(lab) + remains(lab)
    if left:
        raise RuntimeError(f"`vpcemu down` left {left}")
    return seconds, made


def _one(lab: str, topology: Path, rng: random.Random, whole_s: float, namespaces: int, aimed: bool) -> dict:
    proc = _start_up(lab, topology)
    if aimed:
        want = rng.randint(1, namespaces)
        while _netns_journalled(lab) < want and proc.poll() is None:
            time.sleep(0.0002)          # observing the journal, not pacing the build
        when = {"after_namespaces": want}
    else:
        delay = rng.uniform(0, whole_s)
        try:
            proc.wait(delay)            # returns early only if the build finished first
        except subprocess.TimeoutExpired:
            pass
        when = {"after_s": round(delay, 3)}
    journalled = _netns_journalled(lab)
    inodes = namespace_inodes(lab)
    killed, err = _kill(proc)
    record = {**when, "killed": killed, "namespaces_journalled": journalled}
    if not killed and proc.returncode != 0:     # `up` itself failed: what the last round left was in its way
        record["up_error"] = err[-2000:]
        return record
    if not killed or _built(lab):
        # the build had finished (the signal came while `up` printed, or after): a live lab, which
        # clean must leave alone
        record["built_before_kill"] = True
        if killed:
            clean = subprocess.run(vpcemu("clean"), capture_output=True, text=True, env=ENV)
            record["clean_exit"] = clean.returncode
            if lab not in Lab.list():
                record["clean_error"] = "clean removed a lab that was up"
                return record
        record["left_by_down"] = Lab.remove(lab) + remains(lab, inodes)
        return record
    clean = subprocess.run(vpcemu("clean"), capture_output=True, text=True, env=ENV)
    record["clean_exit"] = clean.returncode
    if clean.returncode != 0 or "Traceback" in clean.stderr:
        record["clean_error"] = clean.stderr[-2000:]
    record["left_by_clean"] = remains(lab, inodes)
    if record["left_by_clean"]:
        return record                   # the next round's `up` says whether it is in the way
    try:
        again = Lab.up(topology, name=lab)
    except Exception as exc:            # any failure to build again is the finding
        record["up_error"] = f"{type(exc).__name__}: {exc}"
        return record
    inodes = namespace_inodes(lab)
    record["left_by_down"] = again.down() + remains(lab, inodes)
    return record


def run(kills: int, aimed: int, seed: int, lab: str = "chaos-up", topology: Path = DEFAULT) -> dict:
    """`kills` kill -9 of `vpcemu up` at random instants plus `aimed` while namespaces are made (an
    instant after the build finished does not count: another is drawn); the figures: kills that
    landed, leftovers after `clean`, failed rebuilds, and the records of the rounds that failed."""
    if lab in Lab.list() or remains(lab):
        raise RuntimeError(f"lab {lab} exists already: choose another name")
    started = time.monotonic()
    rng = random.Random(seed)
    whole_s, namespaces = _calibrate(lab, topology)
    rounds: list[dict] = []
    for aim, wanted in ((False, kills), (True, aimed)):
        # a random instant may fall after the build finished: try again (at most 3 times as often)
        for _ in range(3 * wanted):
            if sum(1 for r in rounds if _landed(r) and ("after_namespaces" in r) == aim) == wanted:
                break
            rounds.append(_one(lab, topology, rng, whole_s, namespaces, aimed=aim))
    landed = [r for r in rounds if _landed(r)]
    return {
        "kills": len(landed),
        "aimed_kills": sum(1 for r in landed if "after_namespaces" in r),
        "built_before_kill": len(rounds) - len(landed),
        "leftovers_after_clean": sum(1 for r in landed if r.get("left_by_clean")),
        "clean_failures": sum(1 for r in landed if r.get("clean_exit") != 0 or "clean_error" in r),
        "up_after_failures": sum(1 for r in landed if "up_error" in r),
        "leftovers_after_down": sum(1 for r in rounds if r.get("left_by_down")),
        "seconds": round(time.monotonic() - started, 1),
        "up_seconds": round(whole_s, 3),
        "failures": [r for r in rounds if r.get("left_by_clean") or r.get("left_by_down") or "up_error" in r
                     or "clean_error" in r or r.get("clean_exit", 0) != 0],
    }


def holds(figures: dict) -> bool:
    return (figures["failures"] == [] and figures["leftovers_after_clean"] == 0 and figures["clean_failures"] == 0
            and figures["up_after_failures"] == 0 and figures["leftovers_after_down"] == 0)


def soak_holds(figures: dict) -> bool:
    growth = figures["growth"]
    return (figures["left"] == [] and growth["namespaces"] == growth["mounts"] == growth["fds"]
            == growth["child_processes"] == 0 and growth["rss_kb"] < 20_000)


def _landed(record: dict) -> bool:
    """Whether the kill hit a build that had not finished."""
    return record["killed"] and not record.get("built_before_kill")


# -- soak -----------------------------------------------------------------------------------------------
def _measure() -> dict:
    me = os.getpid()
    children = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    if int(f.read().rsplit(b")", 1)[1].split()[1]) == me:
                        children += 1
            except OSError:
                continue
    with open("/proc/self/status") as f:
        rss_kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    with open("/proc/self/mountinfo") as f:
        mounts = sum(1 for _ in f)
    return {"namespaces": len(os.listdir(netns.NETNS_DIR)) if os.path.isdir(netns.NETNS_DIR) else 0,
            "mounts": mounts, "fds": len(os.listdir("/proc/self/fd")), "child_processes": children,
            "rss_kb": rss_kb}


def soak(cycles: int, lab: str = "soak", topology: Path = DEFAULT) -> dict:
    """`cycles` up/down of one lab through the Python API; namespaces, mounts, fds, child processes
    and RSS of this process before (after one warm-up cycle: imports, caches) and after, and growth."""
    if lab in Lab.list() or remains(lab):
        raise RuntimeError(f"lab {lab} exists already: choose another name")
    Lab.up(topology, name=lab).down()
    before = _measure()
    started = time.monotonic()
    for _ in range(cycles):
        Lab.up(topology, name=lab).down()
    seconds = time.monotonic() - started
    after = _measure()
    return {"cycles": cycles, "seconds": round(seconds, 1), "before": before, "after": after,
            "growth": {k: after[k] - before[k] for k in before}, "left": remains(lab)}


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])) if sys.argv[1:] else soak(5), indent=1))
