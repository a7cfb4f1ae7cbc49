"""The EC2 API of a lab: AWS's Query protocol at `ec2.<region>.amazonaws.com`, backed by the lab's live ops.

A process of its own per lab (`python -m vpcemu.ec2api STATE_DIR LAB`, started and restarted by the lab's
supervisor as an argv), serving HTTP on 80 and HTTPS on 443 at the ec2 service's addresses in the region
namespace, so instances reach it as they reach AWS's public endpoint (IGW, NAT gateway) or through an `ec2`
interface endpoint. It sits above `lab`: each call attaches to the lab and calls vpcemu/ops (the functions
the CLI calls), so it refuses what the CLI refuses, with the same ErrorCode, under the same lab lock.

protocol.py: the wire (form parameters → botocore's input shapes, output shapes → EC2's XML, the error shape);
filters.py: Describe* filters; actions.py: one handler per call; server.py: sockets, TLS, the call log.
"""
