"""The sandbox's own AWS profile: dummy credentials and moto's endpoint, in files under $KUBEKIT_HOME.

Nothing in the user's ``~/.aws`` is read or changed: kubekit builds its boto3
sessions from these files for the sandbox target, and ``kubekit sandbox env``
prints the variables that point a terminal's aws CLI or boto3 at them.
"""

from __future__ import annotations

import os
from pathlib import Path

PROFILE = "kubekit-sandbox"
ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_REGION = "us-east-1"
ACCESS_KEY = "kubekit-sandbox"  # moto accepts any key; not a secret, never leaves loopback


def paths(home: Path) -> tuple[Path, Path]:
    d = home / "aws"
    return d / "config", d / "credentials"


def write(home: Path, endpoint: str, region: str = DEFAULT_REGION) -> tuple[Path, Path]:
    config, creds = paths(home)
    config.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    config.write_text(f"[profile {PROFILE}]\nregion = {region}\nendpoint_url = {endpoint}\noutput = json\n")
    fd = os.open(creds, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"[{PROFILE}]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {ACCESS_KEY}\n")
    return config, creds


def endpoint(home: Path) -> str | None:
    config, _ = paths(home)
    try:
        for line in config.read_text().splitlines():
            if line.startswith("endpoint_url"):
                return line.split("=", 1)[1].strip()
    except OSError:
        return None
    return None


def env_lines(home: Path) -> dict[str, str]:
    config, creds = paths(home)
    return {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_PROFILE": PROFILE}
