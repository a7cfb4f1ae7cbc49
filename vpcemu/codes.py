"""The codes vpcemu reports: AWS's API error codes and Reachability Analyzer's explanation codes.

Every refusal (loader, live op, importer, EC2 API) carries an `ErrorCode`; every drop the analysis
or the data path explains carries an `ExplanationCode`. Both are StrEnums, so a member is its own
wire value (`ErrorCode.INVALID_PARAMETER_VALUE == "InvalidParameterValue"`) in JSON and messages.
"""
from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """AWS's EC2 API error codes (aws-vpc-reference.md), plus the few of vpcemu's own lifecycle."""

    # AWS
    ADDRESS_LIMIT_EXCEEDED = "AddressLimitExceeded"
    ATTACHMENT_LIMIT_EXCEEDED = "AttachmentLimitExceeded"
    AUTH_FAILURE = "AuthFailure"
    CIDR_LIMIT_EXCEEDED = "CidrLimitExceeded"
    DUPLICATE_SUBNETS_IN_SAME_ZONE = "DuplicateSubnetsInSameZone"
    GATEWAY_NOT_ATTACHED = "Gateway.NotAttached"
    INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET = "InsufficientFreeAddressesInSubnet"
    INTERNAL_ERROR = "InternalError"
    INVALID_ACTION = "InvalidAction"
    INVALID_ADDRESS_IN_USE = "InvalidAddress.InUse"
    INVALID_ADDRESS_NOT_FOUND = "InvalidAddress.NotFound"
    INVALID_ALLOCATION_ID_NOT_FOUND = "InvalidAllocationID.NotFound"
    INVALID_ASSOCIATION_ID_NOT_FOUND = "InvalidAssociationID.NotFound"
    INVALID_ATTACHMENT_ID_NOT_FOUND = "InvalidAttachmentID.NotFound"
    INVALID_GATEWAY_ID_NOT_FOUND = "InvalidGatewayID.NotFound"
    INVALID_GROUP_NOT_FOUND = "InvalidGroup.NotFound"
    INVALID_INSTANCE_ID = "InvalidInstanceID"
    INVALID_INSTANCE_ID_NOT_FOUND = "InvalidInstanceID.NotFound"
    INVALID_INSTANCE_TYPE = "InvalidInstanceType"
    INVALID_INTERNET_GATEWAY_ID_NOT_FOUND = "InvalidInternetGatewayID.NotFound"
    INVALID_IP_ADDRESS_IN_USE = "InvalidIPAddress.InUse"
    INVALID_NAT_GATEWAY_ID_NOT_FOUND = "InvalidNatGatewayID.NotFound"
    INVALID_NETWORK_ACL_ENTRY_NOT_FOUND = "InvalidNetworkAclEntry.NotFound"
    INVALID_NETWORK_ACL_ID_NOT_FOUND = "InvalidNetworkAclID.NotFound"
    INVALID_NETWORK_INTERFACE_IN_USE = "InvalidNetworkInterface.InUse"
    INVALID_NETWORK_INTERFACE_ID_NOT_FOUND = "InvalidNetworkInterfaceID.NotFound"
    INVALID_PARAMETER = "InvalidParameter"
    INVALID_PARAMETER_COMBINATION = "InvalidParameterCombination"
    INVALID_PARAMETER_VALUE = "InvalidParameterValue"
    INVALID_PERMISSION_DUPLICATE = "InvalidPermission.Duplicate"
    INVALID_PERMISSION_NOT_FOUND = "InvalidPermission.NotFound"
    INVALID_PREFIX_LIST_ID_NOT_FOUND = "InvalidPrefixListId.NotFound"
    INVALID_ROUTE_NOT_FOUND = "InvalidRoute.NotFound"
    INVALID_ROUTE_TABLE_ID_NOT_FOUND = "InvalidRouteTableID.NotFound"
    INVALID_SERVICE_NAME = "InvalidServiceName"
    INVALID_SUBNET_CONFLICT = "InvalidSubnet.Conflict"
    INVALID_SUBNET_RANGE = "InvalidSubnet.Range"
    INVALID_SUBNET_ID_NOT_FOUND = "InvalidSubnetID.NotFound"
    INVALID_VPC_RANGE = "InvalidVpc.Range"
    INVALID_VPC_ID_NOT_FOUND = "InvalidVpcID.NotFound"
    INVALID_VPC_ENDPOINT_ID_NOT_FOUND = "InvalidVpcEndpointId.NotFound"
    INVALID_VPC_PEERING_CONNECTION_ID_NOT_FOUND = "InvalidVpcPeeringConnectionID.NotFound"
    MISSING_PARAMETER = "MissingParameter"
    NAT_GATEWAY_LIMIT_EXCEEDED = "NatGatewayLimitExceeded"
    NAT_GATEWAY_NOT_FOUND = "NatGatewayNotFound"
    NETWORK_ACL_ENTRY_ALREADY_EXISTS = "NetworkAclEntryAlreadyExists"
    NETWORK_ACL_ENTRY_LIMIT_EXCEEDED = "NetworkAclEntryLimitExceeded"
    OPERATION_NOT_PERMITTED = "OperationNotPermitted"
    PRIVATE_IP_ADDRESS_LIMIT_EXCEEDED = "PrivateIpAddressLimitExceeded"
    RESOURCE_ALREADY_ASSOCIATED = "Resource.AlreadyAssociated"
    ROUTE_ALREADY_EXISTS = "RouteAlreadyExists"
    ROUTE_LIMIT_EXCEEDED = "RouteLimitExceeded"
    RULES_PER_SECURITY_GROUP_LIMIT_EXCEEDED = "RulesPerSecurityGroupLimitExceeded"
    SECURITY_GROUPS_PER_INTERFACE_LIMIT_EXCEEDED = "SecurityGroupsPerInterfaceLimitExceeded"
    REQUEST_LIMIT_EXCEEDED = "RequestLimitExceeded"
    SUBNET_LIMIT_EXCEEDED = "SubnetLimitExceeded"
    UNSUPPORTED_OPERATION = "UnsupportedOperation"
    VPC_PEERING_CONNECTION_ALREADY_EXISTS = "VpcPeeringConnectionAlreadyExists"
    # vpcemu's own: a lab's lifecycle and drills, which AWS has no call for
    LAB_ALREADY_EXISTS = "LabAlreadyExists"
    LAB_CRASHED = "LabCrashed"
    NAMESPACE_IN_USE = "NamespaceInUse"
    DRILL_PRECONDITION_FAILED = "DrillPreconditionFailed"
    LAB_BUSY = "LabBusy"                    # another change held the lab's lock past --lock-timeout


