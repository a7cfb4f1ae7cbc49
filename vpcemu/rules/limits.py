"""AWS's limits: per-instance-type ENI/IP limits (EC2 user guide) and VPC quotas, for every way into the model."""
from __future__ import annotations

# type: (max ENIs, private IPv4 addresses per ENI including the primary)
INSTANCE_TYPES: dict[str, tuple[int, int]] = {
    "t2.nano": (2, 2), "t2.micro": (2, 2), "t2.small": (3, 4), "t2.medium": (3, 6), "t2.large": (3, 12),
    "t3.nano": (2, 2), "t3.micro": (2, 2), "t3.small": (3, 4), "t3.medium": (3, 6), "t3.large": (3, 12),
    "t3.xlarge": (4, 15), "t3.2xlarge": (4, 15),
    "m5.large": (3, 10), "m5.xlarge": (4, 15), "m5.2xlarge": (4, 15), "m5.4xlarge": (8, 30),
    "m5.24xlarge": (15, 50),
    "c5.large": (3, 10), "c5.xlarge": (4, 15), "c5.2xlarge": (4, 15),
}

MAX_VPC_CIDR_BLOCKS = 5
MAX_SECURITY_GROUPS_PER_ENI = 5
MAX_SG_RULES_PER_DIRECTION = 60
MAX_NACL_RULES_PER_DIRECTION = 20
MAX_ROUTES_PER_TABLE = 500
MAX_SUBNETS_PER_VPC = 200
MAX_NAT_GATEWAYS_PER_AZ = 5

RESERVED_ROUTE_RANGE = "169.254.168.0/22"     # IMDS, Amazon DNS, time sync: no route may target it
LAB_NAME_MAX = 12
