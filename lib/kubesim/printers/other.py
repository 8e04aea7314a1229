"""Printers for storage.k8s.io, coordination.k8s.io, discovery.k8s.io, rbac and apiregistration kinds.

Sources: k/k ``pkg/printers/internalversion/printers.go`` (Kubernetes 1.33) and, for
APIService, kube-aggregator ``pkg/registry/apiservice/etcd/etcd.go`` ``REST.ConvertToTable``.
"""

from __future__ import annotations

from typing import Any

from .common import Cells, Obj, age, age_col, col, name_col

_E: dict[str, Any] = {}
_L: list[Any] = []

STORAGE_CLASS_COLUMNS = [
    name_col(),
    col("Provisioner", doc="storage/v1.StorageClass.provisioner"),
    col("ReclaimPolicy", doc="storage/v1.StorageClass.reclaimPolicy"),
    col("VolumeBindingMode", doc="storage/v1.StorageClass.volumeBindingMode"),
    col("AllowVolumeExpansion", doc="storage/v1.StorageClass.allowVolumeExpansion"),
    age_col(),
]


def print_storage_class(obj: Obj, now: float) -> Cells:
    """printers.go ``printStorageClass`` (+ storage util ``IsDefaultAnnotation``)."""
    meta = obj["metadata"]
    annotations = meta.get("annotations") or _E
    name = meta.get("name", "")
    if (annotations.get("storageclass.kubernetes.io/is-default-class") == "true"
            or annotations.get("storageclass.beta.kubernetes.io/is-default-class") == "true"):
        name += " (default)"
    return [name, obj.get("provisioner") or "", obj.get("reclaimPolicy") or "Delete",
            obj.get("volumeBindingMode") or "Immediate", bool(obj.get("allowVolumeExpansion")), age(obj, now)]


CSI_DRIVER_COLUMNS = [
    name_col(),
    col("AttachRequired", "boolean", "storage/v1.CSIDriverSpec.attachRequired"),
    col("PodInfoOnMount", "boolean", "storage/v1.CSIDriverSpec.podInfoOnMount"),
    col("StorageCapacity", "boolean", "storage/v1.CSIDriverSpec.storageCapacity"),
    col("TokenRequests", doc="storage/v1.CSIDriverSpec.tokenRequests"),
    col("RequiresRepublish", "boolean", "storage/v1.CSIDriverSpec.requiresRepublish"),
    col("Modes", doc="storage/v1.CSIDriverSpec.volumeLifecycleModes"),
    age_col(),
]


def print_csi_driver(obj: Obj, now: float) -> Cells:
    """printers.go ``printCSIDriver``."""
    spec = obj.get("spec") or _E
    attach = spec.get("attachRequired")
    tokens = spec.get("tokenRequests")
    token_cell = "<unset>" if tokens is None else ",".join(t.get("audience", "") for t in tokens)
    modes = ",".join(spec.get("volumeLifecycleModes") or _L) or "<none>"
    return [obj["metadata"].get("name", ""), True if attach is None else bool(attach),
            bool(spec.get("podInfoOnMount")), bool(spec.get("storageCapacity")), token_cell,
            bool(spec.get("requiresRepublish")), modes, age(obj, now)]


CSI_NODE_COLUMNS = [
    name_col(),
    col("Drivers", "integer", text="Drivers indicates the number of CSI drivers registered on the node"),
    age_col(),
]


def print_csi_node(obj: Obj, now: float) -> Cells:
    """printers.go ``printCSINode``."""
    return [obj["metadata"].get("name", ""), len((obj.get("spec") or _E).get("drivers") or _L), age(obj, now)]


VOLUME_ATTACHMENT_COLUMNS = [
    name_col(),
    col("Attacher", doc="storage/v1.VolumeAttachmentSpec.attacher", fmt="name"),
    col("PV", doc="storage/v1.VolumeAttachmentSource.persistentVolumeName"),
    col("Node", doc="storage/v1.VolumeAttachmentSpec.nodeName"),
    col("Attached", "boolean", "storage/v1.VolumeAttachmentStatus.attached"),
    age_col(),
]


def print_volume_attachment(obj: Obj, now: float) -> Cells:
    """printers.go ``printVolumeAttachment``."""
    spec = obj.get("spec") or _E
    return [obj["metadata"].get("name", ""), spec.get("attacher") or "",
            (spec.get("source") or _E).get("persistentVolumeName") or "", spec.get("nodeName") or "",
            bool((obj.get("status") or _E).get("attached")), age(obj, now)]


