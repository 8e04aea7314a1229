"""Admission steps that need cluster state (the stateless defaults live in ``defaults``).

- Service ClusterIP and NodePort allocation (``pkg/registry/core/service/ipallocator``,
  ``portallocator``): allocated when the object is stored, released when removed.
- DefaultStorageClass (``plugin/pkg/admission/storage/storageclass/setdefault``):
  a PVC without ``storageClassName`` gets the class annotated as default.
"""

from __future__ import annotations

import ipaddress
import threading
from typing import TYPE_CHECKING, Any

from .errors import Invalid, invalid

if TYPE_CHECKING:
    from .api import Api
    from .resources import ResourceType

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
NODE_PORT_RANGE = (30000, 32767)


class ServiceIPs:
    """ClusterIP and NodePort bookkeeping, rebuilt from stored Services on first use."""

    def __init__(self, api: "Api", cidr: str) -> None:
        self.api = api
        self.net = ipaddress.ip_network(cidr)
        self._lock = threading.Lock()
        self._ips: set[str] | None = None
        self._ports: set[int] = set()
        self._next = 10

    def _load(self) -> set[str]:
        if self._ips is None:
            ips: set[str] = set()
            entries, _ = self.api.store.list("services")
            for e in entries:
                spec = e.obj().get("spec") or {}
                for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]:
                    if ip and ip != "None":
                        ips.add(ip)
                for p in spec.get("ports") or []:
                    if p.get("nodePort"):
                        self._ports.add(int(p["nodePort"]))
            self._ips = ips
        return self._ips

    @property
    def kubernetes_ip(self) -> str:
        """The first address: the ``kubernetes`` Service in ``default``."""
        return str(self.net.network_address + 1)

    def allocate(self, svc: dict[str, Any]) -> None:
        spec = svc.setdefault("spec", {})
        name = (svc.get("metadata") or {}).get("name", "")
        with self._lock:
            used = self._load()
            if spec.get("type") == "ExternalName":
                return
            ip = spec.get("clusterIP")
            if ip == "None":
                spec["clusterIPs"] = ["None"]
            elif ip:
                try:
                    addr = ipaddress.ip_address(ip)
                except ValueError:
                    addr = None
                if addr is None or addr not in self.net:
                    raise Invalid("Service", "", name, [invalid(
                        "spec.clusterIPs", [ip],
                        f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. "
                        f"The range of valid IPs is {self.net}")])
                if ip in used:
                    raise Invalid("Service", "", name, [invalid(
                        "spec.clusterIPs", [ip], f"failed to allocate IP {ip}: provided IP is already allocated")])
                used.add(ip)
                spec["clusterIPs"] = [ip]
            else:
                ip = self._pick(used, name)
                used.add(ip)
                spec["clusterIP"] = ip
                spec["clusterIPs"] = [ip]
            if spec.get("type") in ("NodePort", "LoadBalancer"):
                for port in spec.get("ports") or []:
                    if not port.get("nodePort"):
                        port["nodePort"] = self._pick_port()
                    self._ports.add(int(port["nodePort"]))

    def _pick(self, used: set[str], name: str) -> str:
        if name == "kubernetes" and self.kubernetes_ip not in used:
            return self.kubernetes_ip
        size = self.net.num_addresses
        for _ in range(size):
            cand = str(self.net.network_address + self._next)
            self._next = self._next + 1 if self._next + 1 < size - 1 else 10
            if cand not in used:
                return cand
        raise Invalid("Service", "", name, [invalid("spec.clusterIPs", [], "failed to allocate IP: range is full")])

    def _pick_port(self) -> int:
        for port in range(NODE_PORT_RANGE[0], NODE_PORT_RANGE[1] + 1):
            if port not in self._ports:
                return port
        raise Invalid("Service", "", "", [invalid("spec.ports", [], "range is full")])

    def release(self, svc: dict[str, Any]) -> None:
        spec = svc.get("spec") or {}
        with self._lock:
            used = self._load()
            for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]:
                used.discard(ip)
            for p in spec.get("ports") or []:
                if p.get("nodePort"):
                    self._ports.discard(int(p["nodePort"]))


PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"


def admit_create(api: "Api", rt: "ResourceType", obj: dict[str, Any]) -> None:
    # StorageObjectInUseProtection admission (plugin/pkg/admission/storage/storageobjectinuseprotection):
    # every new PVC and PV carries its protection finalizer from the start.
    if rt.key in ("persistentvolumeclaims", "persistentvolumes"):
        fins = obj.setdefault("metadata", {}).setdefault("finalizers", [])
        fin = PVC_PROTECTION if rt.key == "persistentvolumeclaims" else PV_PROTECTION
        if fin not in fins:
            fins.append(fin)
    if rt.key == "persistentvolumeclaims":
        spec = obj.setdefault("spec", {})
        if spec.get("storageClassName") is None and not (obj.get("metadata") or {}).get("annotations", {}).get(
                "volume.beta.kubernetes.io/storage-class"):
            default = default_storage_class(api)
            if default:
                spec["storageClassName"] = default


def default_storage_class(api: "Api") -> str | None:
    """The newest class annotated default (upstream picks the newest when several are)."""
    entries, _ = api.store.list("storage.k8s.io/storageclasses")
    best: tuple[str, str] | None = None
    for e in entries:
        obj = e.obj()
        ann = (obj.get("metadata") or {}).get("annotations") or {}
        if ann.get(DEFAULT_CLASS_ANNOTATION) == "true" or ann.get(
                "storageclass.beta.kubernetes.io/is-default-class") == "true":
            created = (obj.get("metadata") or {}).get("creationTimestamp", "")
            if best is None or created > best[0]:
                best = (created, e.name)
    return best[1] if best else None
