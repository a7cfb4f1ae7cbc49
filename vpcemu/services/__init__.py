"""Services that run inside lab namespaces: the lab CA, the AWS region, the VPC resolver, the internet
hosts' listeners, and the per-lab supervisor process that runs them all."""
from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

POLL_INTERVAL_S = 0.1       # how long a server's stop() may wait for its serve loop to notice


def bind_in(netns: str | None, bind_all, close_all) -> None:
    """Run `bind_all` with its sockets made in `netns` (here if None); on failure `close_all` and re-raise.

    A socket belongs to the namespace of the thread that creates it, so binding happens inside.
    """
    try:
        if netns is None:
            bind_all()
        else:
            from ..kernel.netns import run_in_netns
            run_in_netns(netns, bind_all)
    except BaseException:
        close_all()
        raise


@dataclass
class Servers:
    """socketserver servers (werkzeug's and dnslib's are too), each served by a thread of its own.

    The handle every service's start() returns: bind the servers, then serve(), later stop()."""

    servers: list = field(default_factory=list)
    threads: list = field(default_factory=list)
    listening: list = field(default_factory=list)     # (protocol, address, port) of each server

    def close(self) -> None:
        """Close servers that were bound but never served (a failed start)."""
        for s in self.servers:
            s.server_close()
        self.servers.clear()

    def serve(self, name: str) -> None:
        for srv in self.servers:
            t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": POLL_INTERVAL_S},
                                 name=f"{name}-{srv.server_address[0]}:{srv.server_address[1]}", daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        stop_all([self])


def stop_all(groups: Iterable[Servers]) -> None:
    """Stop every server of every group at once: each shutdown() waits for its serve loop's next poll,
    so one after the other would add those waits up."""
    groups = list(groups)
    waiters = [threading.Thread(target=s.shutdown, daemon=True) for g in groups for s in g.servers]
    for w in waiters:
        w.start()
    for w in waiters:
        w.join()
    for g in groups:
        for t in g.threads:
            t.join(5)
        g.threads.clear()
        g.close()
