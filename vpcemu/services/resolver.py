"""The VPC resolver (AmazonProvidedDNS) served with dnslib on UDP and TCP 53, bound inside a namespace;
the internet's resolver is the same server with the public zone (dns/zone.py build_public_zone).

    resolver = VpcResolver(zone)              # zone: vpcemu.dns.zone.build_zone(...)
    handle = resolver.start(netns, ["10.0.0.2", "169.254.169.253"])   # returns once sockets listen
    resolver.zone = build_zone(new_topology, ...)   # live change: swapped atomically
    handle.stop()

A zone whose VPC has enable_dns_support false makes the resolver not answer at all (queries time out),
as the VPC's +2 does not answer then.
"""
from __future__ import annotations

from ..dns.zone import NXDOMAIN, REFUSED, Zone
from . import Servers, bind_in

TTL = 60


class _Resolver:
    def __init__(self, owner: "VpcResolver"):
        self.owner = owner

    def resolve(self, request, handler):
        from dnslib import A, PTR, QTYPE, RCODE, RR

        zone = self.owner.zone
        q = request.q
        qtype = QTYPE[q.qtype]
        rcode, answers = zone.lookup(str(q.qname), qtype)
        if rcode == REFUSED:
            return None                       # dnslib then sends nothing: the resolver does not answer
        reply = request.reply()
        reply.header.ra = 1
        if rcode == NXDOMAIN:
            reply.header.rcode = RCODE.NXDOMAIN
        for a in answers:
            if qtype == "PTR":
                reply.add_answer(RR(q.qname, QTYPE.PTR, rdata=PTR(a + "."), ttl=TTL))
            else:
                reply.add_answer(RR(q.qname, QTYPE.A, rdata=A(str(a)), ttl=TTL))
        return reply


def _handler_class():
    from dnslib import RCODE
    from dnslib.dns import DNSError, DNSHeader, DNSRecord
    from dnslib.server import DNSHandler

    class _Handler(DNSHandler):
        def get_reply(self, data):
            resolver = self.server.resolver
            try:
                request = DNSRecord.parse(data)
            except DNSError:
                # as a real resolver does: a query it cannot parse gets FORMERR (anything that is not a
                # query at all, too short for a header or with QR set, gets nothing)
                if not resolver.owner.zone.answers or len(data) < 12 or data[2] & 0x80:
                    raise
                return DNSRecord(DNSHeader(id=int.from_bytes(data[:2], "big"), qr=1, ra=1, rcode=RCODE.FORMERR)).pack()
            reply = resolver.resolve(request, self)
            if reply is None:
                raise DNSError("enable_dns_support is false: no answer")
            return reply.pack()

    return _Handler


class _QuietLogger:
    def __getattr__(self, name):
        return lambda *a, **k: None


class VpcResolver:
    def __init__(self, zone: Zone, port: int = 53):
        self.zone = zone
        self.port = port

    def start(self, netns: str | None, addresses: list) -> Servers:
        from dnslib.server import DNSServer

        handle = Servers()
        resolver = _Resolver(self)
        handler = _handler_class()

        def bind_all():
            for addr in addresses:
                for tcp in (False, True):
                    dns = DNSServer(resolver, address=str(addr), port=self.port, tcp=tcp, handler=handler,
                                    logger=_QuietLogger())
                    handle.servers.append(dns.server)
                    handle.listening.append(("tcp" if tcp else "udp", str(addr), self.port))

        bind_in(netns, bind_all, handle.close)
        handle.serve("dns")
        return handle
