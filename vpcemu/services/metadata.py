"""The instance metadata service (IMDS) at 169.254.169.254:80, one server per VPC in its router namespace.

    handle = InstanceMetadata(state_dir, vpc).start(router_ns)      # returns once the socket listens
    handle.stop()

Who asks is told by the ENI link the connection came in on, never by the request: the router's nft prerouting chain
marks the SYN with the ENI's mark (plan/router_nft.metadata_mark), and tcp_fwmark_accept gives the accepted socket
that mark (SO_MARK). The router forwards nothing to this address, so neither security groups nor network ACLs
apply, as on AWS. Each request reads the committed model (re-read only when its file changed), so an ENI attached
a moment ago is listed at once.

IMDSv2: `PUT /latest/api/token` with X-aws-ec2-metadata-token-ttl-seconds (1-21600, else 400; with
X-Forwarded-For 403) returns a token bound to the instance, sent with IP TTL = the instance's
http_put_response_hop_limit, so a namespace routed behind the instance (a container) never gets it. A GET with a
token that is not valid for this instance gets 401; without one, 401 when http_tokens is required. An instance
whose http_endpoint is disabled gets 403 for everything.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import socketserver
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from ..aws.describe import OWNER
from ..aws.network_interface import private_dns_name
from ..kernel.journal import MODEL_FILE
from ..kernel.stored_model import read_model
from ..model import Instance, Topology
from ..plan.router_nft import INSTANCE_METADATA, metadata_mark
from . import Servers, bind_in
from .credentials import LabCredentials, lab_credentials

PORT = 80
TOKEN_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
TOKEN_TTL_MAX = 21600
DEFAULT_INSTANCE_TYPE = "m1.small"          # RunInstances' default when no type is given
IMAGE_ID = "ami-" + hashlib.sha256(b"vpcemu image").hexdigest()[:17]     # the one image every lab instance runs
CREDENTIALS_LIFETIME = timedelta(hours=6)
LATEST = ("dynamic", "meta-data")


class _ModelWatch:
    """The committed model, read again only when its file was replaced (a commit renames a new file in)."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.key: tuple | None = None
        self.topology: Topology | None = None

    def current(self) -> Topology:
        st = os.stat(self.state_dir / MODEL_FILE)
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key != self.key:
            self.topology, self.key = read_model(self.state_dir), key
        return self.topology


