"""The model's own derived values, as AWS names them."""
from __future__ import annotations

from vpcemu import load_text

ENDPOINTS = """
format: 1
region: eu-west-1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.0.0/24, az: eu-west-1a, route_table: private}
    route_tables:
      private: {}
    endpoints:
      s3:  {type: gateway, service: s3, route_tables: [private]}
      sqs: {type: interface, service: sqs, subnets: [a], private_dns: false}
aws:
  services: [s3, sqs]
"""


def test_an_endpoint_service_name_is_in_the_topology_region():
    t = load_text(ENDPOINTS)
    endpoints = t.vpcs["main"].endpoints
    assert endpoints["sqs"].service_name(t.region) == "com.amazonaws.eu-west-1.sqs"
    # a gateway endpoint's service and its managed prefix list share AWS's name
    assert endpoints["s3"].service_name(t.region) == t.prefix_lists["s3"].prefix_list_name == "com.amazonaws.eu-west-1.s3"
