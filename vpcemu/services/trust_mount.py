"""Makes the lab CA trusted by whatever trust store a program in the lab reads, then runs the program.

    python -I -S trust_mount.py BUNDLE STORE... -- PROGRAM ARG...

Run by `vpcemu exec` inside `ip netns exec`'s own mount namespace (made private there, so nothing reaches the
host): BUNDLE (the system's roots plus the lab CA) is bind-mounted over each STORE (certifi's bundle, which
botocore and requests read instead of the system's; the system bundle that curl and OpenSSL read), so the AWS
CLI and boto3 verify the lab's HTTPS answers with nothing set in the environment, as on an instance whose
clients trust AWS's certificates. Standard library only, started with -S: it runs before every program.
"""
import ctypes
import os
import sys

MS_BIND = 4096


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") < 1 or argv.index("--") == len(argv) - 1:
        print("usage: trust_mount.py BUNDLE STORE... -- PROGRAM ARG...", file=sys.stderr)
        return 2
    cut = argv.index("--")
    bundle, stores, program = argv[0], argv[1:cut], argv[cut + 1:]
    libc = ctypes.CDLL(None, use_errno=True)
    for store in stores:
        if libc.mount(bundle.encode(), store.encode(), None, MS_BIND, None) != 0:
            err = ctypes.get_errno()
            print(f"vpcemu exec: the lab CA is not in {store} ({os.strerror(err)})", file=sys.stderr)
    try:
        os.execvp(program[0], program)
    except OSError as exc:
        print(f"vpcemu exec: {program[0]}: {exc.strerror}", file=sys.stderr)
        return 127
    return 0       # not reached: execvp replaced this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