LEASE_COLUMNS = [name_col(), col("Holder", doc="coordination/v1.LeaseSpec.holderIdentity"), age_col()]


def print_lease(obj: Obj, now: float) -> Cells:
    """printers.go ``printLease``."""
    return [obj["metadata"].get("name", ""), (obj.get("spec") or _E).get("holderIdentity") or "", age(obj, now)]


ENDPOINT_SLICE_COLUMNS = [
    name_col(),
    col("AddressType", doc="discovery/v1beta1.EndpointSlice.addressType"),
    col("Ports", doc="discovery/v1beta1.EndpointSlice.ports"),
    col("Endpoints", doc="discovery/v1beta1.EndpointSlice.endpoints"),
    age_col(),
]


def _list_with_more(items: list[str], more: bool, count: int, limit: int) -> str:
    """printers.go ``listWithMoreString``."""
    text = ",".join(items)
    if more:
        return f"{text} + {count - limit} more..."
    return text or "<unset>"


def print_endpoint_slice(obj: Obj, now: float) -> Cells:
    """printers.go ``printEndpointSlice`` (+ ``formatDiscoveryPorts``, ``formatDiscoveryEndpoints``)."""
    limit = 3
    ports: list[str] = []
    more, count = False, 0
    for port in obj.get("ports") or _L:
        if len(ports) < limit:
            if port.get("port") is not None:
                ports.append(str(port["port"]))
            elif port.get("name") is not None:
                ports.append(port["name"])
            else:
                ports.append("*")
        elif len(ports) == limit:
            more = True
        count += 1
    ports_cell = _list_with_more(ports, more, count, limit)
    addresses: list[str] = []
    more, count = False, 0
    for endpoint in obj.get("endpoints") or _L:
        for address in endpoint.get("addresses") or _L:
            if len(addresses) < limit:
                addresses.append(address)
            elif len(addresses) == limit:
                more = True
            count += 1
    return [obj["metadata"].get("name", ""), obj.get("addressType") or "", ports_cell,
            _list_with_more(addresses, more, count, limit), age(obj, now)]


def _binding_columns(what: str, ref_doc: str) -> list[dict[str, Any]]:
    return [
        name_col(),
        col("Role", doc=ref_doc),
        age_col(),
        col("Users", text=f"Users in the {what}", priority=1),
        col("Groups", text=f"Groups in the {what}", priority=1),
        col("ServiceAccounts", text=f"ServiceAccounts in the {what}", priority=1),
    ]


ROLE_BINDING_COLUMNS = _binding_columns("roleBinding", "rbac/v1beta1.RoleBinding.roleRef")
CLUSTER_ROLE_BINDING_COLUMNS = _binding_columns("clusterRoleBinding", "rbac/v1beta1.ClusterRoleBinding.roleRef")


def print_role_binding(obj: Obj, now: float) -> Cells:
    """printers.go ``printRoleBinding`` / ``printClusterRoleBinding`` (+ rbac ``SubjectsStrings``)."""
    ref = obj.get("roleRef") or _E
    users: list[str] = []
    groups: list[str] = []
    sas: list[str] = []
    for subject in obj.get("subjects") or _L:
        kind = subject.get("kind")
        if kind == "ServiceAccount":
            sas.append(f"{subject.get('namespace', '')}/{subject.get('name', '')}")
        elif kind == "User":
            users.append(subject.get("name", ""))
        elif kind == "Group":
            groups.append(subject.get("name", ""))
    return [obj["metadata"].get("name", ""), f"{ref.get('kind', '')}/{ref.get('name', '')}", age(obj, now),
            ", ".join(users), ", ".join(groups), ", ".join(sas)]


API_SERVICE_COLUMNS = [
    name_col(),
    col("Service", text="The reference to the service that hosts this API endpoint."),
    col("Available", text="Whether this service is available."),
    age_col(),
]


def print_api_service(obj: Obj, now: float) -> Cells:
    """kube-aggregator apiservice/etcd ``REST.ConvertToTable``."""
    spec = obj.get("spec") or _E
    svc = spec.get("service")
    service = f"{svc.get('namespace', '')}/{svc.get('name', '')}" if svc else "Local"
    available = "Unknown"
    for cond in (obj.get("status") or _E).get("conditions") or _L:
        if cond.get("type") == "Available":
            status = cond.get("status") or ""
            if status != "True" and cond.get("reason"):
                available = f"{status} ({cond['reason']})"
            else:
                available = status
            break
    return [obj["metadata"].get("name", ""), service, available, age(obj, now)]
