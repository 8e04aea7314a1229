"""The cloud controller manager's node controllers, against a pluggable cloud (AWS-02, AWS-03).

With a provider in ``ctx.extra["cloud"]`` (the sandbox plugs in one backed by
its EC2), this does what cloud-provider-aws does for nodes:

- **initialisation**: a node registered with the taint
  ``node.cloudprovider.kubernetes.io/uninitialized`` gets its providerID,
  addresses and well-known labels (region, zone, zone-id, instance type, and
  the legacy beta labels) from the instance, then loses the taint
  (cloud-provider ``controllers/node/node_controller.go``);
- **lifecycle**, every ``cloud_node_monitor_period`` (5 s upstream), for each node
  whose Ready condition is not True: an instance that no longer exists (or is
  terminated) -> the Node is deleted, event ``DeletingNode``; a stopped instance ->
  taint ``node.cloudprovider.kubernetes.io/shutdown:NoSchedule``. A Ready node only
  ever loses that taint (``controllers/nodelifecycle/node_lifecycle_controller.go``
  ``MonitorNodes``).

Without a provider the controller does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Iterable, Protocol

from ..api import DeleteOptions
from ..errors import ApiError, NotFound
from .base import Controller

UNINITIALIZED = "node.cloudprovider.kubernetes.io/uninitialized"
SHUTDOWN = "node.cloudprovider.kubernetes.io/shutdown"


@dataclass(frozen=True)
class InstanceMetadata:
    provider_id: str
    instance_type: str
    region: str
    zone: str
    zone_id: str = ""
    internal_ip: str = ""
    external_ip: str = ""
    internal_dns: str = ""
    external_dns: str = ""


class CloudProvider(Protocol):
    def instance_metadata(self, node_name: str, provider_id: str) -> InstanceMetadata | None:
        """The instance behind a node (found by provider ID, else by private DNS name)."""

    def instance_state(self, provider_id: str) -> str:
        """``running`` | ``stopped`` | ``terminated`` | ``missing`` (also ``pending``/``stopping``)."""


# -- decisions -----------------------------------------------------------------------------------

def ready_status(node: dict[str, Any]) -> str:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status", "Unknown")
    return "Unknown"


def has_taint(node: dict[str, Any], key: str) -> bool:
    return any(t.get("key") == key for t in (node.get("spec") or {}).get("taints") or [])


def lifecycle_action(node: dict[str, Any], state: str) -> str | None:
    """``delete`` | ``taint-shutdown`` | ``untaint-shutdown`` | None for one node and its instance state."""
    ready = ready_status(node) == "True"
    if ready:
        return "untaint-shutdown" if has_taint(node, SHUTDOWN) and state not in ("stopped", "stopping") else None
    if state in ("missing", "terminated"):
        return "delete"
    if state in ("stopped", "stopping"):
        return None if has_taint(node, SHUTDOWN) else "taint-shutdown"
    return None


def initialized(node: dict[str, Any], meta: InstanceMetadata) -> dict[str, Any]:
    """The node after cloud initialisation: labels, providerID, addresses; taint removed."""
    labels = node.setdefault("metadata", {}).setdefault("labels", {})
    labels.update({
        "topology.kubernetes.io/region": meta.region,
        "topology.kubernetes.io/zone": meta.zone,
        "failure-domain.beta.kubernetes.io/region": meta.region,
        "failure-domain.beta.kubernetes.io/zone": meta.zone,
        "node.kubernetes.io/instance-type": meta.instance_type,
        "beta.kubernetes.io/instance-type": meta.instance_type,
    })
    if meta.zone_id:
        labels["topology.k8s.aws/zone-id"] = meta.zone_id
    spec = node.setdefault("spec", {})
    spec["providerID"] = meta.provider_id
    taints = [t for t in spec.get("taints") or [] if t.get("key") != UNINITIALIZED]
    if taints:
        spec["taints"] = taints
    else:
        spec.pop("taints", None)
    return node


def addresses(meta: InstanceMetadata) -> list[dict[str, str]]:
    out = []
    if meta.internal_ip:
        out.append({"type": "InternalIP", "address": meta.internal_ip})
    if meta.external_ip:
        out.append({"type": "ExternalIP", "address": meta.external_ip})
    if meta.internal_dns:
        out.append({"type": "InternalDNS", "address": meta.internal_dns})
        out.append({"type": "Hostname", "address": meta.internal_dns})
    if meta.external_dns:
        out.append({"type": "ExternalDNS", "address": meta.external_dns})
    return out


class CloudNodeController(Controller):
    name = "cloud-node-controller"
    watches = ("nodes",)

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.resync_seconds = max(0.05, self.timings.get("cloud_node_monitor_period"))
        self.recorder = self.ctx.recorder("cloud-node-lifecycle-controller")

    @property
    def cloud(self) -> CloudProvider | None:
        return self.ctx.extra.get("cloud")

    def items_for(self, ev: Any) -> Iterable[Hashable]:
        return [ev.entry.name] if ev.type != "DELETED" else []

    def all_items(self) -> Iterable[Hashable]:
        return [e.name for e in self.api.store.list("nodes")[0]]

    def reconcile(self, item: Hashable) -> float | None:
        cloud = self.cloud
        if cloud is None:
            return None
        name = str(item)
        entry = self.api.store.get("nodes", "", name)
        if entry is None:
            return None
        node = entry.obj()
        rt = self.api.rt("nodes")
        provider_id = (node.get("spec") or {}).get("providerID", "")
        try:
            if has_taint(node, UNINITIALIZED):
                meta = cloud.instance_metadata(name, provider_id)
                if meta is None:
                    return 1.0
                self.api.mutate(rt, None, name, lambda cur: initialized(cur, meta), manager="cloud-controller-manager")

                def set_addresses(cur: dict[str, Any]) -> dict[str, Any]:
                    cur.setdefault("status", {})["addresses"] = addresses(meta)
                    return cur

                self.api.update_status(rt, None, name, set_addresses, manager="cloud-controller-manager")
                return None
            if not provider_id:
                return None
            action = lifecycle_action(node, cloud.instance_state(provider_id))
            if action == "delete":
                self.recorder.event(node, "Normal", "DeletingNode",
                                    f"Deleting node {name} because it does not exist in the cloud provider")
                self.api.delete(rt, None, name, DeleteOptions())
            elif action in ("taint-shutdown", "untaint-shutdown"):
                def retaint(cur: dict[str, Any]) -> dict[str, Any]:
                    spec = cur.setdefault("spec", {})
                    taints = [t for t in spec.get("taints") or [] if t.get("key") != SHUTDOWN]
                    if action == "taint-shutdown":
                        taints.append({"key": SHUTDOWN, "effect": "NoSchedule"})
                    if taints:
                        spec["taints"] = taints
                    else:
                        spec.pop("taints", None)
                    return cur

                self.api.mutate(rt, None, name, retaint, manager="cloud-controller-manager")
        except NotFound:
            return None
        except ApiError:
            return 1.0
        return None
