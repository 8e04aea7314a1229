"""Where AWS calls go: the sandbox (moto on 127.0.0.1, dummy credentials) or a real account.

A target is ``"sandbox"`` (default), ``"aws"`` (the default credential chain) or
``"aws:<profile>"``. Sandbox sessions read the sandbox's own config and
credentials files under ``$KUBEKIT_HOME/aws`` and never the user's ``~/.aws``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

from ..errors import InvalidParameter, KitError

SANDBOX_PROFILE = "kubekit-sandbox"

_loader_lock = threading.Lock()
_loader: Any = None


def _shared_loader() -> Any:
    """One botocore data loader per process: service models and endpoints.json are parsed once.

    Every new botocore session otherwise re-reads them (about 0.5 s of JSON per client),
    which dominated a bootstrap, and threads bootstrapping clusters side by side paid it each.
    """
    global _loader
    with _loader_lock:
        if _loader is None:
            from botocore.loaders import create_loader

            _loader = create_loader()
        return _loader


def kubekit_home(home: str | os.PathLike[str] | None = None) -> Path:
    return Path(home or os.environ.get("KUBEKIT_HOME") or "~/.kubekit").expanduser().absolute()


@dataclass(frozen=True)
class Target:
    kind: str = "sandbox"  # sandbox | real
    profile: str | None = None
    home: str | None = None

    @property
    def is_sandbox(self) -> bool:
        return self.kind == "sandbox"

    def describe(self) -> str:
        if self.is_sandbox:
            return "the sandbox (moto on 127.0.0.1)"
        return f"real AWS (profile {self.profile})" if self.profile else "real AWS (default credentials)"

    def session(self, region: str | None = None) -> boto3.Session:
        if not self.is_sandbox:
            real = botocore.session.Session(profile=self.profile)
            real.register_component("data_loader", _shared_loader())
            return boto3.Session(botocore_session=real, region_name=region)
        home = kubekit_home(self.home)
        config, creds = home / "aws" / "config", home / "aws" / "credentials"
        if not config.exists():
            raise KitError(f"the sandbox is not running (no {config}): start it with `kubekit sandbox up` "
                           "or `make run`, or pass target='aws' for a real account")
        core = botocore.session.Session()
        core.register_component("data_loader", _shared_loader())
        core.set_config_variable("config_file", str(config))
        core.set_config_variable("credentials_file", str(creds))
        core.set_config_variable("profile", SANDBOX_PROFILE)
        return boto3.Session(botocore_session=core, region_name=region or "us-east-1")

    def client(self, service: str, region: str | None = None) -> Any:
        # Few retries: a sandbox answers at once, and a real API error should surface quickly.
        return self.session(region).client(service, config=Config(retries={"max_attempts": 4, "mode": "standard"}))


def resolve(target: "str | Target | None" = None) -> Target:
    if isinstance(target, Target):
        return target
    text = (target or "sandbox").strip()
    if text == "sandbox":
        return Target("sandbox")
    if text == "aws":
        return Target("real")
    if text.startswith("aws:") and len(text) > 4:
        return Target("real", profile=text[4:])
    raise InvalidParameter("target", target, "expected 'sandbox', 'aws' or 'aws:<profile>'")
