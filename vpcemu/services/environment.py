"""What `vpcemu exec` gives a program inside an instance: the lab CA trusted (in the environment, and in the trust
stores themselves by trust_mount.py), the region set, the AWS CLI on the PATH, credentials from the instance's
role through IMDS (dummy ones elsewhere), no endpoint override (names resolve through the VPC resolver), and
resolv.conf (an internet host's names the internet's resolver)."""
from __future__ import annotations

import importlib.util
import os
import sys
from ipaddress import IPv4Address
from pathlib import Path

from ..model.topology import Topology
from ..plan.internet import PUBLIC_RESOLVER
from ..plan.names import instance_ns, internet_host_ns


# where clients look for trusted roots besides the environment: the system bundle (curl, OpenSSL, Python's ssl)
SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem")


def exec_environment(region: str, ca_bundle: Path | str | None, instance: bool = False) -> dict[str, str]:
    """Variables to add to the program's environment (ca_bundle: system roots plus the lab CA; None
    leaves the program its system trust store). In an instance the credentials come from its role through
    IMDS, as on EC2; elsewhere (an internet host) dummy ones stand in."""
    env = {
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "PATH": os.pathsep.join([str(Path(sys.prefix) / "bin"), os.environ.get("PATH", os.defpath)]),
    }
    if not instance:
        env |= {"AWS_ACCESS_KEY_ID": "AKIAVPCEMUEXAMPLE000",
                "AWS_SECRET_ACCESS_KEY": "vpcemu-dummy-secret-access-key",
                "AWS_EC2_METADATA_DISABLED": "true"}
    if ca_bundle is not None:
        bundle = str(ca_bundle)
        env |= {"AWS_CA_BUNDLE": bundle, "REQUESTS_CA_BUNDLE": bundle, "SSL_CERT_FILE": bundle,
                "CURL_CA_BUNDLE": bundle}
    return env


def trust_argv(ca_bundle: Path | str) -> list[str]:
    """The words that run a program with `ca_bundle` bind-mounted over every trust store it may read (to go
    after `ip netns exec NS`, in its private mount namespace, before the program)."""
    stores = [*SYSTEM_BUNDLES]
    for package, name in (("certifi", "cacert.pem"), ("botocore", "cacert.pem")):
        spec = importlib.util.find_spec(package)       # found, not imported: botocore takes 100 ms to import
        if spec is not None and spec.submodule_search_locations:
            stores.append(os.path.join(spec.submodule_search_locations[0], name))
    stores = [s for s in dict.fromkeys(os.path.realpath(p) for p in stores) if os.path.isfile(s)]
    return [sys.executable, "-I", "-S", str(Path(__file__).with_name("trust_mount.py")), str(ca_bundle), *stores, "--"]


def resolv_conf(nameserver: IPv4Address | str, region: str) -> str:
    domain = "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"
    return f"# vpcemu: AmazonProvidedDNS\nnameserver {nameserver}\nsearch {domain}\noptions timeout:2 attempts:2\n"


def public_resolv_conf() -> str:
    return f"# vpcemu: the lab internet's public DNS\nnameserver {PUBLIC_RESOLVER}\noptions timeout:2 attempts:2\n"


def resolv_conf_path(namespace: str) -> str:
    return f"/etc/netns/{namespace}/resolv.conf"


def etc_netns(namespace: str) -> str:
    """What `ip netns exec` bind-mounts over /etc for a namespace: the files in this directory."""
    return f"/etc/netns/{namespace}"


def instance_resolv_conf(topology: Topology, lab: str, state_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(files, symlinks) for Plan: one resolv.conf per VPC (its +2) in the lab's state directory, and
    per instance namespace one symlink /etc/netns/<ns> → that VPC's directory: one host object per
    instance instead of a directory and a file (a 500-instance lab made them in ~0.15 s on ext4).
    Internet hosts share one more, naming the internet's resolver."""
    files: dict[str, str] = {}
    links: dict[str, str] = {}
    for vpc in topology.vpcs.values():
        etc = state_dir / "etc" / vpc.name
        files[str(etc / "resolv.conf")] = resolv_conf(vpc.dns_server, topology.region)
        for name in vpc.instances:
            links[etc_netns(instance_ns(lab, name))] = str(etc)
    if topology.internet_hosts:
        # never a VPC's directory: a name starts with a letter or digit
        etc = state_dir / "etc" / "-internet"
        files[str(etc / "resolv.conf")] = public_resolv_conf()
        for name in topology.internet_hosts:
            links[etc_netns(internet_host_ns(lab, name))] = str(etc)
    return files, links
