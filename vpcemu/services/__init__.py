"""Services that run inside lab namespaces: the lab CA, the AWS region, the VPC resolver, the internet
hosts' listeners, and the per-lab supervisor process that runs them all."""
from __future__ import annotations

import os
import selectors
import threading
import traceback
from dataclasses import dataclass, field


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
    """socketserver servers (werkzeug's and dnslib's are too), bound together and served by one thread.

    The handle every service's start() returns: bind the servers, then serve(), later stop().
    The thread waits on every server socket and on a wake-up pipe at once, so stop() takes effect at
    once, where serve_forever() would notice it only at its next poll."""

    servers: list = field(default_factory=list)
    listening: list = field(default_factory=list)     # (protocol, address, port) of each server
    thread: threading.Thread | None = None
    _wake: tuple[int, int] | None = None

    def serve(self, name: str) -> None:
        self._wake = os.pipe()
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            for srv in self.servers:
                srv.timeout = 0             # handle_request() below: the socket is known to be readable
                selector.register(srv, selectors.EVENT_READ)
            selector.register(self._wake[0], selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj == self._wake[0]:
                        return
                    try:
                        key.fileobj.handle_request()
                    except Exception:       # one bad request must not end the service
                        traceback.print_exc()

    def stop(self) -> None:
        if self.thread is not None:
            os.write(self._wake[1], b"x")
            self.thread.join(5)
            for fd in self._wake:
                os.close(fd)
            self.thread = self._wake = None
        self.close()

    def close(self) -> None:
        """Close the servers (after stop(), or when a start failed before serve())."""
        for s in self.servers:
            s.server_close()
        self.servers.clear()
