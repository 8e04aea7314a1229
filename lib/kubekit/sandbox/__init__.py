"""The embedded sandbox: moto's AWS plus kubesim clusters in one local daemon (see ``control``)."""

from .control import SandboxError, SandboxInfo, bootstrap, down, env, kubekit_home, reset, status, up

__all__ = ["SandboxError", "SandboxInfo", "bootstrap", "down", "env", "kubekit_home", "reset", "status", "up"]
