"""Federation across zones and clusters: KubeFed's shape with Karmada's ideas, as CRDs in a host cluster.

Public surface (see each module for the details)::

    install_crds(host)                         MemberCluster + FederatedWorkload CRDs (kubekit.io/v1alpha1)
    register_member(host, name, context=...)   a member: kubeconfig Secret + MemberCluster
    federated_workload(name, template, ...)    build a FederatedWorkload manifest
    federate(manifests, ...)                   one per manifest: replicas Divided, the rest Duplicated
    apply_workload(host, fw)                   create or update it (server-side apply)
    Federation(host_context).start()/.stop()   the controller (also `kubekit federation run`)
    plan(fw, members) / explain(fw, members)   what would be applied; four algorithms side by side
    export_karmada(fw)                         the same policy as Karmada YAML
    clusterset_name(svc, ns, pet=, cluster=)   Multi-Cluster Services DNS names
    rest_for(context)                          REST verbs for any kind on one cluster (official client)
    migrate.migrate(host, fw, a, b)            move pets between members: fenced ordinals.start steps
    migrate.plan_migration(slices, a, b)       the same steps as a dry-run plan (pure)

Everything reaches Kubernetes through the official client only, so the same
calls work on the sandbox's clusters and on real ones.
"""

from .controller import Federation, SyncReport, TimelineEntry, wait_for
from .crds import CRDS
from .karmada import export_karmada
from .members import host_rest as rest_for
from .members import register_member, unregister_member
from .model import (
    API_VERSION,
    DIRECTLY,
    DIVIDED,
    DUPLICATED,
    GRACEFULLY,
    NEVER,
    HealthCheck,
    Member,
    Workload,
    parse_member,
    parse_workload,
)
from .plan import Explanation, Plan, explain, plan
from .render import clusterset_name
from .workloads import (
    apply_workload,
    delete_workload,
    federate,
    federated_workload,
    get_workload,
    install_crds,
    list_members,
    member_table,
    pet_map,
    pets_by_cluster,
    workload_table,
)

__all__ = [
    "API_VERSION", "CRDS", "DIRECTLY", "DIVIDED", "DUPLICATED", "Explanation", "Federation", "GRACEFULLY",
    "HealthCheck", "Member", "NEVER", "Plan", "SyncReport", "TimelineEntry", "Workload", "apply_workload",
    "clusterset_name", "delete_workload", "explain", "export_karmada", "federate", "federated_workload", "get_workload",
    "install_crds", "list_members", "member_table", "parse_member", "parse_workload", "pet_map",
    "pets_by_cluster", "plan", "register_member", "rest_for", "unregister_member", "wait_for", "workload_table",
]
