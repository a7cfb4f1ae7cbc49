"""The lab's services against the real kernel: moto's region and the VPC resolver in a "service"
namespace, a real boto3 program in a "client" namespace over HTTPS verified against the lab CA,
no endpoint override (names resolve through our resolver via /etc/netns/<ns>/resolv.conf)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from ipaddress import IPv4Address as A
from pathlib import Path

import pytest

from kernel_namespaces import Namespaces
from vpcemu import load_text
from vpcemu.dns.zone import build_zone
from vpcemu.kernel.netns import open_iproute, run_in_netns
from vpcemu.services.aws import AwsRegion
from vpcemu.services.ca import CertificateAuthority
from vpcemu.services.environment import exec_environment, resolv_conf, resolv_conf_path
from vpcemu.services.resolver import VpcResolver

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root"),
]

CLIENT_IP, DNS_IP = "198.19.0.1", "198.19.0.2"
SVC = {"s3": (A("198.19.0.10"),), "sqs": (A("198.19.0.11"),), "dynamodb": (A("198.19.0.12"),)}
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
    ext: {ip: 198.18.0.50}
aws:
  services: [s3, sqs, dynamodb]
"""


def _configure(ns, ifname, addresses):
    with open_iproute(ns) as ipr:
        idx = ipr.link_lookup(ifname=ifname)[0]
        for a in addresses:
            ipr.addr("add", index=idx, address=a, prefixlen=24)
        ipr.link("set", index=idx, state="up")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tag = f"svct-{os.getpid()}"
    client, service = f"{tag}-c", f"{tag}-s"
    etc_dir = Path(resolv_conf_path(client)).parent
    made, handles = Namespaces(tag), []
    try:
        made.create(client, service)
        with open_iproute(client) as ipr:
            ipr.link("add", ifname="vc", kind="veth", peer={"ifname": "vs", "net_ns_fd": service})
        _configure(client, "vc", [CLIENT_IP])
        _configure(service, "vs", [DNS_IP, *(str(a[0]) for a in SVC.values())])
        ca = CertificateAuthority.create(tmp_path_factory.mktemp("ca"))
        t0 = time.monotonic()
        handles.append(AwsRegion("us-east-1", ca, SVC).start(service))
        start_s = time.monotonic() - t0
        topo = load_text(TOPO, name="svct")
        handles.append(VpcResolver(build_zone(topo, "main", SVC)).start(service, [DNS_IP]))
        etc_dir.mkdir(parents=True, exist_ok=True)
        Path(resolv_conf_path(client)).write_text(resolv_conf(DNS_IP, "us-east-1"))
        yield {"client": client, "service": service, "ca": ca, "start_s": start_s, "topo": topo}
    finally:
        for h in handles:
            h.stop()
        shutil.rmtree(etc_dir, ignore_errors=True)
        made.remove()


BOTO_PROGRAM = r"""
import json, time, boto3, urllib.request
from botocore.config import Config
out = {}
t0 = time.monotonic()
for style in ("path", "virtual"):
    s3 = boto3.client("s3", config=Config(s3={"addressing_style": style}))
    b = f"bkt-{style}"
    r = s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"hello " + style.encode())
    g = s3.get_object(Bucket=b, Key="k")
    out[style] = {"body": g["Body"].read().decode(), "url": s3.meta.endpoint_url,
                  "client": g["ResponseMetadata"]["HTTPHeaders"].get("x-vpcemu-client-address")}
out["buckets"] = sorted(x["Name"] for x in boto3.client("s3").list_buckets()["Buckets"])
sqs = boto3.client("sqs")
q = sqs.create_queue(QueueName="q1")["QueueUrl"]
sqs.send_message(QueueUrl=q, MessageBody="m1")
m = sqs.receive_message(QueueUrl=q, WaitTimeSeconds=1)
out["sqs"] = {"url": q, "body": m["Messages"][0]["Body"],
              "client": m["ResponseMetadata"]["HTTPHeaders"].get("x-vpcemu-client-address")}
ddb = boto3.client("dynamodb")
ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                 AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                 BillingMode="PAY_PER_REQUEST")
ddb.put_item(TableName="t", Item={"id": {"S": "1"}, "v": {"S": "x"}})
it = ddb.get_item(TableName="t", Key={"id": {"S": "1"}})
out["ddb"] = {"item": it["Item"]["v"]["S"],
              "client": it["ResponseMetadata"]["HTTPHeaders"].get("x-vpcemu-client-address")}
with urllib.request.urlopen("https://sqs.us-east-1.amazonaws.com/vpcemu/whoami") as r:
    out["whoami"] = json.load(r)
out["elapsed"] = time.monotonic() - t0
print(json.dumps(out))
"""


def test_boto3_over_https_through_the_resolver(lab):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           **exec_environment("us-east-1", lab["ca"].bundle())}
    r = subprocess.run(["ip", "netns", "exec", lab["client"], sys.executable, "-c", BOTO_PROGRAM],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout)
    print(f"AwsRegion.start {lab['start_s']:.3f}s; boto3 program {out['elapsed']:.2f}s")
    assert out["path"]["body"] == "hello path" and out["virtual"]["body"] == "hello virtual"
    assert out["path"]["client"] == out["virtual"]["client"] == CLIENT_IP
    assert out["buckets"] == ["bkt-path", "bkt-virtual"]
    assert out["sqs"]["body"] == "m1" and out["sqs"]["client"] == CLIENT_IP
    assert out["sqs"]["url"].startswith("https://sqs.us-east-1.amazonaws.com/")
    assert out["ddb"] == {"item": "x", "client": CLIENT_IP}
    assert out["whoami"]["client"] == CLIENT_IP


def _query(ns, name, qtype, tcp=False):
    from dnslib import DNSRecord
    q = DNSRecord.question(name, qtype)
    return DNSRecord.parse(run_in_netns(ns, q.send, DNS_IP, 53, tcp, 3))


def test_resolver_answers_from_the_client_namespace(lab):
    from dnslib import RCODE
    ns = lab["client"]
    r = _query(ns, "s3.us-east-1.amazonaws.com", "A")
    assert [str(x.rdata) for x in r.rr] == ["198.19.0.10"]
    r = _query(ns, "bkt.s3.us-east-1.amazonaws.com", "A", tcp=True)
    assert [str(x.rdata) for x in r.rr] == ["198.19.0.10"]
    ip = lab["topo"].interfaces_of("a1")[0].private_ip_address
    host = "ip-" + str(ip).replace(".", "-") + ".ec2.internal"
    assert [str(x.rdata) for x in _query(ns, host, "A").rr] == [str(ip)]
    rev = ".".join(reversed(str(ip).split("."))) + ".in-addr.arpa"
    assert [str(x.rdata) for x in _query(ns, rev, "PTR").rr] == [host + "."]
    r = _query(ns, host, "AAAA")
    assert r.header.rcode == RCODE.NOERROR and not r.rr
    assert _query(ns, "nope.ec2.internal", "A").header.rcode == RCODE.NXDOMAIN
