"""The instance metadata service with real clients inside instances, nothing set in their environment (`env -i`):
curl IMDSv2 and IMDSv1 answers as `vpcemu status` shows the lab, per instance whatever the request says, never
filtered by security groups or network ACLs, tokens required, the endpoint disabled, the token's hop limit
against a namespace routed behind an instance (as a container), an ENI attached a moment ago, the AWS CLI and
boto3 finding the role's credentials, and HTTPS to the lab's S3 verified with the lab CA in the trust stores."""
from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from kernel_namespaces import Namespaces
from vpcemu.kernel.netns import open_iproute, run_in_netns
from vpcemu.lab import Lab
from vpcemu.load import load_text
from vpcemu.model import MetadataOptions
from vpcemu.ops import network_interface as eni_ops
from vpcemu.plan import names
from vpcemu.services.credentials import ROLE, lab_credentials

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root")]

TOPOLOGY = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    internet_gateway: igw
    subnets:
      public: {cidr: 10.0.0.0/24, az: us-east-1a, route_table: public, network_acl: shut}
      app: {cidr: 10.0.1.0/24, az: us-east-1b}
    route_tables:
      public: {routes: [{destination: 0.0.0.0/0, target: igw}]}
    network_acls:
      shut: {}
    security_groups:
      closed: {ingress: [], egress: []}
    endpoints:
      s3: {type: gateway, service: s3, route_tables: [main]}
    instances:
      web: {subnet: public, private_ip: 10.0.0.10, public_ip: true, security_groups: [closed], instance_type: t3.micro}
      strict: {subnet: app, private_ip: 10.0.1.20, metadata_options: {http_tokens: required}}
      docker: {subnet: app, private_ip: 10.0.1.30, forwarding: true}
      dark: {subnet: app, private_ip: 10.0.1.40, metadata_options: {http_endpoint: disabled}}
    network_interfaces:
      extra: {subnet: app, private_ips: [10.0.1.50, 10.0.1.51]}
aws:
  services: [s3]
