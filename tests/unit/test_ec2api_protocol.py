"""The EC2 API's wire protocol against botocore's own EC2 serializer and parser (what the AWS CLI and boto3
send and read), its Describe* filters, and its answers from a lab's model; no root needed."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from vpcemu.ec2api import protocol
from vpcemu.ec2api.actions import ACTIONS
from vpcemu.errors import UsageError
from vpcemu.load import load_topology

TOPOLOGY = Path(__file__).resolve().parents[1] / "data" / "ec2api.yaml"


class ModelOnly:
    """What a Describe handler reads of a Lab: its committed model."""

    def __init__(self):
        self.topology = load_topology(TOPOLOGY)


def sent(action: str, params: dict) -> dict:
    """`params` as botocore puts them on the wire, read back by the API."""
    op = protocol.operation(action)
    body = create_serializer("ec2").serialize_to_request(params, op)["body"]
    return protocol.call_input(op.input_shape, protocol.form_parameters("", urlencode(body).encode()))


def answered(action: str, result: dict) -> dict:
    op = protocol.operation(action)
    xml = protocol.answer_xml(action, op.output_shape, result, "req-1")
    return create_parser("ec2").parse({"body": xml, "headers": {}, "status_code": 200}, op.output_shape)


def test_botocores_list_and_structure_encodings_read_back_as_its_input():
    params = {"Filters": [{"Name": "vpc-id", "Values": ["vpc-1", "vpc-2"]}, {"Name": "tag:Name", "Values": ["a*"]}],
              "NetworkInterfaceIds": ["eni-1", "eni-2"]}
    assert sent("DescribeNetworkInterfaces", params) == params
    params = {"NetworkInterfaceId": "eni-1", "PrivateIpAddresses": ["10.0.1.100"], "AllowReassignment": True}
    assert sent("AssignPrivateIpAddresses", params) == params
    params = {"NetworkInterfaceId": "eni-1", "SourceDestCheck": {"Value": False}, "Groups": ["sg-1", "sg-2"]}
    assert sent("ModifyNetworkInterfaceAttribute", params) == params
    params = {"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                                    "IpRanges": [{"CidrIp": "10.0.0.0/16", "Description": "ssh"}]}]}
    assert sent("AuthorizeSecurityGroupIngress", params) == params


def test_a_wrongly_typed_value_is_refused():
    op = protocol.operation("AttachNetworkInterface")
    with pytest.raises(UsageError) as exc:
        protocol.call_input(op.input_shape, {"DeviceIndex": "one"})
    assert exc.value.code == "InvalidParameterValue"


def test_every_describe_answer_reads_back_through_botocores_parser():
    lab = ModelOnly()
    for action in [a for a in ACTIONS if a.startswith("Describe")]:
        result = ACTIONS[action](lab, {})
        parsed = answered(action, result)
        assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
        assert parsed == result, action


def test_filters_pick_items_as_ec2_does():
    lab = ModelOnly()
    active = lab.topology.instances["active"].id
    got = ACTIONS["DescribeNetworkInterfaces"](lab, {"Filters": [{"Name": "attachment.instance-id",
                                                                   "Values": [active]}]})
    assert [e["PrivateIpAddress"] for e in got["NetworkInterfaces"]] == ["10.0.1.10"]
    got = ACTIONS["DescribeNetworkInterfaces"](lab, {"Filters": [{"Name": "addresses.private-ip-address",
                                                                   "Values": ["10.0.1.1??"]}]})
    assert [e["PrivateIpAddress"] for e in got["NetworkInterfaces"]] == ["10.0.1.10"]
    got = ACTIONS["DescribeInstances"](lab, {"Filters": [{"Name": "tag:Name", "Values": ["web-*"]}]})
    assert len(got["Reservations"]) == 2
    with pytest.raises(UsageError) as exc:
        ACTIONS["DescribeSubnets"](lab, {"Filters": [{"Name": "no-such", "Values": ["x"]}]})
    assert exc.value.code == "InvalidParameterValue"
    with pytest.raises(UsageError) as exc:
        ACTIONS["DescribeInstances"](lab, {"InstanceIds": ["i-0123456789abcdef0"]})
    assert exc.value.code == "InvalidInstanceID.NotFound"


def test_errors_are_ec2s_error_document():
    parsed = create_parser("ec2").parse({"body": protocol.error_xml("InvalidIPAddress.InUse", "taken", "req-2"),
                                         "headers": {}, "status_code": 400}, None)
    assert parsed["Error"] == {"Code": "InvalidIPAddress.InUse", "Message": "taken"}


def test_the_sigv4_credential_scope_is_read_from_the_header_or_a_presigned_query():
    header = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261205/us-east-1/ec2/aws4_request, "
              "SignedHeaders=content-type;host;x-amz-date, Signature=abc")
    assert protocol.signer(header, {}) == {"access_key": "AKIDEXAMPLE", "date": "20261205", "region": "us-east-1",
                                           "service": "ec2"}
    assert protocol.signer(None, {"X-Amz-Credential": "AKID/20261205/eu-west-1/ec2/aws4_request"})["region"] == \
        "eu-west-1"
    assert protocol.signer("Basic dXNlcg==", {}) is None
