"""`clean` among /run/netns entries that are not a lab's: each is skipped, never deleted, whatever it is;
and a failure while reading a mark, other than "this is no namespace we can enter", stops `clean`
instead of passing for "not ours".

Every name made here starts with this run's prefix and is removed by the test that made it.
"""
from __future__ import annotations

import errno
import os
import subprocess

import pytest

from kernel_namespaces import Namespaces
from vpcemu.errors import KernelError
from vpcemu.kernel import netns, rtnl
from vpcemu.lifecycle import clean_crashed

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root"),
]

PREFIX = f"vpkl-{os.getpid()}"


def entries() -> set[str]:
    return {name for name in os.listdir(netns.NETNS_DIR) if name.startswith(PREFIX)}


def test_clean_skips_every_entry_that_is_not_a_namespace_of_ours():
    plain, directory = f"{PREFIX}-plain", f"{PREFIX}-dir"       # a placeholder whose mount is gone, a stray dir
    uts = f"{PREFIX}-uts"                                       # a namespace of another kind
    foreign, odd = f"{PREFIX}-foreign", f"{PREFIX}-odd"          # other tools' network namespaces
    orphan = f"{PREFIX}-orphan"                                 # ours, of a lab whose state is gone
    netns.ensure_netns_dir()
    gone = Namespaces(f"{PREFIX}-gone")
    made: list[str] = []
    try:
        open(f"{netns.NETNS_DIR}/{plain}", "x").close()
        made.append(plain)
        os.mkdir(f"{netns.NETNS_DIR}/{directory}")
        made.append(directory)
        open(f"{netns.NETNS_DIR}/{uts}", "x").close()
        made.append(uts)
        subprocess.run(["mount", "--bind", "/proc/self/ns/uts", f"{netns.NETNS_DIR}/{uts}"], check=True)
        for name in (foreign, odd):
            subprocess.run(["ip", "netns", "add", name], check=True)
            made.append(name)
        # an alias that is not UTF-8 is someone else's mark, not an error
        subprocess.run([b"ip", b"-n", odd.encode(), b"link", b"set", b"lo", b"alias", b"\xff\xfe"], check=True)
        gone.create(orphan)
        assert entries() == {plain, directory, uts, foreign, odd, orphan}

        report = clean_crashed()

        assert orphan in report["orphan_namespaces"]
        assert not set(report["orphan_namespaces"]) & {plain, directory, uts, foreign, odd}
        assert entries() == {plain, directory, uts, foreign, odd}
        assert netns.netns_inode(foreign) is not None and netns.netns_inode(odd) is not None
    finally:
        subprocess.run(["umount", f"{netns.NETNS_DIR}/{uts}"], capture_output=True)
        for name in made:
            path = f"{netns.NETNS_DIR}/{name}"
            if os.path.isdir(path):
                os.rmdir(path)
            elif name in (foreign, odd):
                netns.delete_netns(name)
            else:
                os.unlink(path)
        gone.remove()
    assert entries() == set()


def test_clean_stops_on_a_mark_it_cannot_read(monkeypatch):
    foreign = f"{PREFIX}-unread"
    subprocess.run(["ip", "netns", "add", foreign], check=True)
    try:
        def refused(self, index):       # the kernel failing the read, inside a namespace clean did enter
            raise KernelError("link get", self.ns, None, errno.ENOBUFS, os.strerror(errno.ENOBUFS))

        monkeypatch.setattr(rtnl.Rtnl, "get_alias", refused)
        with pytest.raises(KernelError) as info:
            clean_crashed()
        assert info.value.errno == errno.ENOBUFS
        assert netns.netns_inode(foreign) is not None
    finally:
        netns.delete_netns(foreign)
