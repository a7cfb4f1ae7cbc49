"""The lab's AWS credentials: the one set every instance's role hands out through IMDS, and the EC2 API and other
lab services may check a request's key against.

    creds = lab_credentials(state_dir)        # made at the first call (the supervisor's, at `vpcemu up`), then read
    creds.access_key_id, creds.secret_access_key, creds.token, creds.role

They live in STATE_DIR/credentials.json (mode 0600, root's like the rest of the state directory):
{"AccessKeyId", "SecretAccessKey", "Token", "Role", "TokenSecret"}. TokenSecret signs IMDSv2 session tokens, so a
token stays valid across a restart of the lab's services, as it does across IMDS's own on AWS.
"""
from __future__ import annotations

import json
import os
import secrets
from base64 import b64encode
from dataclasses import dataclass
from pathlib import Path

CREDENTIALS_FILE = "credentials.json"
ROLE = "vpcemu-lab-role"            # every instance's instance profile role: AWS's iam/security-credentials/<role>


@dataclass(frozen=True)
class LabCredentials:
    access_key_id: str
    secret_access_key: str
    token: str
    role: str
    token_secret: bytes


def lab_credentials(state_dir: Path | str) -> LabCredentials:
    """The lab's credentials, made (atomically, first writer wins) if the lab has none yet."""
    path = Path(state_dir) / CREDENTIALS_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        data = _made(path)
    return LabCredentials(data["AccessKeyId"], data["SecretAccessKey"], data["Token"], data["Role"],
                          bytes.fromhex(data["TokenSecret"]))


def _made(path: Path) -> dict:
    # role credentials' shapes: an ASIA… key id (a temporary key), a 40-character secret, a session token
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    data = {"AccessKeyId": "ASIA" + "".join(secrets.choice(alphabet) for _ in range(16)),
            "SecretAccessKey": b64encode(secrets.token_bytes(30)).decode(),
            "Token": b64encode(b"vpcemu lab session " + secrets.token_bytes(96)).decode(),
            "Role": ROLE, "TokenSecret": secrets.token_hex(32)}
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    try:
        os.link(tmp, path)          # never replaces a file another process made first
    except FileExistsError:
        data = json.loads(path.read_text())
    finally:
        os.unlink(tmp)
    return data
