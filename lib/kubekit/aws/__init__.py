"""Bootstrap Kubernetes clusters on AWS with boto3: EKS now, and kube-up.sh's layout of 1.2/1.3 for comparison.

The same calls run against the sandbox (moto, offline, the default) and against a
real account behind the ``confirm_account`` gate::

    p = plan("demo", region="us-east-1", zones=3, nodes_per_zone=2)   # nothing is created
    p                                                                 # resources + cost table
    apply(p)                                                          # idempotent, resumable
    kubeconfig("demo", region="us-east-1")                            # context + nodes Ready
    destroy("demo", region="us-east-1")                               # by tag and inventory
"""

from importlib import import_module
from typing import Any

# Lazy: ``kubekit eks-token`` (run by kubectl for every command) must not import the whole package.
_EXPORTS = {"apply": "applier", "destroy": "teardown", "check_account": "gate", "whoami": "gate",
            "kubeconfig": "kubeconfigs", "wait_nodes_ready": "kubeconfigs", "kubeup_kubeconfig": "kubeconfigs", "Plan": "plans", "plan": "plans",
            "Target": "target", "resolve": "target"}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)


__all__ = ["Plan", "Target", "apply", "check_account", "destroy", "kubeconfig", "kubeup_kubeconfig", "plan",
           "resolve", "wait_nodes_ready", "whoami"]
