"""ServiceAccount and root CA publisher: what every namespace gets on a real cluster.

``pkg/controller/serviceaccount`` creates the ``default`` ServiceAccount in
every active namespace; ``pkg/controller/certificates/rootcacertpublisher``
publishes the cluster CA as the ``kube-root-ca.crt`` ConfigMap, which pods'
projected token volumes mount.
"""

from __future__ import annotations

from typing import Any, Hashable, Iterable

from ..api import Request
from ..errors import AlreadyExists, ApiError
from ..store import Event
from .base import Controller

ROOT_CA = "kube-root-ca.crt"


def decide(namespace: dict[str, Any], has_sa: bool, has_ca: bool) -> list[str]:
    """Which of ``serviceaccount``/``configmap`` to create in this namespace."""
    meta = namespace.get("metadata") or {}
    if meta.get("deletionTimestamp") or (namespace.get("status") or {}).get("phase") == "Terminating":
        return []
    out = []
    if not has_sa:
        out.append("serviceaccount")
    if not has_ca:
        out.append("configmap")
    return out


class ServiceAccountController(Controller):
    name = "serviceaccount-controller"
    watches = ("namespaces", "serviceaccounts", "configmaps")
    resync_seconds = 30.0

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.ca_pem = self.ctx.ca_pem

    def items_for(self, ev: Event) -> Iterable[Hashable]:
        e = ev.entry
        if e.key == "namespaces":
            return [e.name] if ev.type != "DELETED" else []
        if ev.type == "DELETED" and e.name in ("default", ROOT_CA):
            return [e.namespace]
        return []

    def all_items(self) -> Iterable[Hashable]:
        entries, _ = self.api.store.list("namespaces")
        return [e.name for e in entries]

    def reconcile(self, item: Hashable) -> float | None:
        ns = str(item)
        entry = self.api.store.get("namespaces", "", ns)
        if entry is None:
            return None
        todo = decide(entry.obj(), self.api.store.get("serviceaccounts", ns, "default") is not None,
                      self.api.store.get("configmaps", ns, ROOT_CA) is not None)
        for what in todo:
            try:
                if what == "serviceaccount":
                    self.api.create(self.api.rt("serviceaccounts"), ns,
                                    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}},
                                    Request(field_manager="kube-controller-manager"))
                else:
                    self.api.create(self.api.rt("configmaps"), ns, {
                        "apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": ROOT_CA, "annotations": {
                            "kubernetes.io/description": "Contains a CA bundle that can be used to verify the "
                                                         "kube-apiserver when using internal endpoints such as the "
                                                         "internal service IP or kubernetes.default.svc. No other "
                                                         "usage is guaranteed across distributions of Kubernetes "
                                                         "clusters."}},
                        "data": {"ca.crt": self.ca_pem}}, Request(field_manager="kube-controller-manager"))
            except AlreadyExists:
                pass
            except ApiError:
                return 1.0
        return None
