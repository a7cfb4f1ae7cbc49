"""Instance: one namespace whose interfaces are the ENIs attached to it; eth0 is its primary ENI; its
instance metadata options (AWS's InstanceMetadataOptions)."""
from __future__ import annotations

from dataclasses import dataclass


HTTP_TOKENS = ("optional", "required")
HTTP_ENDPOINT = ("enabled", "disabled")
HOP_LIMIT_RANGE = (1, 64)


@dataclass(frozen=True)
class MetadataOptions:
    """How the instance metadata service answers this instance; AWS's defaults when RunInstances is given none
    (an AMI whose ImdsSupport is v2.0 makes AWS default http_tokens to required; vpcemu has no AMIs)."""
    http_tokens: str = "optional"               # required: IMDSv1 refused (401)
    http_put_response_hop_limit: int = 1        # the IP TTL of the token's answer
    http_endpoint: str = "enabled"


@dataclass(frozen=True)
class Instance:
    name: str
    id: str
    vpc: str
    subnet: str
    primary_network_interface: str
    availability_zone: str
    instance_type: str | None = None
    forwarding: bool = False          # the OS routes packets (NAT instance, firewall appliance)
    metadata_options: MetadataOptions = MetadataOptions()
