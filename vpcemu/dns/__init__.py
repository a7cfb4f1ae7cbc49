"""DNS: the VPC resolver's zone (pure) built from the Topology."""
