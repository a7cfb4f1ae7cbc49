"""PrefixList: AWS-managed prefix lists (`pl-…`) for S3 and DynamoDB, and the services that have them."""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network

from .ids import aws_id

# Services the emulated region offers, and which of them have a gateway endpoint / prefix list (AWS: S3 and DynamoDB).
KNOWN_SERVICES = ("s3", "dynamodb", "sqs", "sns", "sts", "kms", "ec2", "logs", "ssm", "secretsmanager")
GATEWAY_SERVICES = ("s3", "dynamodb")


@dataclass(frozen=True)
class PrefixList:
    name: str                    # s3, dynamodb
    id: str
    prefix_list_name: str        # com.amazonaws.us-east-1.s3
    cidrs: tuple[IPv4Network, ...]


def managed_prefix_list(service: str, region: str, cidrs: tuple[IPv4Network, ...]) -> PrefixList:
    return PrefixList(service, aws_id("pl", region, service)[:11], f"com.amazonaws.{region}.{service}", cidrs)