def _tree(t: Topology, inst: Instance, started: datetime, creds: LabCredentials) -> dict:
    """The instance's meta-data and dynamic data: a dict is a directory, a str a value."""
    vpc = t.vpcs[inst.vpc]
    enis = t.interfaces_of(inst.name)
    eth0 = vpc.network_interfaces[inst.primary_network_interface]
    itype = inst.instance_type or DEFAULT_INSTANCE_TYPE
    hostname = private_dns_name(t.region, eth0.private_ip_address)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    macs = {}
    for e in enis:
        subnet = vpc.subnets[e.subnet]
        item = {"device-number": str(e.attachment.device_index), "interface-id": e.id,
                "local-hostname": private_dns_name(t.region, e.private_ip_address),
                "local-ipv4s": "\n".join(map(str, e.private_ip_addresses)), "mac": e.mac_address, "owner-id": OWNER,
                "security-group-ids": "\n".join(vpc.security_groups[g].id for g in e.security_groups),
                "security-groups": "\n".join(e.security_groups), "subnet-id": subnet.id,
                "subnet-ipv4-cidr-block": str(subnet.cidr_block), "vpc-id": vpc.id,
                "vpc-ipv4-cidr-block": str(vpc.cidr_block),
                "vpc-ipv4-cidr-blocks": "\n".join(map(str, vpc.cidr_blocks))}
        public = e.public_addresses
        if public:
            item["public-ipv4s"] = "\n".join(str(public[ip]) for ip in e.private_ip_addresses if ip in public)
            item["ipv4-associations"] = {str(p): str(ip) for ip, p in public.items()}
        macs[e.mac_address] = item
    meta = {"ami-id": IMAGE_ID, "ami-launch-index": "0", "hostname": hostname, "instance-id": inst.id,
            "instance-life-cycle": "on-demand", "instance-type": itype, "local-hostname": hostname,
            "local-ipv4": str(eth0.private_ip_address), "mac": eth0.mac_address,
            "network": {"interfaces": {"macs": macs}},
            "placement": {"availability-zone": inst.availability_zone, "region": t.region},
            "reservation-id": "r-" + hashlib.sha256(inst.id.encode()).hexdigest()[:17],
            "security-groups": "\n".join(eth0.security_groups),
            "services": {"domain": "amazonaws.com", "partition": "aws"},
            "iam": {"info": json.dumps({
                        "Code": "Success", "LastUpdated": now.strftime(stamp),
                        "InstanceProfileArn": f"arn:aws:iam::{OWNER}:instance-profile/{creds.role}",
                        "InstanceProfileId": "AIPA" + hashlib.sha256(creds.role.encode()).hexdigest()[:17].upper()},
                        indent=2),
                    "security-credentials": {creds.role: json.dumps({
                        "Code": "Success", "LastUpdated": now.strftime(stamp), "Type": "AWS-HMAC",
                        "AccessKeyId": creds.access_key_id, "SecretAccessKey": creds.secret_access_key,
                        "Token": creds.token, "Expiration": (now + CREDENTIALS_LIFETIME).strftime(stamp)}, indent=2)}}}
    public = eth0.public_addresses.get(eth0.private_ip_address)
    if public is not None:
        meta["public-ipv4"] = str(public)
    document = {"accountId": OWNER, "architecture": "x86_64", "availabilityZone": inst.availability_zone,
                "billingProducts": None, "devpayProductCodes": None, "marketplaceProductCodes": None,
                "imageId": IMAGE_ID, "instanceId": inst.id, "instanceType": itype, "kernelId": None,
                "pendingTime": started.strftime(stamp), "privateIp": str(eth0.private_ip_address),
                "ramdiskId": None, "region": t.region, "version": "2017-09-30"}
    return {"meta-data": meta, "dynamic": {"instance-identity": {"document": json.dumps(document, indent=2)}}}


def _listing(directory: dict) -> str:
    """A directory as IMDS lists it: one entry a line, subdirectories with a trailing slash (ipv4-associations'
    addresses are values, listed plain)."""
    return "\n".join(k + ("/" if isinstance(v, dict) else "") for k, v in sorted(directory.items()))


