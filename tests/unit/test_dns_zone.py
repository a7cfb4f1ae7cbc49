"""The VPC resolver's zone, without root: names, NXDOMAIN vs NODATA, the DNS attributes."""
from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address as A

from vpcemu import load_text
from vpcemu.dns.zone import NOERROR, NXDOMAIN, REFUSED, build_zone, private_hostname

TOPO = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    enable_dns_hostnames: true
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
    instances:
      a1: {subnet: a}
internet:
  hosts:
    ext: {ip: 198.18.0.50, listen: [tcp/80]}
aws:
  services: [s3, sqs, dynamodb]
"""
SVC = {"s3": (A("198.19.0.10"),), "sqs": (A("198.19.0.11"),), "dynamodb": (A("198.19.0.12"),)}


def topo():
    return load_text(TOPO, name="z")


def test_private_hostnames_forward_and_reverse():
    t = topo()
    ip = t.instance("a1").private_ip_address if hasattr(t.instance("a1"), "private_ip_address") \
        else t.interfaces_of("a1")[0].private_ip_address
    z = build_zone(t, "main", SVC)
    host = private_hostname(ip, "us-east-1")
    assert host.endswith(".ec2.internal") and host.startswith("ip-10-0-1-")
    assert z.lookup(host + ".", "A") == (NOERROR, (ip,))
    rev = ".".join(reversed(str(ip).split("."))) + ".in-addr.arpa"
    assert z.lookup(rev, "PTR") == (NOERROR, (host,))
    assert z.lookup(host, "AAAA") == (NOERROR, ())          # NODATA
    assert z.lookup("ip-10-0-9-9.ec2.internal", "A") == (NXDOMAIN, ())


def test_other_region_domain():
    assert private_hostname(A("10.0.1.5"), "eu-west-1") == "ip-10-0-1-5.eu-west-1.compute.internal"


def test_hostnames_need_both_attributes():
    t = topo()
    off = replace(t, vpcs={"main": replace(t.vpcs["main"], enable_dns_hostnames=False)})
    ip = off.interfaces_of("a1")[0].private_ip_address
    z = build_zone(off, "main", SVC)
    assert z.lookup(private_hostname(ip, "us-east-1"))[0] == NXDOMAIN
    assert z.lookup("s3.us-east-1.amazonaws.com") == (NOERROR, SVC["s3"])


def test_dns_support_off_does_not_answer():
    t = topo()
    off = replace(t, vpcs={"main": replace(t.vpcs["main"], enable_dns_support=False)})
    assert build_zone(off, "main", SVC).lookup("s3.us-east-1.amazonaws.com")[0] == REFUSED


def test_service_names_buckets_and_internet_hosts():
    z = build_zone(topo(), "main", SVC)
    assert z.lookup("sqs.us-east-1.amazonaws.com") == (NOERROR, SVC["sqs"])
    assert z.lookup("DynamoDB.us-east-1.amazonaws.com") == (NOERROR, SVC["dynamodb"])
    assert z.lookup("s3.amazonaws.com") == (NOERROR, SVC["s3"])
    assert z.lookup("my-bucket.s3.us-east-1.amazonaws.com") == (NOERROR, SVC["s3"])
    assert z.lookup("ext") == (NOERROR, (A("198.18.0.50"),))
    assert z.lookup("nope.us-east-1.amazonaws.com")[0] == NXDOMAIN
    assert z.lookup("us-east-1.amazonaws.com") == (NOERROR, ())   # empty non-terminal: NODATA
    assert z.lookup("kms.us-east-1.amazonaws.com")[0] == NXDOMAIN


def test_private_dns_overrides_win():
    over = {"sqs.us-east-1.amazonaws.com": (A("10.0.1.99"),)}
    z = build_zone(topo(), "main", SVC, over)
    assert z.lookup("sqs.us-east-1.amazonaws.com") == (NOERROR, (A("10.0.1.99"),))
