"""The embedded sandbox: moto's AWS plus kubesim clusters in one local daemon (see ``control``).

Public API (also the ``kubekit sandbox`` commands)::

    up(home=None, zones=3, nodes_per_zone=2, *, empty=False, profile=None, timeout=60,
       clusters=0, regions=None) -> SandboxInfo        # kubekit sandbox up [--clusters N] [--regions R,..]
    down(home=None) -> bool                             # kubekit sandbox down
    status(home=None) -> dict                           # kubekit sandbox status
    reset(home=None)                                    # kubekit sandbox reset
    env(home=None) -> str                               # kubekit sandbox env
    members(home=None) -> list[dict]                    # kubekit sandbox members
        # [{"name": "member-us-east-1a", "context": "member-us-east-1a", "region": "us-east-1",
        #   "zone": "us-east-1a", "kubeconfig": "$KUBEKIT_HOME/kubeconfig"}, ...]
    set_reachable(cluster_name, reachable, home=None, *, mode="timeout", region=None) -> dict
        # kubekit sandbox isolate NAME [--mode timeout|reset] / kubekit sandbox restore NAME
    checkpoint.save(name, home=None, *, overwrite=False) -> Checkpoint    # kubekit sandbox save NAME [--force]
    checkpoint.restore(name, home=None) -> Restored                      # kubekit sandbox restore NAME
    checkpoint.checkpoints(home=None) -> list[Checkpoint]                # kubekit sandbox checkpoints
        # the whole world (AWS, every cluster's objects and volume data) under $KUBEKIT_HOME/checkpoints/NAME

The host cluster is ``sandbox`` (context ``sandbox``, three zones of us-east-1);
members are single-zone clusters ``member-<zone>``. Exec in any cluster resolves
``<pet>.<cluster>.<svc>.<ns>.svc.clusterset.local`` and, for services with a
ServiceExport, ``<svc>.<ns>.svc.clusterset.local`` across all of them
(``kubekit.sandbox.mcs``).
"""

from .control import (SandboxError, SandboxInfo, bootstrap, down, env, kubekit_home, members, reset, set_reachable,
                      status, up)

__all__ = ["SandboxError", "SandboxInfo", "bootstrap", "down", "env", "kubekit_home", "members", "reset",
           "set_reachable", "status", "up"]
