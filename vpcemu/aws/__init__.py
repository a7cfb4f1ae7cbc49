"""AWS's shapes ⇄ vpcemu: the describe-* responses of an account (and, from aws/terraform.py, Terraform state)
become a format-1 topology document, and a lab becomes the describe-* responses AWS would give for it.

One module per resource kind (vpc, subnet, route_table, security_group, network_acl, network_interface,
instance, elastic_ip, internet_gateway, nat_gateway, vpc_endpoint, peering, prefix_list), each with both
directions: `to_aws` (model → the items a describe call returns; field names from botocore's EC2 service
model, which tests/unit/test_aws_mapping.py checks every key against) and `live`/`from_aws` (those items →
its part of the document). describe.py holds the contract: the describe dict's keys and what import reads.
The document goes through vpcemu/load and vpcemu/rules like any written file.
"""
from .describe import DESCRIBE_KEYS, Describe, DumpError, Notice
from .exporter import export_describe
from .files import read_dump, write_dump
from .importer import convert, import_describe

__all__ = ["DESCRIBE_KEYS", "Describe", "DumpError", "Notice", "convert", "export_describe", "import_describe",
           "read_dump", "write_dump"]
