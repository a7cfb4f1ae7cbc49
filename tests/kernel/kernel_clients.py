"""Real client programs the kernel tests run inside lab namespaces (with `vpcemu exec`'s environment)."""
from __future__ import annotations

import ctypes
import fcntl
import json
import socket
import struct
import subprocess
import sys
import time
from contextlib import contextmanager

from vpcemu.kernel.netns import run_in_netns

# one VPC, one subnet, two instances: the smallest lab with a VPC resolver (the supervisor's tests)
TWO_INSTANCES = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    enable_dns_hostnames: true
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
    instances:
      a1: {subnet: a, private_ip: 10.0.1.4}
      a2: {subnet: a, private_ip: 10.0.1.5}
"""
A2_NAME = "ip-10-0-1-5.ec2.internal"        # a2's private DNS name

GTXCSUM, GGRO, SGRO = 0x16, 0x2B, 0x2C       # ethtool commands on a struct ethtool_value


def ethtool(ns: str, ifname: str, cmd: int, data: int = 0) -> int:
    """An ethtool_value command (get: the value; set: `data`) on `ifname` in `ns`, written independently of the
    modules under test."""

    def body() -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            value = ctypes.create_string_buffer(struct.pack("II", cmd, data))
            req = struct.pack("16sP", ifname.encode(), ctypes.addressof(value)).ljust(40, b"\0")
            fcntl.ioctl(sock, 0x8946, req)
            return struct.unpack("II", value.raw[:8])[1]

    return run_in_netns(ns, body)


WHOAMI = r"""
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
    print(json.dumps(json.load(r)))
"""

BOTO = r"""
import json, sys, boto3
out = {}
s3 = boto3.client("s3")
b = sys.argv[1]
s3.create_bucket(Bucket=b)
s3.put_object(Bucket=b, Key="k", Body=b"hello")
g = s3.get_object(Bucket=b, Key="k")
out["s3"] = {"body": g["Body"].read().decode(), "client": g["ResponseMetadata"]["HTTPHeaders"].get("x-vpcemu-client-address")}
if len(sys.argv) > 2:
    sqs = boto3.client("sqs")
    q = sqs.create_queue(QueueName=sys.argv[2])["QueueUrl"]
    sqs.send_message(QueueUrl=q, MessageBody="m1")
    m = sqs.receive_message(QueueUrl=q, WaitTimeSeconds=1)
    out["sqs"] = {"body": m["Messages"][0]["Body"], "client": m["ResponseMetadata"]["HTTPHeaders"].get("x-vpcemu-client-address")}
print(json.dumps(out))
"""

SQS = r"""
import json, sys, boto3
from botocore.config import Config
sqs = boto3.client("sqs", config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}))
q = sqs.create_queue(QueueName=sys.argv[1])["QueueUrl"]
sqs.send_message(QueueUrl=q, MessageBody="m1")
m = sqs.receive_message(QueueUrl=q, WaitTimeSeconds=1)
print(json.dumps({"body": m["Messages"][0]["Body"], "client": m["ResponseMetadata"]["HTTPHeaders"].get("x-vpcemu-client-address")}))
"""


def run(lab, target: str, program: str, *args: str, timeout: float = 60) -> dict:
    r = lab.exec(target, [sys.executable, "-c", program, *args], timeout=timeout)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


def fails(lab, target: str, program: str, *args: str, timeout: float = 60) -> str:
    r = lab.exec(target, [sys.executable, "-c", program, *args], timeout=timeout)
    assert r.returncode != 0, r.stdout
    return r.stderr


def resolve(lab, target: str, name: str) -> list[str]:
    r = lab.exec(target, ["getent", "ahostsv4", name])
    return sorted({line.split()[0] for line in r.stdout.splitlines()})


@contextmanager
def http_server(lab, target: str, address: str, port: int = 80):
    """`python -m http.server` inside `target`, yielded once it accepts connections there."""
    proc = subprocess.Popen(lab.exec_argv(target, [sys.executable, "-m", "http.server", str(port), "--bind", address]),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ns = lab.namespace_of(target)
        for _ in range(500):                      # until it listens (each try is a real connect)
            if run_in_netns(ns, _connects, address, port):
                break
            time.sleep(0.01)
        else:
            raise AssertionError(f"http.server on {target} never listened")
        yield proc
    finally:
        proc.terminate()
        proc.wait()


def _connects(address: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((address, port)) == 0