class ExplanationCode(StrEnum):
    """Reachability Analyzer's explanation codes (aws-vpc-reference §11), exactly those vpcemu reports: each is
    emitted by the analysis (analyze/) or named by a drop rule of the data path (plan/), so an expectation
    `reason:` that validates can also hold (tests/unit/test_codes.py keeps it so)."""

    BAD_STATE_ATTACHMENT = "BAD_STATE_ATTACHMENT"
    BAD_STATE_ROUTE = "BAD_STATE_ROUTE"
    ENI_SG_RULES_MISMATCH = "ENI_SG_RULES_MISMATCH"
    ENI_SOURCE_DEST_CHECK_RESTRICTION = "ENI_SOURCE_DEST_CHECK_RESTRICTION"
    IGW_DESTINATION_ADDRESS_NOT_IN_RFC1918_EGRESS = "IGW_DESTINATION_ADDRESS_NOT_IN_RFC1918_EGRESS"
    IGW_DESTINATION_ADDRESS_NOT_IN_RFC6598_EGRESS = "IGW_DESTINATION_ADDRESS_NOT_IN_RFC6598_EGRESS"
    IGW_PRIVATE_IP_ASSOCIATION_FOR_INGRESS = "IGW_PRIVATE_IP_ASSOCIATION_FOR_INGRESS"
    IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS = "IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS"
    IGW_SOURCE_ADDRESS_NOT_IN_RFC1918_INGRESS = "IGW_SOURCE_ADDRESS_NOT_IN_RFC1918_INGRESS"
    IGW_SOURCE_ADDRESS_NOT_IN_RFC6598_INGRESS = "IGW_SOURCE_ADDRESS_NOT_IN_RFC6598_INGRESS"
    INGRESS_RTB_NO_PUBLIC_IP = "INGRESS_RTB_NO_PUBLIC_IP"
    NGW_REQUIRES_SOURCE_IN_VPC = "NGW_REQUIRES_SOURCE_IN_VPC"
    NGW_SOURCE_ADDRESS_REASSIGN = "NGW_SOURCE_ADDRESS_REASSIGN"
    NO_PATH = "NO_PATH"
    NO_POSSIBLE_DESTINATION = "NO_POSSIBLE_DESTINATION"
    NO_ROUTE_TO_DESTINATION = "NO_ROUTE_TO_DESTINATION"
    PCX_REQUIRES_ADDRESS_IN_VPC_CIDR = "PCX_REQUIRES_ADDRESS_IN_VPC_CIDR"
    SUBNET_ACL_RESTRICTION = "SUBNET_ACL_RESTRICTION"
    VPCE_GATEWAY_EGRESS_SOURCE_ADDRESS_RESTRICTION = "VPCE_GATEWAY_EGRESS_SOURCE_ADDRESS_RESTRICTION"
    VPCE_GATEWAY_PROTOCOL_RESTRICTION = "VPCE_GATEWAY_PROTOCOL_RESTRICTION"
    VPCE_INTRA_VPC_TRAFFIC = "VPCE_INTRA_VPC_TRAFFIC"