"""
IMDS = "http://169.254.169.254"
BIN = str(Path(sys.prefix) / "bin")
CLEAN = ["env", "-i", f"PATH={BIN}:/usr/sbin:/usr/bin:/sbin:/bin"]      # nothing from `vpcemu exec`'s environment
CURL = ["curl", "-s", "-m", "3", "-o", "/dev/stdout", "-w", "\\n%{http_code}"]


@pytest.fixture(scope="module")
def lab():
    started = time.monotonic()
    with Lab.up(load_text(TOPOLOGY, name="md"), name=f"md{os.getpid() % 100000}") as lab:
        up = time.monotonic() - started
        first = None
        while first is None or first[0] != 200:          # each try is a real request and answer
            first = get(lab, "docker", "/latest/meta-data/instance-id")
        print(f"Lab.up {up:.3f}s; first IMDS answer {time.monotonic() - started - up:.4f}s after up returned")
        yield lab


def sh(lab: Lab, instance: str, script: str, *args: str) -> subprocess.CompletedProcess:
    """A shell script (the test's own words; the arguments as $1…) inside an instance, environment cleared."""
    return lab.exec(instance, [*CLEAN, "sh", "-c", script, "sh", *args], timeout=60)


def get(lab: Lab, instance: str, path: str, *headers: str, method: str = "GET") -> tuple[int, str]:
    """curl inside the instance, environment cleared: (HTTP status, body); status 0 when no answer came."""
    argv = [*CLEAN, *CURL, "-X", method, *(w for h in headers for w in ("-H", h)), IMDS + path]
    r = lab.exec(instance, argv, timeout=30)
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body


def token(lab: Lab, instance: str, ttl: str = "21600") -> str:
    status, body = get(lab, instance, "/latest/api/token", f"X-aws-ec2-metadata-token-ttl-seconds: {ttl}", method="PUT")
    assert status == 200 and body, (status, body)
    return body


def v2(lab: Lab, instance: str, path: str) -> str:
    status, body = get(lab, instance, path, f"X-aws-ec2-metadata-token: {token(lab, instance)}")
    assert status == 200, (path, status, body)
    return body


def test_imdsv2_answers_what_status_shows_through_a_closed_sg_and_nacl(lab):
    st = lab.status()
    vpc = st["vpcs"][0]
    web = next(i for i in vpc["instances"] if i["name"] == "web")
    eni = next(e for e in vpc["network_interfaces"] if e["instance"] == "web")
    subnet = next(s for s in vpc["subnets"] if s["name"] == "public")
    sgs = {g.name: g.id for g in lab.topology.vpcs["main"].security_groups.values()}
    private, public = eni["private_ips"][0], eni["public_ips"][eni["private_ips"][0]]
    script = """T=$(curl -s -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' http://169.254.169.254/latest/api/token)
for p in "$@"; do printf '%s=' "$p"; curl -s -H "X-aws-ec2-metadata-token: $T" "http://169.254.169.254/latest/$p" | tr '\\n' ','; echo; done"""
    mac = f"meta-data/network/interfaces/macs/{eni['mac']}/"
    paths = ["meta-data/instance-id", "meta-data/instance-type", "meta-data/local-ipv4", "meta-data/public-ipv4",
             "meta-data/mac", "meta-data/hostname", "meta-data/local-hostname", "meta-data/placement/availability-zone",
             "meta-data/placement/region", "meta-data/security-groups", "meta-data/network/interfaces/macs/",
             *(mac + k for k in ("device-number", "interface-id", "local-ipv4s", "public-ipv4s", "subnet-id",
                                 "subnet-ipv4-cidr-block", "vpc-id", "vpc-ipv4-cidr-blocks", "security-group-ids",
                                 "owner-id", "ipv4-associations/", f"ipv4-associations/{public}")),
             "meta-data/iam/security-credentials/"]
    r = sh(lab, "web", script, *paths)
    assert r.returncode == 0, r.stderr
    got = dict(line.split("=", 1) for line in r.stdout.splitlines())
    hostname = "ip-10-0-0-10.ec2.internal"
    assert got == {
        "meta-data/instance-id": web["id"], "meta-data/instance-type": "t3.micro", "meta-data/local-ipv4": private,
        "meta-data/public-ipv4": public, "meta-data/mac": eni["mac"], "meta-data/hostname": hostname,
        "meta-data/local-hostname": hostname, "meta-data/placement/availability-zone": web["az"],
        "meta-data/placement/region": st["region"], "meta-data/security-groups": "closed",
        "meta-data/network/interfaces/macs/": eni["mac"] + "/",
        mac + "device-number": "0", mac + "interface-id": eni["id"], mac + "local-ipv4s": private,
        mac + "public-ipv4s": public, mac + "subnet-id": subnet["id"], mac + "subnet-ipv4-cidr-block": subnet["cidr"],
        mac + "vpc-id": vpc["id"], mac + "vpc-ipv4-cidr-blocks": vpc["cidr_blocks"][0],
        mac + "security-group-ids": sgs["closed"], mac + "owner-id": "123456789012",
        mac + "ipv4-associations/": public, mac + f"ipv4-associations/{public}": private,
        "meta-data/iam/security-credentials/": ROLE}
    listing = v2(lab, "web", "/latest/meta-data/").split("\n")
    assert {"ami-id", "hostname", "iam/", "instance-id", "mac", "network/", "placement/", "public-ipv4"} <= set(listing)
    assert listing == sorted(listing)
    assert v2(lab, "web", "/latest/").split("\n") == ["dynamic", "meta-data"]
    document = json.loads(v2(lab, "web", "/latest/dynamic/instance-identity/document"))
    assert (document["instanceId"], document["privateIp"], document["availabilityZone"], document["region"]) == \
        (web["id"], private, web["az"], "us-east-1")
    # the SG lets nothing out and the NACL nothing in or out: IMDS still answers, the data path does not
    assert lab.exec("web", ["ping", "-c1", "-W1", "10.0.1.30"]).returncode != 0


def test_an_instance_reads_only_its_own_metadata_whatever_it_sends(lab):
    strict_token = token(lab, "strict")
    own = v2(lab, "docker", "/latest/meta-data/instance-id")
    assert own == lab.topology.instances["docker"].id
    # another instance's token is no token here
    assert get(lab, "docker", "/latest/meta-data/instance-id", f"X-aws-ec2-metadata-token: {strict_token}")[0] == 401
    # headers naming another instance change nothing: the answer is the asker's
    forged = ("X-Forwarded-For: 10.0.1.20", "X-Real-IP: 10.0.1.20", "Host: 10.0.1.20", "X-aws-ec2-instance-id: "
              + lab.topology.instances["strict"].id)
    assert get(lab, "docker", "/latest/meta-data/instance-id", *forged) == (200, own)
    assert get(lab, "docker", "/latest/meta-data/local-ipv4", *forged) == (200, "10.0.1.30")
    # a token is refused when asked for through a proxy, and made only for a TTL AWS takes
    assert get(lab, "docker", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 60",
               "X-Forwarded-For: 10.0.1.20", method="PUT")[0] == 403
    for ttl in ("0", "21601", "ten"):
        assert get(lab, "docker", "/latest/api/token", f"X-aws-ec2-metadata-token-ttl-seconds: {ttl}",
                   method="PUT")[0] == 400
    assert get(lab, "docker", "/latest/api/token", method="PUT")[0] == 400
    assert get(lab, "docker", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token: forged")[0] == 401
    assert get(lab, "docker", "/latest/meta-data/no-such-key")[0] == 404


def test_tokens_required_refuses_imdsv1_and_a_disabled_endpoint_answers_nothing(lab):
    assert get(lab, "strict", "/latest/meta-data/instance-id")[0] == 401
    assert v2(lab, "strict", "/latest/meta-data/instance-id") == lab.topology.instances["strict"].id
    assert get(lab, "docker", "/latest/meta-data/instance-id") == (200, lab.topology.instances["docker"].id)  # v1
    assert get(lab, "dark", "/latest/meta-data/instance-id")[0] == 403
    assert get(lab, "dark", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 60", method="PUT")[0] == 403


@pytest.fixture
def container(lab):
    """A namespace routed behind `docker` (its own subnet, masqueraded by docker as a container host does)."""
    ctr = f"{lab.name}-ctr"
    spaces = Namespaces(f"{lab.name}c")
    try:
        spaces.create(ctr)
        host = names.instance_ns(lab.name, "docker")
        with open_iproute(host) as ipr:
            ipr.link("add", ifname="ctr0", kind="veth", peer={"ifname": "eth0", "net_ns_fd": f"/run/netns/{ctr}"})
            index = ipr.link_lookup(ifname="ctr0")[0]
            ipr.addr("add", index=index, address="172.17.0.1", prefixlen=30)
            ipr.link("set", index=index, state="up")
        with open_iproute(ctr) as ipr:
            index = ipr.link_lookup(ifname="eth0")[0]
            ipr.addr("add", index=index, address="172.17.0.2", prefixlen=30)
            ipr.link("set", index=index, state="up")
            ipr.route("add", dst="0.0.0.0/0", gateway="172.17.0.1")
        nat = "table ip ctr {\n chain post {\n type nat hook postrouting priority srcnat;\n oifname \"eth0\" masquerade\n }\n}\n"
        subprocess.run(["ip", "netns", "exec", host, "nft", "-f", "-"], input=nat, text=True, check=True)
        yield ctr
    finally:
        assert spaces.remove() == []
        subprocess.run(["ip", "netns", "exec", names.instance_ns(lab.name, "docker"), "nft", "delete", "table", "ip",
                        "ctr"], capture_output=True)


def in_container(ctr: str, *curl: str) -> tuple[int, str]:
    r = subprocess.run(["ip", "netns", "exec", ctr, *CURL, *curl], capture_output=True, text=True, timeout=30)
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body


def test_the_token_answer_expires_one_hop_behind_the_instance(lab, container):
    put = ("-X", "PUT", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60", IMDS + "/latest/api/token")
    # the container reaches IMDS (IMDSv1 answers it: GET answers carry no hop limit) ...
    assert in_container(container, IMDS + "/latest/meta-data/local-ipv4") == (200, "10.0.1.30")
    # ... but the token's answer leaves with TTL 1: docker forwards it no further, curl gets nothing
    assert in_container(container, *put)[0] == 0
    assert token(lab, "docker")                         # the instance itself gets it
    docker = lab.topology.instances["docker"]
    original = lab.topology
    lab.commit(replace(original, vpcs={"main": replace(original.vpcs["main"], instances={
        **original.vpcs["main"].instances,
        "docker": replace(docker, metadata_options=MetadataOptions(http_put_response_hop_limit=2))})}))
    try:
        status, body = in_container(container, *put)      # read from the model at once: two hops reach it
        assert status == 200 and body
    finally:
        lab.commit(original)
    assert in_container(container, *put)[0] == 0


def test_an_eni_attached_a_moment_ago_is_listed_at_once(lab):
    eni = lab.topology.network_interface("extra")
    macs = "/latest/meta-data/network/interfaces/macs/"
    assert get(lab, "docker", macs)[1].split("\n") == [lab.topology.network_interface("docker.eth0").mac_address + "/"]
    eni_ops.attach_network_interface(lab, "extra", "docker", 1)
    try:
        assert eni.mac_address + "/" in get(lab, "docker", macs)[1].split("\n")
        assert get(lab, "docker", f"{macs}{eni.mac_address}/device-number") == (200, "1")
        assert get(lab, "docker", f"{macs}{eni.mac_address}/local-ipv4s") == (200, "10.0.1.50\n10.0.1.51")
        assert get(lab, "docker", f"{macs}{eni.mac_address}/interface-id") == (200, eni.id)
    finally:
        eni_ops.detach_network_interface(lab, "extra")
    assert eni.mac_address + "/" not in get(lab, "docker", macs)[1].split("\n")


BOTO_CREDENTIALS = """
import botocore.session
c = botocore.session.get_session().get_credentials()
print(c.method, c.access_key)
"""


def test_the_aws_cli_and_boto3_take_the_roles_credentials_from_imds(lab):
    creds = lab_credentials(lab.journal.dir)
    for instance in ("strict", "docker"):                  # IMDSv2 required, and optional
        r = lab.exec(instance, [*CLEAN, sys.executable, "-c", BOTO_CREDENTIALS], timeout=60)
        assert r.returncode == 0 and r.stdout.split() == ["iam-role", creds.access_key_id], r.stderr
        r = lab.exec(instance, [*CLEAN, "aws", "configure", "list"], timeout=60)
        assert r.returncode == 0, r.stderr
        key = next(line.split() for line in r.stdout.splitlines() if line.split()[:1] == ["access_key"])
        assert key[1:] == ["****************" + creds.access_key_id[-4:], "iam-role"], r.stdout
    r = lab.exec("docker", [*CLEAN, "env"])
    assert r.stdout.split() == [f"PATH={BIN}:/usr/sbin:/usr/bin:/sbin:/bin"]
    # `vpcemu exec` itself: the AWS CLI on the PATH, no keys in the environment, so the role's are used
    assert lab.exec("strict", ["sh", "-c", "command -v aws"]).stdout.strip() == f"{BIN}/aws"
    r = lab.exec("strict", ["aws", "configure", "list"], timeout=60)
    assert "iam-role" in next(line for line in r.stdout.splitlines() if line.split()[:1] == ["access_key"])


def test_https_to_the_labs_s3_verifies_with_nothing_set(lab):
    script = ("aws s3 mb s3://md-bucket --region us-east-1 && echo hello > /tmp/md-hello"
              " && aws s3 cp - s3://md-bucket/k --region us-east-1 < /tmp/md-hello && aws s3 ls s3://md-bucket"
              " --region us-east-1 && rm /tmp/md-hello")
    r = sh(lab, "docker", script)
    assert r.returncode == 0 and " k" in r.stdout, r.stderr
    boto = ("import boto3; s3 = boto3.client('s3', region_name='us-east-1'); "
            "print(s3.get_object(Bucket='md-bucket', Key='k')['Body'].read().decode().strip(), "
            "s3.meta.endpoint_url)")
    r = lab.exec("strict", [*CLEAN, sys.executable, "-c", boto], timeout=60)
    assert r.returncode == 0 and r.stdout.split() == ["hello", "https://s3.amazonaws.com"], r.stderr
    # the trust comes from the stores themselves: curl told to verify with the system's store verifies (exit 0; 60
    # would be a certificate it cannot verify) and gets S3's answer to an unsigned request
    r = sh(lab, "docker", "curl -s -o /dev/null -w '%{http_code}' --cacert /etc/ssl/certs/ca-certificates.crt "
                          "https://s3.amazonaws.com/md-bucket/k")
    assert (r.returncode, r.stdout) == (0, "403"), (r.stdout, r.stderr)
    ca = (lab.journal.dir / "ca" / "ca.pem").read_text()
    for store in ("/etc/ssl/certs/ca-certificates.crt", __import__("certifi").where()):   # the host's files unchanged
        assert ca not in Path(store).read_text()


def test_answer_latency(lab):
    """IMDS answer time seen from inside an instance (a keep-alive connection, as SDKs use)."""
    def measure():
        conn = http.client.HTTPConnection("169.254.169.254", 80, timeout=5)
        times = []
        for _ in range(200):
            t0 = time.perf_counter()
            conn.request("GET", "/latest/meta-data/instance-id")
            r = conn.getresponse()
            body = r.read().decode()
            times.append(time.perf_counter() - t0)
            assert r.status == 200 and body == lab.topology.instances["docker"].id
        conn.close()
        return sorted(times)
    times = run_in_netns(names.instance_ns(lab.name, "docker"), measure)
    print(f"IMDS GET instance-id: median {times[100] * 1000:.2f} ms, p95 {times[190] * 1000:.2f} ms, "
          f"max {times[-1] * 1000:.2f} ms over {len(times)}")
    assert times[100] < 0.010          # 40 ms would be Nagle holding a body back
