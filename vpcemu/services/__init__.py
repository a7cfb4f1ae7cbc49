"""Services that run inside lab namespaces: the lab CA, the AWS region, the VPC resolver."""
