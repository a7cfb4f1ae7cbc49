"""The emulated AWS region: moto's server mode (one app dispatching by Host header, as moto_server does)
answering on each service's public addresses, port 80 plainly and 443 with TLS from the lab CA.

    region = AwsRegion("us-east-1", ca, {"s3": [ip...], "sqs": [...], "dynamodb": [...]})
    handle = region.start("lab-svc-ns")   # returns once every socket listens
    handle.stop()

One moto backend state per AwsRegion: a bucket made over one address is seen over every other.
Every response carries `x-vpcemu-client-address`; GET /vpcemu/whoami answers {"client": ip, "port": n}.
"""
from __future__ import annotations

import json
import socket
import ssl
from ipaddress import IPv4Address

from ..dns.zone import certificate_names
from . import Servers, bind_in
from .ca import CertificateAuthority

CLIENT_HEADER = "x-vpcemu-client-address"
WHOAMI_PATH = "/vpcemu/whoami"


class _Middleware:
    """Stamps the client address on every response, answers /vpcemu/whoami, hides moto's own API."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        client = environ.get("REMOTE_ADDR", "")
        path = environ.get("PATH_INFO", "")
        if path == WHOAMI_PATH:
            body = json.dumps({"client": client, "port": int(environ.get("REMOTE_PORT") or 0),
                               "host": environ.get("HTTP_HOST", "")}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), (CLIENT_HEADER, client),
                                      ("Content-Length", str(len(body)))])
            return [body]
        if path.startswith("/moto-api"):
            start_response("404 Not Found", [(CLIENT_HEADER, client), ("Content-Length", "0")])
            return [b""]

        def stamped(status, headers, exc_info=None):
            return start_response(status, [*headers, (CLIENT_HEADER, client)], exc_info)

        return self.app(environ, stamped)


class AwsRegion:
    def __init__(self, region: str, ca: CertificateAuthority,
                 services: dict[str, list[IPv4Address | str]], ports: tuple[int, int] = (80, 443)):
        self.region = region
        self.ca = ca
        self.services = {s: [str(a) for a in addrs] for s, addrs in services.items()}
        self.http_port, self.https_port = ports
        self._app = None

    def wsgi_app(self):
        """The one moto app for every service of this region (its backends are this process's)."""
        if self._app is None:
            from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
            self._app = _Middleware(DomainDispatcherApplication(create_backend_app))
        return self._app

    def _tls_context(self) -> ssl.SSLContext:
        names = certificate_names(self.services, self.region)
        ips = sorted({a for addrs in self.services.values() for a in addrs})
        return self.ca.issue(f"aws-{self.region}", names, ips).server_context()

    def start(self, netns: str | None) -> Servers:
        """Bind every address on 80 and 443 inside `netns` (None: the caller's namespace) and serve.

        Returns once every socket listens; raises (closing what it opened) if any bind fails."""
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import ThreadedWSGIServer

        app = self.wsgi_app()
        ctx = self._tls_context()
        handle = Servers()
        addresses = sorted({a for addrs in self.services.values() for a in addrs})

        def bind_all():
            for addr in addresses:
                for port, tls in ((self.http_port, None), (self.https_port, ctx)):
                    # werkzeug is handed a socket already listening: binding itself, it would ask DNS
                    # for the address's name (a lookup that times out inside a routed lab namespace)
                    # and answer a refused bind with sys.exit()
                    with _listening(addr, port) as sock:
                        srv = ThreadedWSGIServer(addr, port, app, MotoRequestHandler, ssl_context=tls,
                                                 fd=sock.fileno())
                    handle.servers.append(srv)
                    handle.listening.append(("tcp", addr, port))

        bind_in(netns, bind_all, handle.close)
        handle.serve("aws")
        return handle


def _listening(address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock
