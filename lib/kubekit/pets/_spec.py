"""The description of a set of pets (:class:`PetSet`) and the manifests it renders to."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import InvalidParameter

ZONE_LABEL = "topology.kubernetes.io/zone"
EBS_ZONE_KEYS = (ZONE_LABEL, "topology.ebs.csi.aws.com/zone", "failure-domain.beta.kubernetes.io/zone")
REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
WORKLOAD_ANNOTATION = "kubesim.io/workload"  # ignored by real clusters; kubesim runs the script as a process
SCRIPT_ANNOTATION = "kubekit.io/petkv-script"  # the script's hash: a new script rolls the pets
VERSION_ANNOTATION = "kubekit.io/version"  # PetSet.version on the pod template: a new version rolls the pets
PETKV = "petkv"
PETKV_SCRIPT = Path(__file__).resolve().parent.parent / "workloads" / "petkv.py"
CLAIM_TEMPLATE = "data"
CLUSTER_DOMAIN = "cluster.local"
EBS_PROVISIONER = "ebs.csi.aws.com"
POLICIES = ("Retain", "Delete")
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


# -- the description -----------------------------------------------------------------------
@dataclass(frozen=True)
class PetSet:
    """What to run: one StatefulSet and its companions. Immutable; change it with :func:`dataclasses.replace`.

    Attributes:
        name: the StatefulSet, its headless Service and the pets' name prefix (``web`` -> ``web-0``).
        namespace: where everything lives (created when missing).
        replicas: how many pets.
        workload: ``petkv`` (the kit's key-value pet) or any container image (data checks then use exec).
        storage: each pet's volume size (a Kubernetes quantity).
        storage_class: the claims' StorageClass; created as EBS gp3 when missing. ``""`` = the cluster default.
        pod_management: ``OrderedReady`` (one at a time, in order) or ``Parallel``.
        update_strategy: ``RollingUpdate`` or ``OnDelete``.
        partition: RollingUpdate only updates pets with ordinal >= ordinals_start + partition (a canary).
        when_deleted: PVC retention when the set is deleted: ``Retain`` or ``Delete``.
        when_scaled: PVC retention when the set is scaled down: ``Retain`` or ``Delete``.
        ordinals_start: the first ordinal (``spec.ordinals.start``; federation gives each cluster a slice).
        zone_spread: topology spread over zones: ``DoNotSchedule``, ``ScheduleAnyway`` or ``""`` (none).
        max_unavailable: the PodDisruptionBudget's maxUnavailable; 0 = no PDB.
        shards: petkv's key space; None = replicas (kept by :func:`scale`).
        shard_start: the ordinal owning petkv's shard 0; None = ordinals_start.
        version: the pod template's ``kubekit.io/version`` annotation (and petkv's ``PETKV_VERSION``);
            changing it is a template change, so it rolls the pets.
        image: the image petkv runs in (stock Python; the script comes from a ConfigMap).
        mount_path: where the pet's volume is mounted.
        port: petkv's container port.
        grace_seconds: terminationGracePeriodSeconds.
    """

    name: str = "web"
    namespace: str = "pets"
    replicas: int = 3
    workload: str = PETKV
    storage: str = "1Gi"
    storage_class: str = "gp3"
    pod_management: str = "OrderedReady"
    update_strategy: str = "RollingUpdate"
    partition: int = 0
    when_deleted: str = "Retain"
    when_scaled: str = "Retain"
    ordinals_start: int = 0
    zone_spread: str = "DoNotSchedule"
    max_unavailable: int = 1
    shards: int | None = None
    shard_start: int | None = None
    version: str = "v1"
    image: str = "python:3.12-slim"
    mount_path: str = "/data"
    port: int = 8080
    grace_seconds: int = 10

    def __post_init__(self) -> None:
        if not _DNS_LABEL.match(self.name) or len(self.name) > 52:
            raise InvalidParameter("name", self.name, "a StatefulSet name must be a DNS label of at most 52 "
                                   "characters (the pod name adds -<ordinal>, the revision label a hash)",
                                   "use lower-case letters, digits and '-', starting with a letter")
        if not _DNS_LABEL.match(self.namespace) or len(self.namespace) > 63:
            raise InvalidParameter("namespace", self.namespace, "not a DNS label", "e.g. pets")
        for attr in ("replicas", "partition", "ordinals_start", "max_unavailable", "grace_seconds"):
            value = getattr(self, attr)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidParameter(attr, value, "must be a whole number >= 0")
        if self.shards is not None and (not isinstance(self.shards, int) or self.shards < 1):
            raise InvalidParameter("shards", self.shards, "must be >= 1", "or None for the replica count")
        choices = {"pod_management": ("OrderedReady", "Parallel"), "update_strategy": ("RollingUpdate", "OnDelete"),
                   "when_deleted": POLICIES, "when_scaled": POLICIES,
                   "zone_spread": ("DoNotSchedule", "ScheduleAnyway", "")}
        for attr, allowed in choices.items():
            if getattr(self, attr) not in allowed:
                raise InvalidParameter(attr, getattr(self, attr), "not supported",
                                       f"choose one of {', '.join(repr(a) for a in allowed)}")
        if not self.workload:
            raise InvalidParameter("workload", self.workload, "empty", "use 'petkv' or a container image")
        if not 1 <= self.port <= 65535:
            raise InvalidParameter("port", self.port, "not a TCP port")

    # -- derived names -----------------------------------------------------------------
    @property
    def is_petkv(self) -> bool:
        return self.workload == PETKV

    @property
    def service(self) -> str:
        return self.name

    @property
    def config_map(self) -> str:
        return f"{self.name}-petkv"

    @property
    def shard_count(self) -> int:
        return self.shards if self.shards is not None else max(1, self.replicas)

    @property
    def first_shard_ordinal(self) -> int:
        return self.ordinals_start if self.shard_start is None else self.shard_start

    @property
    def ordinals(self) -> range:
        return range(self.ordinals_start, self.ordinals_start + self.replicas)

    @property
    def selector(self) -> dict[str, str]:
        return {"app": self.name}

    @property
    def labels(self) -> dict[str, str]:
        return {"app": self.name, "app.kubernetes.io/name": self.workload_name,
                "app.kubernetes.io/managed-by": "kubekit"}

    @property
    def workload_name(self) -> str:
        if self.is_petkv:
            return PETKV
        base = self.workload.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
        return re.sub(r"[^A-Za-z0-9._-]", "-", base)[:63] or "app"

    @property
    def container(self) -> str:
        return PETKV if self.is_petkv else "app"

    def pet(self, ordinal: int) -> str:
        return f"{self.name}-{ordinal}"

    def claim(self, ordinal: int) -> str:
        return f"{CLAIM_TEMPLATE}-{self.name}-{ordinal}"

    def dns_name(self, ordinal: int) -> str:
        return f"{self.pet(ordinal)}.{self.service}.{self.namespace}.svc.{CLUSTER_DOMAIN}"

    def slice(self, start: int, replicas: int) -> "PetSet":
        """This set's ordinals ``[start, start + replicas)`` for one member cluster, sharing this key space.

        Federation gives each member cluster a slice (``spec.ordinals.start``) so pet
        names stay unique; the slices keep the whole set's shard count and first
        shard, so a key has one owner across all clusters (route with
        :class:`kubekit.pets.SlicedKV`). For a key space per slice instead, use
        ``replace(ps, ordinals_start=start, replicas=n, shards=None, shard_start=None)``.
        """
        return replace(self, ordinals_start=start, replicas=replicas, shards=self.shard_count,
                       shard_start=self.first_shard_ordinal)

    def holds(self, ordinal: int) -> bool:
        return ordinal in self.ordinals

    def owner(self, key: str) -> str:
        """The pet that owns a petkv key."""
        from ..workloads.petkv import owner_ordinal

        return self.pet(owner_ordinal(key, self.shard_count, self.first_shard_ordinal))

    # -- manifests -----------------------------------------------------------------------
    def manifests(self, *, storage_class: bool = False) -> list[dict[str, Any]]:
        """Every object, in apply order; ``storage_class`` adds the gp3 StorageClass (for a fresh EKS)."""
        out: list[dict[str, Any]] = []
        if storage_class and self.storage_class:
            out.append(storage_class_manifest(self.storage_class))
        if self.is_petkv:
            out.append(self.config_map_manifest())
        out.append(self.service_manifest())
        if self.max_unavailable:
            out.append(self.pdb_manifest())
        out.append(self.statefulset_manifest())
        return out

    def _meta(self, name: str) -> dict[str, Any]:
        return {"name": name, "namespace": self.namespace, "labels": dict(self.labels)}

    def config_map_manifest(self) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": self._meta(self.config_map),
                "data": {"petkv.py": petkv_script()}}

    def service_manifest(self) -> dict[str, Any]:
        port = self.port if self.is_petkv else 80
        return {"apiVersion": "v1", "kind": "Service", "metadata": self._meta(self.service),
                "spec": {"clusterIP": "None", "selector": dict(self.selector),
                         "ports": [{"name": "http", "port": port, "targetPort": port}]}}

    def pdb_manifest(self) -> dict[str, Any]:
        return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": self._meta(self.name),
                "spec": {"maxUnavailable": self.max_unavailable, "selector": {"matchLabels": dict(self.selector)}}}

    def pod_template(self) -> dict[str, Any]:
        mounts: list[dict[str, Any]] = [{"name": CLAIM_TEMPLATE, "mountPath": self.mount_path}]
        c: dict[str, Any] = {"name": self.container, "volumeMounts": mounts,
                             "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}}}
        annotations: dict[str, str] = {VERSION_ANNOTATION: self.version}
        volumes: list[dict[str, Any]] = []
        if self.is_petkv:
            mounts.append({"name": "petkv", "mountPath": "/opt/petkv", "readOnly": True})
            volumes.append({"name": "petkv", "configMap": {"name": self.config_map}})
            annotations.update({WORKLOAD_ANNOTATION: PETKV, SCRIPT_ANNOTATION: script_hash()})
            probe = {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 2, "timeoutSeconds": 2}
            c.update({
                "image": self.image,
                "command": ["python", "/opt/petkv/petkv.py"],
                "args": ["--data", self.mount_path, "--port", str(self.port), "--shards", str(self.shard_count),
                         "--first-ordinal", str(self.first_shard_ordinal)],
                "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "PETKV_VERSION", "value": self.version}],
                "ports": [{"name": "http", "containerPort": self.port}],
                "readinessProbe": probe,
                "livenessProbe": {**probe, "httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10,
                                  "failureThreshold": 3},
                # a pet replays its log before it listens: up to 300 s, then liveness takes over
                # ("Protect slow starting containers with startup probes", kubernetes.io task
                # configure-liveness-readiness-startup-probes). Scaled timing profiles shrink probe
                # periods, not Python's start-up, so without it `instant` kills pets while they boot.
                "startupProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 2,
                                 "timeoutSeconds": 2, "failureThreshold": 150},
                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
            })
        else:
            c["image"] = self.workload
        spec: dict[str, Any] = {"terminationGracePeriodSeconds": self.grace_seconds, "enableServiceLinks": False,
                                "containers": [c]}
        if volumes:
            spec["volumes"] = volumes
        if self.zone_spread:
            spec["topologySpreadConstraints"] = [{
                "maxSkew": 1, "topologyKey": ZONE_LABEL, "whenUnsatisfiable": self.zone_spread,
                "labelSelector": {"matchLabels": dict(self.selector)}}]
        meta: dict[str, Any] = {"labels": dict(self.labels), "annotations": annotations}
        return {"metadata": meta, "spec": spec}

    def statefulset_manifest(self) -> dict[str, Any]:
        claim_spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                                      "resources": {"requests": {"storage": self.storage}}}
        if self.storage_class:
            claim_spec["storageClassName"] = self.storage_class
        strategy: dict[str, Any] = {"type": self.update_strategy}
        if self.update_strategy == "RollingUpdate":
            strategy["rollingUpdate"] = {"partition": self.partition}
        spec: dict[str, Any] = {
            "serviceName": self.service,
            "replicas": self.replicas,
            "selector": {"matchLabels": dict(self.selector)},
            "podManagementPolicy": self.pod_management,
            "updateStrategy": strategy,
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": self.when_deleted,
                                                     "whenScaled": self.when_scaled},
            "template": self.pod_template(),
            "volumeClaimTemplates": [{"metadata": {"name": CLAIM_TEMPLATE}, "spec": claim_spec}],
        }
        if self.ordinals_start:
            spec["ordinals"] = {"start": self.ordinals_start}
        return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": self._meta(self.name), "spec": spec}


def storage_class_manifest(name: str = "gp3") -> dict[str, Any]:
    """An EBS gp3 class for the EBS CSI driver: zonal volumes made where the pet is scheduled."""
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "kubekit"}},
            "provisioner": EBS_PROVISIONER, "parameters": {"type": "gp3", "encrypted": "true"},
            "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": True}


def petkv_script() -> str:
    return PETKV_SCRIPT.read_text(encoding="utf-8")


def script_hash() -> str:
    return hashlib.sha256(petkv_script().encode("utf-8")).hexdigest()[:12]