def _page(status: int, reason: str) -> bytes:
    return (f'<?xml version="1.0" encoding="iso-8859-1"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
            f'\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n<html xmlns="http://www.w3.org/1999/xhtml" '
            f'xml:lang="en" lang="en">\n <head>\n  <title>{status} - {reason}</title>\n </head>\n <body>\n'
            f'  <h1>{status} - {reason}</h1>\n </body>\n</html>\n').encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True      # headers and body go out in two writes: Nagle would hold the body 40 ms

    def version_string(self) -> str:
        return "EC2ws"

    def log_message(self, format, *args):         # noqa: A002 - BaseHTTPRequestHandler's signature
        pass

    def _send(self, status: int, body: bytes | str = b"", headers: dict | None = None, close: bool = False) -> None:
        if isinstance(body, str):
            body = body.encode()
        reason = self.responses.get(status, ("",))[0]
        if status >= 400 and not body:
            body = _page(status, reason)
        self.send_response(status, reason)
        self.send_header("Content-Type", "text/plain" if status < 400 else "text/html")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _asker(self) -> tuple[Topology, Instance] | None:
        mark = self.connection.getsockopt(socket.SOL_SOCKET, socket.SO_MARK) & 0xFFFFFFFF     # a C int
        topology = self.server.model.current()
        vpc = topology.vpcs.get(self.server.vpc)
        if vpc is None:
            return None
        found = [e for e in vpc.network_interfaces.values() if metadata_mark(e) == mark]
        if len(found) != 1 or found[0].attachment is None:
            return None     # not an instance's ENI (a NAT gateway's, an endpoint's), or ids alike in 8 digits
        return topology, topology.instances[found[0].attachment.instance]

    def _handle(self) -> None:
        asker = self._asker()
        if asker is None:
            self.close_connection = True
            return
        topology, inst = asker
        options = inst.metadata_options
        if options.http_endpoint == "disabled":
            return self._send(403)
        path = self.path.split("?", 1)[0]
        if self.command == "PUT":
            if path != "/latest/api/token":
                return self._send(405)
            if "X-Forwarded-For" in self.headers:
                return self._send(403)
            ttl = self.headers.get(TOKEN_TTL_HEADER, "")
            if not ttl.isdigit() or not 1 <= int(ttl) <= TOKEN_TTL_MAX:
                return self._send(400)
            token = self.server.token(inst.id, int(ttl))
            # the answer's packets carry the hop limit as TTL: one more hop past the instance and they expire
            self.connection.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, options.http_put_response_hop_limit)
            return self._send(200, token, {TOKEN_TTL_HEADER: ttl}, close=True)
        if self.command not in ("GET", "HEAD"):
            return self._send(405)
        token = self.headers.get(TOKEN_HEADER)
        if token is not None and not self.server.valid(token, inst.id):
            return self._send(401)
        if token is None and options.http_tokens == "required":
            return self._send(401)
        parts = [p for p in path.split("/") if p]
        if not parts:
            return self._send(200, "latest")
        if parts[0] != "latest":
            return self._send(404)
        if len(parts) == 1:
            return self._send(200, "\n".join(LATEST))      # AWS lists this level without trailing slashes
        node: dict | str = _tree(topology, inst, self.server.started, self.server.creds)
        for part in parts[1:]:
            if not isinstance(node, dict) or part not in node:
                return self._send(404)
            node = node[part]
        self._send(200, _listing(node) if isinstance(node, dict) else node)

    def handle_one_request(self):
        # BaseHTTPRequestHandler dispatches to do_<METHOD>; every method goes through _handle
        self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline or not self.parse_request():
            self.close_connection = True
            return
        self._handle()
        self.wfile.flush()


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address, state_dir: Path, vpc: str):
        self.state_dir = state_dir
        self.vpc = vpc
        self.model = _ModelWatch(state_dir)
        self.creds = lab_credentials(state_dir)
        self.secret = self.creds.token_secret
        self.started = datetime.now(timezone.utc).replace(microsecond=0)
        super().__init__(address, _Handler)

    def token(self, instance_id: str, ttl: int) -> str:
        body = f"{instance_id}:{int(time.time()) + ttl}".encode()
        return base64.b64encode(body + hmac.digest(self.secret, body, "sha256")).decode()

    def valid(self, token: str, instance_id: str) -> bool:
        try:
            raw = base64.b64decode(token, validate=True)
        except ValueError:
            return False
        body, mac = raw[:-32], raw[-32:]
        if not hmac.compare_digest(mac, hmac.digest(self.secret, body, "sha256")):
            return False
        owner, _, expires = body.decode(errors="replace").rpartition(":")
        return owner == instance_id and expires.isdigit() and int(expires) > time.time()


class InstanceMetadata:
    def __init__(self, state_dir: Path, vpc: str):
        self.state_dir = Path(state_dir)
        self.vpc = vpc

    def start(self, netns: str | None, address: str = INSTANCE_METADATA, port: int = PORT) -> Servers:
        handle = Servers()

        def bind_all():
            server = _Server((address, port), self.state_dir, self.vpc)
            handle.servers.append(server)
            handle.listening.append(("tcp", address, port))

        bind_in(netns, bind_all, handle.close)
        handle.serve("imds")
        return handle
