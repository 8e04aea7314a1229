"""One emulated cluster: store + API + controllers + HTTPS server.

``Cluster(...).start()`` gives a live API server on 127.0.0.1 with the
namespaces, Services and Nodes a fresh EKS-like cluster has; ``stop()`` shuts
it down; with ``state_dir`` everything (objects, CA, token) persists across
restarts, so a restarted cluster keeps its kubeconfig valid.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable

import yaml

from .api import Api, Request
from .controllers.base import Controller, ControllerContext, Heartbeats, WorkerPool
from .faults import Faults
from .server import control
from .timings import for_profile
from .errors import AlreadyExists
from .resources import Registry, selectable_fields
from .schemas import SchemaSet
from .server.app import ApiServer
from .server.certs import Credentials, load_or_create
from .tokens import TokenIssuer
from .store import Store

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

# Controllers of kube-controller-manager, kube-scheduler and friends, started in this order.
CONTROLLERS = [
    ("kubesim.controllers.gc", "GarbageCollector"),
    ("kubesim.controllers.namespace", "NamespaceController"),
    ("kubesim.controllers.serviceaccount", "ServiceAccountController"),
    ("kubesim.controllers.scheduler", "Scheduler"),
    ("kubesim.controllers.statefulset", "StatefulSetController"),
    ("kubesim.controllers.deployment", "DeploymentController"),
    ("kubesim.controllers.replicaset", "ReplicaSetController"),
    ("kubesim.controllers.replicaset", "ReplicationControllerController"),
    ("kubesim.controllers.daemonset", "DaemonSetController"),
    ("kubesim.controllers.job", "JobController"),
    ("kubesim.controllers.cronjob", "CronJobController"),
    ("kubesim.controllers.volumes", "VolumeController"),
    ("kubesim.controllers.attachdetach", "AttachDetachController"),
    ("kubesim.controllers.nodelifecycle", "NodeLifecycleController"),
    ("kubesim.controllers.tainteviction", "TaintEvictionController"),
    ("kubesim.controllers.podgc", "PodGC"),
    ("kubesim.controllers.cloudnode", "CloudNodeController"),
    ("kubesim.controllers.endpoints", "EndpointsController"),
    ("kubesim.controllers.endpointslice", "EndpointSliceController"),
    ("kubesim.controllers.disruption", "DisruptionController"),
]
# Modules whose ``register(cluster)`` adds subresource handlers (exec, log, proxy, eviction, binding ...).
HANDLERS = [
    ("kubesim.server.subresources", "register"),
    ("kubesim.server.streaming", "register"),
    ("kubesim.server.proxy", "register"),
    ("kubesim.server.eviction", "register"),
    ("kubesim.server.binding", "register"),
]
# The node agent and its container runtime, one of each per node.
KUBELET = [("kubesim.controllers.kubelet", "Kubelet"), ("kubesim.runtime.node", "NodeRuntime")]


def _load(specs: list[tuple[str, str]]) -> list[Any]:
    """Import the listed classes (or functions) by module and name."""
    import importlib

    return [getattr(importlib.import_module(module), name) for module, name in specs]


def parse_version(text: str) -> tuple[int, int]:
    """``1.33`` / ``v1.33.2`` -> (1, 33); kubesim emulates 1.29 to 1.35."""
    t = text.lstrip("v").split(".")
    try:
        major, minor = int(t[0]), int(t[1])
    except (IndexError, ValueError):
        raise ValueError(f"invalid Kubernetes version {text!r}: use MAJOR.MINOR, e.g. 1.33")
    if (major, minor) < (1, 29) or (major, minor) > (1, 35):
        raise ValueError(f"Kubernetes version {text} is outside what kubesim emulates (1.29 to 1.35)")
    return major, minor


@dataclass
class NodeSpec:
    """A node to register: its name, zone and labels (issue 3's kubelet makes it live)."""

    name: str
    zone: str
    region: str
    instance_type: str = "m5.large"
    labels: dict[str, str] = field(default_factory=dict)
    provider_id: str = ""
    internal_ip: str = ""
    pod_cidr: str = ""
    taints: list[dict[str, str]] = field(default_factory=list)
    # False: registered like a kubelet with --cloud-provider=external (no zone/instance labels, no
    # providerID, the uninitialized taint) and left to the cloud node controller to initialise.
    cloud_initialized: bool = True


def default_nodes(zones: list[str], per_zone: int) -> list[NodeSpec]:
    out = []
    for zi, zone in enumerate(zones):
        region = zone[:-1] if zone and zone[-1].isalpha() else zone
        for i in range(per_zone):
            n = len(out)
            out.append(NodeSpec(name=f"{zone}-node-{i + 1}", zone=zone, region=region,
                                internal_ip=f"10.0.{zi + 1}.{10 + i}", pod_cidr=f"10.244.{n}.0/24"))
    return out


class Cluster:
    def __init__(self, name: str = "kubesim", *, state_dir: str | None = None, port: int = 0,
                 zones: list[str] | None = None, nodes_per_zone: int = 0, k8s_version: str = "1.33",
                 seed: int | None = None, profile: str = "upstream",
                 workloads: dict[str, str] | None = None, watch_history: int = 20_000) -> None:
        self.name = name
        self.state_dir = state_dir
        self.version = parse_version(k8s_version)
        self.timings = for_profile(profile, self.version)
        self.faults = Faults()
        # Volume data and pod filesystems: under the state, or a private temp dir removed on stop.
        self._tmp_root = None if state_dir else tempfile.mkdtemp(prefix="kubesim-")
        self.state_root = os.path.join(state_dir, "data") if state_dir else self._tmp_root
        self.zones = list(zones or [])
        self.nodes_per_zone = nodes_per_zone
        self.registry = Registry()
        self.schemas = SchemaSet(f"{self.version[0]}.{self.version[1]}")
        self.store = Store(os.path.join(state_dir, "store") if state_dir else None, indexer=self._index,
                           history=watch_history)
        self.api = Api(self.store, self.registry, self.schemas, k8s_version=self.version,
                       rng=random.Random(seed), toleration_seconds=self.timings.toleration_seconds())
        self.creds: Credentials = load_or_create(state_dir, name)
        self.server = ApiServer(self.api, self.creds, k8s_version=self.version, port=port)
        self.tokens = TokenIssuer(hashlib.sha256(b"kubesim-sa-key:" + self.creds.key_pem).digest())
        self.server.token_checks.append(lambda tok: self.tokens.verify(tok, self._service_account_uid))
        for register in _load(HANDLERS):
            register(self)
        self.server.bookmark_interval = max(1.0, self.timings.get("bookmark_interval"))
        self.server.control_handler = control.make_handler(self.faults, self.timings)
        self.ctx = ControllerContext(api=self.api, timings=self.timings, faults=self.faults,
                                     state_root=self.state_root, cluster_name=name, k8s_version=self.version,
                                     ca_pem=self.creds.ca_pem.decode(), workloads=dict(workloads or {}))
        # Projected service-account tokens in pods are real tokens of this cluster.
        self.ctx.extra["issue_token"] = self._pod_token
        # Where the kubernetes Service's endpoints point (the endpoints controller reads it).
        self.ctx.extra["apiserver_endpoint"] = lambda: (self.server.host, self.server.port)
        self.controllers: list[Controller] = []
        self.kubelets: dict[str, Any] = {}
        self._started = False

    def _pod_token(self, pod: dict[str, Any], audience: str | None, seconds: int) -> str:
        meta = pod.get("metadata") or {}
        ns = meta.get("namespace", "default")
        sa = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        uid = self._service_account_uid(ns, sa) or ""
        return self.tokens.mint(ns, sa, uid, [audience] if audience else [], max(600, int(seconds or 3600)),
                                {"kind": "Pod", "name": meta.get("name", ""), "uid": meta.get("uid", "")})[0]

    def _service_account_uid(self, namespace: str, name: str) -> str | None:
        entry = self.store.get("serviceaccounts", namespace, name)
        return None if entry is None else entry.obj()["metadata"].get("uid")

    def _index(self, key: str, obj: dict[str, Any]) -> dict[str, str]:
        rt = self.registry.by_key(key)
        return selectable_fields(rt, obj) if rt is not None else {}

    @property
    def url(self) -> str:
        return self.server.url

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> "Cluster":
        from .crds import sync_crd_types

        sync_crd_types(self.api)
        with self.store.deferred():  # one commit wait for the whole bootstrap, not one per object
            self._bootstrap()
        self.store.wait_durable(self.store.resource_version)
        # The node agents share a few threads instead of one each (base.WorkerPool). Their node status and
        # Lease heartbeats are not queued behind pod work, as upstream's kubelet runs them in goroutines of
        # their own (base.Heartbeats: a thread of its own, and first on the pool's threads when overdue).
        heartbeats = self.ctx.extra["kubelet_heartbeats"] = Heartbeats("kubesim-kubelet-heartbeats", store=self.store)
        self.ctx.extra["kubelet_pool"] = WorkerPool("kubesim-kubelets", threads=4, store=self.store,
                                                    heartbeats=heartbeats)
        self.server.start()
        self._start_controllers()
        self._started = True
        return self

    def _start_controllers(self) -> None:
        self.controllers = [cls(self.ctx) for cls in _load(CONTROLLERS)]
        for c in self.controllers:
            c.start()
        for name in list(self.kubelets):
            self._start_kubelet(name)

    def add_controller(self, factory: Callable[[ControllerContext], Controller]) -> Controller:
        c = factory(self.ctx)
        self.controllers.append(c)
        if self._started:
            c.start()
        return c

    def stop(self) -> None:
        for k in list(self.kubelets.values()):
            if k is not None:
                k.stop()
        for c in reversed(self.controllers):
            c.stop()
        heartbeats = self.ctx.extra.pop("kubelet_heartbeats", None)
        if heartbeats is not None:
            heartbeats.close()  # joins its thread
        pool = self.ctx.extra.pop("kubelet_pool", None)
        if pool is not None:
            pool.close()
        dispatch = self.ctx.extra.pop("kubelet_pod_dispatch", None)
        if dispatch is not None:
            dispatch.close()
        self.server.stop()
        self.store.close()
        self._started = False
        if self._tmp_root:
            shutil.rmtree(self._tmp_root, ignore_errors=True)

    def __enter__(self) -> "Cluster":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- bootstrap -----------------------------------------------------------------------
    def _create(self, key: str, namespace: str | None, obj: dict[str, Any]) -> None:
        try:
            self.api.create(self.api.rt(key), namespace, obj, Request(field_manager="kube-apiserver"))
        except AlreadyExists:
            pass

    def _bootstrap(self) -> None:
        """What a new control plane creates for itself; skipped for objects that exist."""
        for ns in SYSTEM_NAMESPACES:
            if self.store.get("namespaces", "", ns) is None:
                self._create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        if self.store.get("services", "default", "kubernetes") is None:
            self._create("services", "default", {
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "kubernetes", "labels": {"component": "apiserver",
                                                             "provider": "kubernetes"}},
                "spec": {"ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}],
                         "sessionAffinity": "None", "type": "ClusterIP"}})
        self._publish_timings()
        if self.store.get("storage.k8s.io/csidrivers", "", "ebs.csi.aws.com") is None:
            self._create("storage.k8s.io/csidrivers", None, {
                "apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": "ebs.csi.aws.com"},
                "spec": {"attachRequired": True, "podInfoOnMount": False, "fsGroupPolicy": "ReadWriteOnceWithFSType",
                         "volumeLifecycleModes": ["Persistent"]}})
        if not self.store.list("storage.k8s.io/storageclasses")[0]:
            # The EBS CSI driver's default class (aws-ebs-csi-driver chart ebs-csi-default-sc, SV-01), named gp3.
            self._create("storage.k8s.io/storageclasses", None, {
                "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                "metadata": {"name": "gp3", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                "provisioner": "ebs.csi.aws.com", "parameters": {"type": "gp3"}, "reclaimPolicy": "Delete",
                "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": True})
        existing = {e.name for e in self.store.list("nodes")[0]}
        if not existing:
            for spec in default_nodes(self.zones, self.nodes_per_zone):
                self.register_node(spec)
        else:
            for name in existing:
                self.kubelets.setdefault(name, None)

    def _publish_timings(self) -> None:
        """The profile, readable by any client (ConfigMap kube-system/kubesim-timing)."""
        from .timings import CONFIGMAP

        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CONFIGMAP},
                "data": self.timings.as_configmap_data()}
        if self.store.get("configmaps", "kube-system", CONFIGMAP) is None:
            self._create("configmaps", "kube-system", body)
        else:
            self.api.mutate(self.api.rt("configmaps"), "kube-system", CONFIGMAP,
                            lambda cur: {**cur, "data": body["data"]}, manager="kubesim")

    def register_node(self, spec: NodeSpec) -> dict[str, Any]:
        """Register a Node as a kubelet does on start; its kubelet then posts status and renews its lease."""
        labels = {
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": spec.name,
            "kubernetes.io/os": "linux",
        }
        if spec.cloud_initialized:
            labels.update({
                "beta.kubernetes.io/instance-type": spec.instance_type,
                "failure-domain.beta.kubernetes.io/region": spec.region,
                "failure-domain.beta.kubernetes.io/zone": spec.zone,
                "node.kubernetes.io/instance-type": spec.instance_type,
                "topology.kubernetes.io/region": spec.region,
                "topology.kubernetes.io/zone": spec.zone,
            })
        labels.update(spec.labels)
        node = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": spec.name, "labels": labels,
                         "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                         "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
            "spec": {},
        }
        if spec.cloud_initialized:
            node["spec"]["providerID"] = spec.provider_id or f"kubesim:///{spec.zone}/{spec.name}"
        if spec.taints:
            node["spec"]["taints"] = list(spec.taints)
        if spec.pod_cidr:
            node["spec"]["podCIDR"] = spec.pod_cidr
            node["spec"]["podCIDRs"] = [spec.pod_cidr]
        self._create("nodes", None, node)
        # What the machine knows about itself (its IP): the kubelet reads it from here.
        self.ctx.extra.setdefault("node_specs", {})[spec.name] = spec
        self.kubelets.setdefault(spec.name, None)
        # The node agent posts its own status and lease from here on.
        if self._started:
            self._start_kubelet(spec.name)
        return self.api.get(self.api.rt("nodes"), None, spec.name)

    def _start_kubelet(self, name: str) -> None:
        if self.kubelets.get(name) is not None:
            return
        kubelet_cls, runtime_cls = _load(KUBELET)
        runtime = runtime_cls(self.ctx, name)
        self.ctx.extra.setdefault("runtimes", {})[name] = runtime
        agent = kubelet_cls(self.ctx, name, runtime)
        self.kubelets[name] = agent
        agent.start()

    def remove_node_agent(self, name: str) -> None:
        """Stop a node's kubelet for good (its machine is gone)."""
        agent = self.kubelets.pop(name, None)
        if agent is not None:
            agent.stop()

    # -- kubeconfig ----------------------------------------------------------------------
    def kubeconfig(self, context: str | None = None) -> dict[str, Any]:
        import base64

        ctx = context or self.name
        return {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": ctx, "cluster": {
                "server": self.url,
                "certificate-authority-data": base64.b64encode(self.creds.ca_pem).decode()}}],
            "users": [{"name": ctx, "user": {"token": self.creds.token}}],
            "contexts": [{"name": ctx, "context": {"cluster": ctx, "user": ctx, "namespace": "default"}}],
            "current-context": ctx,
        }

    def write_kubeconfig(self, path: str, context: str | None = None) -> str:
        """Write (or merge into) a kubeconfig with mode 0600: it holds a bearer token."""
        new = self.kubeconfig(context)
        merged = new
        if os.path.exists(path):
            try:
                with open(path) as f:
                    old = yaml.safe_load(f) or {}
                merged = merge_kubeconfig(old, new)
            except (OSError, yaml.YAMLError):
                merged = new
        d = os.path.dirname(os.path.abspath(path))
        os.makedirs(d, exist_ok=True)
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(merged, f, sort_keys=False)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return path


def merge_kubeconfig(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Replace same-named entries, keep the others, switch current-context to the new one."""
    out = dict(old)
    for section in ("clusters", "users", "contexts"):
        names = {e["name"] for e in new.get(section, [])}
        out[section] = [e for e in old.get(section) or [] if e.get("name") not in names] + new.get(section, [])
    out["current-context"] = new.get("current-context", out.get("current-context"))
    out.setdefault("apiVersion", "v1")
    out.setdefault("kind", "Config")
    return out
