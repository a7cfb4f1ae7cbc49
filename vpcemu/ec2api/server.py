"""The EC2 API process of one lab: HTTP on 80 and HTTPS on 443 (a lab-CA certificate for the ec2 service's
names) at the ec2 service's addresses in the region namespace; one thread per connection, keep-alive.

    python -m vpcemu.ec2api LAB

Started by the lab's supervisor (services/supervisor.py), which restarts it if it dies: it prints `ready` once
every socket listens (or `error: …` and exits 1) and runs until SIGTERM. Each request becomes one call of
actions.py on the lab, made with a Lab of its own (a Lab's lock depth is per object, and calls run in
parallel threads); each answered call is appended to the lab's call log (services/ec2_api.py).
"""
from __future__ import annotations

import queue
import signal
import socket
import sys
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address

from ..codes import ErrorCode
from ..errors import UsageError
from ..kernel.journal import Journal
from ..kernel.netns import run_in_netns
from ..kernel.stored_model import read_model
from ..lab import Lab
from ..model import Topology
from ..plan.nat_gateway import nat_gateway_of
from ..plan.vpc_endpoint import interface_endpoint_of
from ..dns.zone import certificate_names
from ..services.ca import CertificateAuthority
from ..services.ec2_api import SERVICE, ec2_api_spec, record_call
from ..services.supervisor import CA_DIR, READY
from . import protocol
from .actions import ACTIONS

PORTS = ((80, False), (443, True))
MAX_BODY = 1 << 20


class Ec2Api:
    def __init__(self, lab: str):
        self.lab = lab
        self.journal = Journal(lab)
        self.state_dir = self.journal.dir
        self._labs: queue.SimpleQueue[Lab] = queue.SimpleQueue()

    def lab_for_a_call(self) -> Lab:
        try:
            return self._labs.get_nowait().refresh()
        except queue.Empty:
            return Lab.attach(self.lab)

    def call(self, query: str, body: bytes, headers, caller: str) -> tuple[int, bytes, dict]:
        """One request → (HTTP status, XML body, what the call log records)."""
        request = protocol.request_id()
        params = protocol.form_parameters(query, body)
        action = params.get("Action", "")
        signer = protocol.signer(headers.get("Authorization"), params)
        record = {"action": action or None, "access_key": signer and signer["access_key"]}
        lab = self.lab_for_a_call()
        try:
            if signer is None:
                raise UsageError("the request is not signed with AWS Signature Version 4", ErrorCode.AUTH_FAILURE)
            if signer["region"] != lab.topology.region or signer["service"] != SERVICE:
                raise UsageError(f"credential scope {signer['region']}/{signer['service']} is not this endpoint's "
                                 f"({lab.topology.region}/{SERVICE})", ErrorCode.AUTH_FAILURE)
            model = protocol.operation(action) if action else None
            if model is None:
                raise UsageError(f"The action {action or '(none)'} is not valid for this web service",
                                 ErrorCode.INVALID_ACTION)
            handler = ACTIONS.get(action)
            if handler is None:
                raise UsageError(f"vpcemu's EC2 API does not emulate {action}", ErrorCode.UNSUPPORTED_OPERATION,
                                 hint="calls: " + ", ".join(sorted(ACTIONS)))
            result = handler(lab, protocol.call_input(model.input_shape, params))
            status, out, code = 200, protocol.answer_xml(action, model.output_shape, result, request), "OK"
        except UsageError as exc:
            code = str(exc.code or ErrorCode.INVALID_PARAMETER_VALUE)
            if code == ErrorCode.LAB_BUSY:          # clients retry it, as they retry AWS's throttling
                code = ErrorCode.REQUEST_LIMIT_EXCEEDED
            status = 401 if code == ErrorCode.AUTH_FAILURE else 503 if code == ErrorCode.REQUEST_LIMIT_EXCEEDED else 400
            message = exc.message + (f" (hint: {exc.hint})" if getattr(exc, "hint", None) else "")
            out = protocol.error_xml(code, message, request)
        except Exception as exc:    # a kernel step failed: the change was rolled back (Lab.change); say why
            traceback.print_exc()
            status, code = 500, str(ErrorCode.INTERNAL_ERROR)
            out = protocol.error_xml(code, " ".join(str(exc).split()), request)
        finally:
            self._labs.put(lab)
        record |= {"caller": caller, "caller_name": caller_name(lab.topology, caller), "status": status, "code": code}
        return status, out, record


def caller_name(topology: Topology, address: str) -> str | None:
    """The lab's name for a caller's address: the instance an ENI with that private or public address is
    attached to, or the NAT gateway or VPC endpoint whose ENI it is."""
    try:
        ip = IPv4Address(address)
    except ValueError:
        return None
    for v in topology.vpcs.values():
        for e in v.network_interfaces.values():
            if ip in e.private_ip_addresses or ip in e.public_addresses.values():
                if e.attachment is not None:
                    return e.attachment.instance
                nat, endpoint = nat_gateway_of(v, e.name), interface_endpoint_of(v, e.name)
                return nat.name if nat else endpoint[0].name if endpoint else e.name
    return None


def handler_class(api: Ec2Api):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "AmazonEC2"
        sys_version = ""

        def do_POST(self):
            received = time.time()
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.send_error(413)
                return
            body = self.rfile.read(length) if length else b""
            query = self.path.partition("?")[2]
            status, out, record = api.call(query, body, self.headers, self.client_address[0])
            self.send_response(status)
            self.send_header("Content-Type", "text/xml;charset=UTF-8")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            record_call(api.state_dir, {"time": round(received, 6), **record,
                                        "ms": round((time.time() - received) * 1000, 3)})

        do_GET = do_POST

        def log_message(self, format, *args):     # the call log says it all
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, sock: socket.socket, handler):
        super().__init__(sock.getsockname(), handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock


def serve(lab: str) -> list[_Server]:
    """Bind every address and port inside the region namespace and serve each in a thread."""
    import threading

    topology = read_model(Journal(lab).dir)
    spec = ec2_api_spec(topology, lab)
    api = Ec2Api(lab)
    protocol.service_model()                # loaded before the first call, not during it
    ca = CertificateAuthority.load_or_create(api.state_dir / CA_DIR)
    tls = ca.issue("ec2-api", certificate_names([SERVICE], topology.region), list(spec.addresses)).server_context()
    handler = handler_class(api)

    def bind_all() -> list[socket.socket]:
        out = []
        for address in spec.addresses:
            for port, secure in PORTS:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((address, port))
                sock.listen(128)
                out.append(tls.wrap_socket(sock, server_side=True) if secure else sock)
        return out

    servers = [_Server(sock, handler) for sock in run_in_netns(spec.namespace, bind_all)]
    for srv in servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    return servers


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m vpcemu.ec2api LAB", file=sys.stderr)
        return 2
    # the supervisor blocks the signals it waits for; an exec keeps the mask, and this process is stopped by them
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    try:
        serve(argv[0])
    except BaseException as exc:
        traceback.print_exc()
        print("error: " + " ".join(str(exc).split()), flush=True)
        return 1
    print(READY, flush=True)
    while True:                 # until SIGTERM, whose default action ends the process
        signal.pause()
