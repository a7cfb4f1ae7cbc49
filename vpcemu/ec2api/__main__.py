"""`python -m vpcemu.ec2api STATE_DIR LAB`: the lab's EC2 API process (see server.main)."""
import sys

from .server import main

sys.exit(main(sys.argv[1:]))
