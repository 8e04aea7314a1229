"""Per-kind table printers: the server side of ``kubectl get`` human output.

``PRINTERS`` maps ``(group, kind)`` to ``(columns, row_fn)``; the API version does not
matter (upstream prints the internal type). Kinds missing here use the default table
convertor (see ``kubesim.tables``), exactly as their upstream registries do:
LimitRange, Role, ClusterRole, CustomResourceDefinition (``rest.NewDefaultTableConvertor``).
"""

from __future__ import annotations

from typing import Any, Callable

from . import core, other, workloads

Printer = tuple[list[dict[str, Any]], Callable[[dict[str, Any], float], list[Any]]]

PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "Pod"): (core.POD_COLUMNS, core.print_pod),
    ("", "PodTemplate"): (core.POD_TEMPLATE_COLUMNS, core.print_pod_template),
    ("", "ReplicationController"): (core.RC_COLUMNS, core.print_replication_controller),
    ("", "Service"): (core.SERVICE_COLUMNS, core.print_service),
    ("", "Endpoints"): (core.ENDPOINTS_COLUMNS, core.print_endpoints),
    ("", "Node"): (core.NODE_COLUMNS, core.print_node),
    ("", "Namespace"): (core.NAMESPACE_COLUMNS, core.print_namespace),
    ("", "Secret"): (core.SECRET_COLUMNS, core.print_secret),
    ("", "ConfigMap"): (core.CONFIGMAP_COLUMNS, core.print_config_map),
    ("", "ServiceAccount"): (core.SERVICE_ACCOUNT_COLUMNS, core.print_service_account),
    ("", "ResourceQuota"): (core.RESOURCE_QUOTA_COLUMNS, core.print_resource_quota),
    ("", "PersistentVolume"): (core.PV_COLUMNS, core.print_persistent_volume),
    ("", "PersistentVolumeClaim"): (core.PVC_COLUMNS, core.print_persistent_volume_claim),
    ("", "Event"): (core.EVENT_COLUMNS, core.print_event),
    ("events.k8s.io", "Event"): (core.EVENT_COLUMNS, core.print_event),
    ("apps", "StatefulSet"): (workloads.STATEFULSET_COLUMNS, workloads.print_stateful_set),
    ("apps", "Deployment"): (workloads.DEPLOYMENT_COLUMNS, workloads.print_deployment),
    ("apps", "ReplicaSet"): (workloads.REPLICASET_COLUMNS, workloads.print_replica_set),
    ("apps", "DaemonSet"): (workloads.DAEMONSET_COLUMNS, workloads.print_daemon_set),
    ("apps", "ControllerRevision"): (workloads.CONTROLLER_REVISION_COLUMNS, workloads.print_controller_revision),
    ("batch", "Job"): (workloads.JOB_COLUMNS, workloads.print_job),
    ("batch", "CronJob"): (workloads.CRONJOB_COLUMNS, workloads.print_cron_job),
    ("policy", "PodDisruptionBudget"): (workloads.PDB_COLUMNS, workloads.print_pod_disruption_budget),
    ("storage.k8s.io", "StorageClass"): (other.STORAGE_CLASS_COLUMNS, other.print_storage_class),
    ("storage.k8s.io", "CSIDriver"): (other.CSI_DRIVER_COLUMNS, other.print_csi_driver),
    ("storage.k8s.io", "CSINode"): (other.CSI_NODE_COLUMNS, other.print_csi_node),
    ("storage.k8s.io", "VolumeAttachment"): (other.VOLUME_ATTACHMENT_COLUMNS, other.print_volume_attachment),
    ("coordination.k8s.io", "Lease"): (other.LEASE_COLUMNS, other.print_lease),
    ("discovery.k8s.io", "EndpointSlice"): (other.ENDPOINT_SLICE_COLUMNS, other.print_endpoint_slice),
    ("rbac.authorization.k8s.io", "RoleBinding"): (other.ROLE_BINDING_COLUMNS, other.print_role_binding),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): (other.CLUSTER_ROLE_BINDING_COLUMNS,
                                                          other.print_role_binding),
    ("apiregistration.k8s.io", "APIService"): (other.API_SERVICE_COLUMNS, other.print_api_service),
}

# Row conditions some printers attach (metav1.TableRow.conditions).
ROW_CONDITIONS: dict[tuple[str, str], Callable[[dict[str, Any]], list[dict[str, str]] | None]] = {
    ("", "Pod"): core.pod_conditions,
}

__all__ = ["PRINTERS", "ROW_CONDITIONS", "Printer"]
