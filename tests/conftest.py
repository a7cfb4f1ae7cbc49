"""Suite-wide guard: the host's root namespace is identical before and after the whole suite, and no
namespace, /etc/netns entry or lab state directory made by a test survives, nor the warm service process
the suite's labs started."""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
from pathlib import Path

import pytest

from vpcemu.kernel import warm

ROOT = os.geteuid() == 0
SUITE_LOCK = "/tmp/vpcemu-test-suite.lock"     # also taken by hand around experiments: flock FILE CMD


def _run(*argv: str) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout
    except FileNotFoundError:
        return ""


def _sysctls() -> dict[str, str]:
    out = {}
    for base in ("/proc/sys/net/ipv4", "/proc/sys/net/ipv6/conf", "/proc/sys/net/core"):
        for dirpath, _, files in os.walk(base):
            for f in files:
                p = os.path.join(dirpath, f)
                try:
                    out[p] = Path(p).read_text()
                except OSError:
                    continue
    return out


def root_snapshot() -> dict:
    return {
        "addresses": sorted((link["ifname"], a["family"], a["local"], a["prefixlen"])
                            for link in json.loads(_run("ip", "-j", "addr") or "[]")
                            for a in link.get("addr_info", [])),
        "routes": _run("ip", "route", "show", "table", "all"),
        "rules": _run("ip", "rule"),
        "nft": _run("nft", "list", "ruleset"),
        "sysctls": _sysctls(),
        "netns": sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else [],
        "etc_netns": sorted(os.listdir("/etc/netns")) if os.path.isdir("/etc/netns") else [],
        "labs": sorted(os.listdir("/run/vpcemu")) if os.path.isdir("/run/vpcemu") else [],
    }


@pytest.fixture(scope="session", autouse=True)
def host_untouched(request):
    if not ROOT or not any("kernel" in item.keywords for item in request.session.items):
        yield           # unit tests alone touch nothing: no lock, no snapshot
        return
    # one suite at a time on a host: two runs would collide on lab names and see each other's namespaces
    lock = open(SUITE_LOCK, "a")
    fcntl.flock(lock, fcntl.LOCK_EX)
    before = root_snapshot()
    with warm.started_within() as warm_before:     # the warm service process the suite's labs started
        yield
    survivors = [s for s in warm.servers() if s["alive"] and s["pid"] not in warm_before]
    after = root_snapshot()
    changed = {k for k in before if before[k] != after[k]}
    if "sysctls" in changed:
        diff = {k: (before["sysctls"].get(k), after["sysctls"].get(k))
                for k in set(before["sysctls"]) | set(after["sysctls"])
                if before["sysctls"].get(k) != after["sysctls"].get(k)}
        pytest.fail(f"the suite changed host sysctls: {diff}")
    lock.close()
    assert not survivors, f"a warm service process survived the suite: {survivors}"
    assert not changed, {k: (before[k], after[k]) for k in changed}


def pytest_collection_modifyitems(config, items):
    if ROOT:
        return
    skip = pytest.mark.skip(reason="builds network namespaces: needs root")
    for item in items:
        if "kernel" in item.keywords:
            item.add_marker(skip)
