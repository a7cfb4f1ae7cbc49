"""The listeners of an internet host (the `listen:` list of `internet.hosts.<name>`), bound inside its namespace.

    handle = start_host_listeners("lab-h-ext", "198.18.0.50", host.listen, ca, "ext")
    handle.stop()

tcp/80 and tcp/8080 answer any GET with "whoami" JSON {"client": ip, "port": n, "host": name} and the
`x-vpcemu-client-address` header, so a caller sees the address it arrived from (after NAT); tcp/443 is
the same over HTTPS with a certificate from the lab CA for the host's name and address; any other tcp
port echoes bytes back until EOF; udp/N echoes each datagram to its sender.
"""
from __future__ import annotations

import json
import socketserver
import sys
from http.server import BaseHTTPRequestHandler

from ..model.internet import Listener
from . import Servers, bind_in
from .aws import CLIENT_HEADER
from .ca import CertificateAuthority

HTTP_PORTS = (80, 8080)
HTTPS_PORTS = (443,)
IDLE_TIMEOUT_S = 60         # an HTTP connection that sends nothing this long is closed


class _TcpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False      # a connection thread never holds up stop()

    def handle_error(self, request, client_address) -> None:
        # a client that resets or fails the TLS handshake is worth one log line, not a traceback
        print(f"{self.server_address[0]}:{self.server_address[1]}: {client_address}: {sys.exc_info()[1]!r}",
              file=sys.stderr)


class _UdpServer(socketserver.UDPServer):
    allow_reuse_address = True
    max_packet_size = 65535


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


class _DatagramEcho(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        sock.sendto(data, self.client_address)


def _whoami(host: str) -> type[BaseHTTPRequestHandler]:
    class Whoami(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "vpcemu-internet-host"
        timeout = IDLE_TIMEOUT_S

        def do_GET(self) -> None:
            client, port = self.client_address[:2]
            body = json.dumps({"client": client, "port": port, "host": host}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header(CLIENT_HEADER, client)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, format, *args) -> None:
            pass

    return Whoami


def start_host_listeners(netns: str | None, ip: str, listeners: tuple[Listener, ...] | list[Listener],
                         ca: CertificateAuthority | None, name: str) -> Servers:
    """Bind every listener at `ip` inside `netns` (None: the caller's namespace) and serve.

    Returns once every socket listens; raises (closing what it opened) if any bind fails. `ca` is
    needed only for a tcp/443 listener. A port of 0 takes any free port (see the handle's `listening`).
    """
    ip = str(ip)
    tls = None
    if any(l.protocol == "tcp" and l.port in HTTPS_PORTS for l in listeners):
        if ca is None:
            raise ValueError(f"internet host {name}: tcp/443 needs the lab CA")
        tls = ca.issue(f"host-{name}", [name], [ip]).server_context()
    whoami = _whoami(name)
    handle = Servers()

    def bind_all() -> None:
        for listener in listeners:
            if listener.protocol == "udp":
                srv = _UdpServer((ip, listener.port), _DatagramEcho)
            elif listener.port in HTTP_PORTS or listener.port in HTTPS_PORTS:
                srv = _TcpServer((ip, listener.port), whoami)
                if listener.port in HTTPS_PORTS:
                    srv.socket = tls.wrap_socket(srv.socket, server_side=True)
            else:
                srv = _TcpServer((ip, listener.port), _Echo)
            handle.servers.append(srv)
            handle.listening.append((listener.protocol, ip, srv.server_address[1]))

    bind_in(netns, bind_all, handle.close)
    handle.serve(f"host-{name}")
    return handle
