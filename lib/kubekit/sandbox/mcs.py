"""Multi-Cluster Services names across the sandbox's clusters, for the exec shell's DNS.

The sandbox's cloud installs one :class:`ClusterSetDNS` in every cluster it runs
(``ctx.extra["dns_resolvers"]``, see ``kubesim.runtime.dns``), so ``getent hosts`` /
``nslookup`` in any pod resolve the KEP-1645 names (domain ``clusterset.local``):

- ``<pet>.<cluster>.<svc>.<ns>.svc.clusterset.local``: in the cluster named
  ``<cluster>``, the IP of the ready endpoint of service ``<svc>`` in ``<ns>`` whose
  ``hostname`` is ``<pet>`` (a StatefulSet pet behind its headless service);
- ``<svc>.<ns>.svc.clusterset.local``: the ready endpoint IPs of service ``<svc>``
  in ``<ns>`` of every cluster that exports it, i.e. has a ``ServiceExport``
  (``multicluster.x-k8s.io/v1alpha1``) of the same name and namespace. A cluster
  without that CRD exports nothing.

A cluster whose API server was made unreachable (``kubekit.sandbox.set_reachable``) is
a lost cluster: its names stop resolving, as an MCS implementation withdraws the
endpoints of a cluster it cannot see. Pod IPs are unique across the sandbox's
clusters (each pod network is carved from its node's VPC subnet, as the VPC CNI does).

Outside the sandbox (kubesim clusters embedded in a test), install it the same way::

    from kubesim.runtime.dns import ensure_cluster_dns
    resolver = ClusterSetDNS(lambda: [("member-a", cluster_a), ("member-b", cluster_b)])
    for c in (cluster_a, cluster_b):
        ensure_cluster_dns(c.ctx.extra, c.api).append(resolver)
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

DOMAIN = "clusterset.local"
EXPORT = ("multicluster.x-k8s.io", "v1alpha1", "ServiceExport")

# (name, kubesim Cluster) for every cluster the sandbox runs.
ClusterSource = Callable[[], Iterable[tuple[str, Any]]]


def _ip_key(ip: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in ip.split("."))
    except ValueError:
        return (999,)


class ClusterSetDNS:
    """``fn(fqdn) -> list[str] | None`` over all clusters of the sandbox."""

    def __init__(self, clusters: ClusterSource) -> None:
        self.clusters = clusters

    def __call__(self, fqdn: str) -> list[str] | None:
        name = fqdn.rstrip(".").lower()
        suffix = "." + DOMAIN
        if not name.endswith(suffix):
            return None
        labels = name[: -len(suffix)].split(".")
        if len(labels) == 3 and labels[2] == "svc":
            svc, ns = labels[0], labels[1]
            ips: set[str] = set()
            for _, cluster in self._reachable():
                if exported(cluster, ns, svc):
                    ips.update(a["ip"] for a in ready_addresses(cluster, ns, svc))
            return sorted(ips, key=_ip_key) or None
        if len(labels) == 5 and labels[4] == "svc":
            pet, member, svc, ns = labels[0], labels[1], labels[2], labels[3]
            for cname, cluster in self._reachable():
                if cname.lower() == member:
                    ips = {a["ip"] for a in ready_addresses(cluster, ns, svc) if a.get("hostname") == pet}
                    return sorted(ips, key=_ip_key) or None
        return None

    def _reachable(self) -> list[tuple[str, Any]]:
        return [(n, c) for n, c in self.clusters() if getattr(c.server, "available", True)]


def ready_addresses(cluster: Any, ns: str, svc: str) -> list[dict[str, Any]]:
    """``subsets[].addresses`` (ready endpoints) of a service's Endpoints object."""
    entry = cluster.store.get("endpoints", ns, svc)
    if entry is None:
        return []
    eps = entry.obj()
    return [a for s in eps.get("subsets") or [] for a in s.get("addresses") or [] if a.get("ip")]


def exported(cluster: Any, ns: str, svc: str) -> bool:
    """Has the cluster a ServiceExport for the service (False when the CRD is not installed)?"""
    rt = cluster.registry.for_kind(*EXPORT)
    return rt is not None and cluster.store.get(rt.key, ns, svc) is not None
