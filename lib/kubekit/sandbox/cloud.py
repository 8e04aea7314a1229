"""The sandbox is the cloud: it makes moto's EKS and EC2 records real kubesim clusters and nodes.

Runs inside the sandbox daemon, next to moto (same process). Every ``PERIOD`` it
compares moto's state with the running kubesim clusters and closes the gap:

- an EKS cluster in moto gets a kubesim API server; its real endpoint and CA are
  written into moto's cluster record, so ``describe_cluster`` + ordinary
  kubeconfig code reach it, and EKS-style tokens are checked against this STS;
- a managed node group gets EC2 instances (launched through moto's EC2 API, one
  per node, spread over the group's subnets, replaced when terminated, as its
  Auto Scaling group would);
- a kube-up cluster (instances tagged ``KubernetesCluster``, one with
  ``kubekit.io/role=master``) gets a kubesim API server when its master runs;
- each running instance is a Node registered by its kubelet (name = private DNS
  name, uninitialized taint); the cloud node controller gives it providerID
  ``aws:///<zone>/<instance-id>``, zone and instance-type labels from EC2;
- instance state is the machine's power: stopped -> kubelet stopped, started ->
  back, terminated -> the kubelet is gone for good (the cloud node controller
  then deletes the Node);
- each node's pod network is a /24 from the upper half of its instance's subnet
  (pods get VPC addresses, as with the AWS VPC CNI), so pod IPs are unique across
  clusters whose VPCs do not overlap;
- every cluster resolves the Multi-Cluster Services names of all the others in exec
  (``*.svc.clusterset.local``, see ``kubekit.sandbox.mcs``);
- a cluster's API server can be made unreachable and reachable again
  (:meth:`Cloud.set_reachable`, the daemon's control channel), as a lost member is;
- each API server keeps its port across restarts (``clusters/<region>/<name>/server.json``),
  so kubeconfigs and federation member secrets stay valid after ``down`` + ``up``.

This module is where kubekit meets kubesim (DESIGN.md: only ``kubekit.sandbox``
may import it) and moto's in-process backends.
"""

from __future__ import annotations

import base64
import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from .ekstoken import EksTokenVerifier
from .mcs import ClusterSetDNS

if TYPE_CHECKING:
    from kubesim.cluster import Cluster
    from kubesim.controllers.cloudnode import InstanceMetadata

log = logging.getLogger("kubekit.sandbox.cloud")


def preload() -> None:
    """Import what a kubesim cluster needs (about half a second of CPU), and parse the EC2 model.

    The daemon calls it on a thread once it is ready with nothing to restore, so the import
    overlaps with the client's plan and apply instead of delaying the first cluster.
    """
    from kubesim.cluster import CONTROLLERS, HANDLERS, KUBELET, _load
    from kubesim.controllers.cloudnode import InstanceMetadata  # noqa: F401
    from kubesim.runtime.dns import ensure_cluster_dns  # noqa: F401

    for specs in (CONTROLLERS, HANDLERS, KUBELET):
        _load(specs)
    # The EC2 model (0.2-0.3 s to parse) for the node groups' instances: into boto3's default session
    # now, while the client plans, not when the first node group is waiting for its instances.
    boto3.client("ec2", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                 aws_access_key_id="preload", aws_secret_access_key="preload")

PERIOD = 0.2
SUPPORTED_VERSIONS = ("1.29", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35")
NODEGROUP_TAG = "eks:nodegroup-name"
CLUSTER_TAG = "eks:cluster-name"
KUBEUP_TAG = "KubernetesCluster"
ROLE_TAG = "kubekit.io/role"
AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


def _moto_backends(service: str) -> list[tuple[str, str, Any]]:
    """(account, region, backend) for every backend moto has created so far."""
    from moto.backends import get_backend

    out = []
    for account, regions in list(get_backend(service).items()):  # type: ignore[attr-defined]
        for region, backend in list(regions.items()):
            out.append((account, region, backend))
    return out


def _tags(resource: Any) -> dict[str, str]:
    """An EC2 resource's tags, read from moto's tag table directly.

    ``get_tags()`` runs a filtered ``describe_tags`` that regex-matches every tag of the
    region; the sync loop asks for each instance's tags several times a period.
    """
    table = getattr(getattr(resource, "ec2_backend", None), "tags", None)
    if isinstance(table, dict):
        return dict(table.get(resource.id) or {})
    return {t["key"]: t["value"] for t in resource.get_tags()}


def _saved_port(state: Path) -> int:
    """The port a cluster's API server had before, if it is free: its endpoint survives a restart."""
    import json
    import socket

    try:
        port = int(json.loads((state / "server.json").read_text()).get("port", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return 0
    with socket.socket() as s:
        # As the API server binds (SO_REUSEADDR): the old port's connections in TIME_WAIT do not make it taken.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return 0
    return port


def _save_port(state: Path, port: int) -> None:
    import json

    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = state / "server.json.tmp"
    tmp.write_text(json.dumps({"port": port}))
    tmp.replace(state / "server.json")


def _version(text: str | None) -> str:
    """EKS version -> one kubesim emulates (nearest supported)."""
    if text in SUPPORTED_VERSIONS:
        return text  # type: ignore[return-value]
    try:
        minor = int(str(text).split(".")[1])
    except (IndexError, ValueError):
        return "1.33"
    return f"1.{min(35, max(29, minor))}"


@dataclass
class SimCluster:
    key: tuple[str, str]  # (region, name)
    kind: str  # eks | kube-up
    cluster: Cluster
    nodes: dict[str, str] = field(default_factory=dict)  # instance id -> node name
    gone: set[str] = field(default_factory=set)  # instances whose machine is gone for good


class Ec2Provider:
    """kubesim's cloud provider interface over moto's EC2 (in process, read only)."""

    def __init__(self, region: str) -> None:
        self.region = region

    def _instances(self) -> list[Any]:
        out = []
        for _, region, backend in _moto_backends("ec2"):
            if region == self.region:
                try:
                    out.extend(backend.all_instances())
                except RuntimeError:  # moto mutated the dict under us; next period
                    pass
        return out

    def _find(self, node_name: str, provider_id: str) -> Any:
        iid = provider_id.rsplit("/", 1)[-1] if provider_id else ""
        for inst in self._instances():
            if (iid and inst.id == iid) or (not iid and inst.private_dns_name == node_name):
                return inst
        return None

    def instance_metadata(self, node_name: str, provider_id: str) -> InstanceMetadata | None:
        inst = self._find(node_name, provider_id)
        if inst is None:
            return None
        zone = inst.placement.zone
        zone_id = ""
        try:
            for az in inst.ec2_backend.describe_availability_zones():
                if az.name == zone:
                    zone_id = az.zone_id
        except Exception:
            pass
        from kubesim.controllers.cloudnode import InstanceMetadata

        return InstanceMetadata(
            provider_id=f"aws:///{zone}/{inst.id}", instance_type=inst.instance_type, region=self.region,
            zone=zone, zone_id=zone_id, internal_ip=inst.private_ip or "", external_ip=inst.public_ip or "",
            internal_dns=inst.private_dns_name or node_name)

    def instance_state(self, provider_id: str) -> str:
        inst = self._find("", provider_id)
        return "missing" if inst is None else inst.state


class Cloud:
    def __init__(self, home: Path, endpoint: str, *, profile: str = "fast",
                 workloads: dict[str, str] | None = None) -> None:
        self.home = home
        self.endpoint = endpoint
        self.profile = profile
        self.workloads = dict(workloads or {})
        self.sims: dict[tuple[str, str], SimCluster] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.RLock()
        self.errors: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self.sync()
        self._thread = threading.Thread(target=self._run, name="kubekit-cloud", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """AWS state changed (moto answered a request that changes something): sync now, not at the next tick."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        with self._lock:
            for sim in self.sims.values():
                sim.cluster.stop()
            self.sims.clear()

    def _run(self) -> None:
        while True:
            self._wake.wait(PERIOD)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.sync()
            except Exception as exc:  # keep the cloud running; report once
                msg = f"{type(exc).__name__}: {exc}"
                if msg not in self.errors:
                    self.errors.append(msg)
                    log.exception("cloud sync failed")

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = boto3.client(
                service, region_name=region, endpoint_url=self.endpoint,
                aws_access_key_id="kubekit-sandbox", aws_secret_access_key="kubekit-sandbox",
                config=Config(retries={"max_attempts": 2}))
        return self._clients[key]

    # -- reconcile ---------------------------------------------------------------------------
    def sync(self) -> None:
        with self._lock:
            wanted: dict[tuple[str, str], tuple[str, Any]] = {}
            for _, region, eks in _moto_backends("eks"):
                for name, record in list(eks.clusters.items()):
                    wanted[(region, name)] = ("eks", record)
            for key, master in self._kubeup_masters().items():
                wanted.setdefault(key, ("kube-up", master))
            for key in list(self.sims):
                if key not in wanted:
                    self._remove(key)
            for key, (kind, record) in wanted.items():
                sim = self.sims.get(key) or self._create(key, kind, record)
                if sim is None:
                    continue
                if kind == "eks":
                    self._publish_endpoint(sim, record)
                    self._sync_nodegroups(sim, record)
                self._sync_instances(sim)
            self._write_status()

    def _cluster_zones(self, region: str, record: Any) -> list[str]:
        subnet_ids = (getattr(record, "resources_vpc_config", None) or {}).get("subnetIds") or []
        zones = []
        for _, r, ec2 in _moto_backends("ec2"):
            if r != region:
                continue
            for sid in subnet_ids:
                try:
                    zones.append(ec2.get_subnet(sid).availability_zone)
                except Exception:
                    pass
        return sorted(set(zones))

    def _create(self, key: tuple[str, str], kind: str, record: Any) -> SimCluster | None:
        region, name = key
        if kind == "kube-up" and record.state != "running":
            return None
        version = _version(getattr(record, "version", None) if kind == "eks" else "1.33")
        state = self.home / "clusters" / region / name
        try:
            cluster = self._start_cluster(region, name, state, version, _saved_port(state))
        except OSError:  # the saved port was taken meanwhile: any port (`up` rewrites the kubeconfigs)
            cluster = self._start_cluster(region, name, state, version, 0)
        _save_port(state, cluster.server.port)
        sim = SimCluster(key, kind, cluster)
        for node in cluster.store.list("nodes")[0]:
            pid = (node.obj().get("spec") or {}).get("providerID", "")
            if pid:
                sim.nodes[pid.rsplit("/", 1)[-1]] = node.name
        self.sims[key] = sim
        log.info("cluster %s/%s (%s) serving at %s", region, name, kind, cluster.url)
        if kind == "kube-up":
            self._write_kubeup_record(sim)
        return sim

    def _start_cluster(self, region: str, name: str, state: Path, version: str, port: int) -> Cluster:
        from kubesim.cluster import Cluster
        from kubesim.runtime.dns import ensure_cluster_dns

        cluster = Cluster(name, state_dir=str(state), zones=[], nodes_per_zone=0, k8s_version=version,
                          profile=self.profile, workloads=self.workloads, port=port)
        cluster.ctx.extra["cloud"] = Ec2Provider(region)
        ensure_cluster_dns(cluster.ctx.extra, cluster.api).append(ClusterSetDNS(self._all_clusters))
        cluster.server.token_checks.append(EksTokenVerifier(self.endpoint, name))
        self._power_state_before_start(region, cluster)
        try:
            cluster.start()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _power_state_before_start(self, region: str, cluster: Cluster) -> None:
        """Nodes of a restarted cluster whose instances are off stay off: no kubelet boots there, even briefly."""
        states = {inst.id: inst.state for inst in self._instances(region)}
        for node in cluster.store.list("nodes")[0]:
            pid = (node.obj().get("spec") or {}).get("providerID", "")
            if states.get(pid.rsplit("/", 1)[-1], "running") not in ("pending", "running"):
                cluster.faults.set_kubelet(node.name, False)

    def _all_clusters(self) -> list[tuple[str, Cluster]]:
        """(name, cluster) of every running cluster: what the clusterset DNS looks through."""
        items = list(self.sims.items())  # one step under the GIL: safe from other threads
        return [(k[1], sim.cluster) for k, sim in sorted(items, key=lambda kv: kv[0])]

    def find(self, name: str, region: str | None = None) -> SimCluster:
        """The running cluster of that name (in ``region`` if given); KeyError if none or ambiguous."""
        with self._lock:
            found = [sim for k, sim in self.sims.items() if k[1] == name and region in (None, k[0])]
        if len(found) != 1:
            where = f" in {region}" if region else ""
            raise KeyError(f"no sandbox cluster named {name!r}{where}" if not found else
                           f"several clusters named {name!r}: give the region")
        return found[0]

    def set_reachable(self, name: str, reachable: bool, *, mode: str = "timeout",
                      region: str | None = None) -> dict[str, Any]:
        """Make a cluster's API server unreachable (a lost cluster) or reachable again."""
        sim = self.find(name, region)
        sim.cluster.server.set_available(reachable, mode)
        log.info("cluster %s/%s %s", sim.key[0], sim.key[1], "reachable" if reachable else f"unreachable ({mode})")
        with self._lock:
            self._write_status()
        return {"region": sim.key[0], "name": sim.key[1], "reachable": sim.cluster.server.available}

    def _remove(self, key: tuple[str, str]) -> None:
        sim = self.sims.pop(key)
        sim.cluster.stop()
        shutil.rmtree(self.home / "clusters" / key[0] / key[1], ignore_errors=True)
        log.info("cluster %s/%s deleted", *key)

    def _publish_endpoint(self, sim: SimCluster, record: Any) -> None:
        ca = base64.b64encode(sim.cluster.creds.ca_pem).decode()
        if record.endpoint != sim.cluster.url or record.certificate_authority.get("data") != ca:
            record.endpoint = sim.cluster.url
            record.certificate_authority = {"data": ca}

    # -- node groups -> instances -------------------------------------------------------------
    def _instances(self, region: str) -> list[Any]:
        out = []
        for _, r, ec2 in _moto_backends("ec2"):
            if r == region:
                try:
                    out.extend(ec2.all_instances())
                except RuntimeError:
                    pass
        return out

    def _sync_nodegroups(self, sim: SimCluster, record: Any) -> None:
        region, name = sim.key
        instances = self._instances(region)
        for ng_name, ng in list(record.nodegroups.items()):
            mine = [i for i in instances if _tags(i).get(NODEGROUP_TAG) == ng_name
                    and _tags(i).get(CLUSTER_TAG) == name]
            alive = [i for i in mine if i.state not in ("shutting-down", "terminated")]
            desired = int((ng.scaling_config or {}).get("desiredSize", 0))
            if len(alive) < desired:
                self._launch(region, name, ng, alive, desired - len(alive))
            elif len(alive) > desired:
                extra = sorted(alive, key=lambda i: i.launch_time, reverse=True)[: len(alive) - desired]
                self.client("ec2", region).terminate_instances(InstanceIds=[i.id for i in extra])
        # Instances of node groups that no longer exist are terminated, as EKS deletes their ASG.
        groups = set(record.nodegroups)
        orphans = [i.id for i in instances if _tags(i).get(CLUSTER_TAG) == name
                   and _tags(i).get(NODEGROUP_TAG) not in groups
                   and i.state not in ("shutting-down", "terminated")]
        if orphans:
            self.client("ec2", region).terminate_instances(InstanceIds=orphans)

    def _ami(self, region: str) -> str:
        ssm = self.client("ssm", region)
        return ssm.get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]

    def _launch(self, region: str, cluster: str, ng: Any, alive: list[Any], count: int) -> None:
        ec2 = self.client("ec2", region)
        subnets = list(ng.subnets or [])
        if not subnets:
            return
        per_subnet = {s: 0 for s in subnets}
        for i in alive:
            if i.subnet_id in per_subnet:
                per_subnet[i.subnet_id] += 1
        itype = (ng.instance_types or ["m5.large"])[0]
        ami = self._ami(region)
        for _ in range(count):
            subnet = min(subnets, key=lambda s: (per_subnet[s], subnets.index(s)))
            per_subnet[subnet] += 1
            tags = [{"Key": CLUSTER_TAG, "Value": cluster}, {"Key": NODEGROUP_TAG, "Value": ng.nodegroup_name},
                    {"Key": f"kubernetes.io/cluster/{cluster}", "Value": "owned"},
                    {"Key": "Name", "Value": f"{cluster}-{ng.nodegroup_name}-Node"}]
            for k, v in (ng.tags or {}).items():
                tags.append({"Key": k, "Value": v})
            ec2.run_instances(ImageId=ami, InstanceType=itype, MinCount=1, MaxCount=1, SubnetId=subnet,
                              TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])

    # -- instances -> nodes -------------------------------------------------------------------
    def _members(self, sim: SimCluster) -> list[Any]:
        region, name = sim.key
        out = []
        for inst in self._instances(region):
            tags = _tags(inst)
            if sim.kind == "eks" and tags.get(CLUSTER_TAG) == name:
                out.append(inst)
            elif sim.kind == "kube-up" and tags.get(KUBEUP_TAG) == name and tags.get(ROLE_TAG) != "master":
                out.append(inst)
        return out

    def _sync_instances(self, sim: SimCluster) -> None:
        cluster = sim.cluster
        for inst in self._members(sim):
            node = sim.nodes.get(inst.id)
            state = inst.state
            if state in ("pending", "running"):
                if node is None and inst.id not in sim.gone:
                    node = self._register(sim, inst)
                if node is not None and not cluster.faults.kubelet_running(node):
                    cluster.faults.set_kubelet(node, True)  # powered on again: the kubelet boots
            elif state in ("stopping", "stopped"):
                if node is not None and cluster.faults.kubelet_running(node):
                    cluster.faults.set_kubelet(node, False)
            elif state in ("shutting-down", "terminated"):
                if node is not None and inst.id not in sim.gone:
                    cluster.faults.set_kubelet(node, False)
                    cluster.remove_node_agent(node)
                sim.gone.add(inst.id)

    def _register(self, sim: SimCluster, inst: Any) -> str:
        """What the kubelet does on first boot: register the Node, not yet initialised by the cloud."""
        tags = _tags(inst)
        node_name = inst.private_dns_name
        zone = inst.placement.zone
        labels = {"eks.amazonaws.com/capacityType": "ON_DEMAND"}
        if tags.get(NODEGROUP_TAG):
            labels["eks.amazonaws.com/nodegroup"] = tags[NODEGROUP_TAG]
            labels["eks.amazonaws.com/nodegroup-image"] = inst.image_id
            labels.update(self._nodegroup_labels(sim, tags[NODEGROUP_TAG]))
        if sim.kind == "kube-up":
            labels = {"kubernetes.io/role": "node"}
        from kubesim.cluster import NodeSpec
        from kubesim.controllers.cloudnode import UNINITIALIZED

        taints = [{"key": UNINITIALIZED, "value": "true", "effect": "NoSchedule"}]
        taints += self._nodegroup_taints(sim, tags.get(NODEGROUP_TAG))
        spec = NodeSpec(name=node_name, zone=zone, region=sim.key[0], instance_type=inst.instance_type,
                        labels=labels, provider_id="", internal_ip=inst.private_ip or "",
                        pod_cidr=self._pod_cidr(sim, inst), taints=taints, cloud_initialized=False)
        sim.cluster.register_node(spec)
        sim.nodes[inst.id] = node_name
        return node_name

    def _pod_cidr(self, sim: SimCluster, inst: Any) -> str:
        """A free /24 in the upper half of the instance's subnet (pods on VPC addresses, as the VPC CNI)."""
        import ipaddress

        used = set()
        for node in sim.cluster.store.list("nodes")[0]:
            used.update((node.obj().get("spec") or {}).get("podCIDRs") or [])
        try:
            subnet = ipaddress.ip_network(inst.ec2_backend.get_subnet(inst.subnet_id).cidr_block)
        except Exception:
            subnet = None
        if subnet is not None and subnet.prefixlen <= 23:
            upper = list(subnet.subnets(prefixlen_diff=1))[1]
            for net in upper.subnets(new_prefix=24):
                if str(net) not in used:
                    return str(net)
        index = len(sim.nodes)
        return f"10.244.{index % 256}.0/24"

    def _nodegroup(self, sim: SimCluster, ng_name: str | None) -> Any:
        for _, region, eks in _moto_backends("eks"):
            if region == sim.key[0] and sim.key[1] in eks.clusters:
                return eks.clusters[sim.key[1]].nodegroups.get(ng_name or "")
        return None

    def _nodegroup_labels(self, sim: SimCluster, ng_name: str) -> dict[str, str]:
        ng = self._nodegroup(sim, ng_name)
        return dict(getattr(ng, "labels", None) or {})

    def _nodegroup_taints(self, sim: SimCluster, ng_name: str | None) -> list[dict[str, str]]:
        ng = self._nodegroup(sim, ng_name)
        effects = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
        out = []
        for t in getattr(ng, "taints", None) or []:
            out.append({"key": t.get("key", ""), "value": t.get("value", ""),
                        "effect": effects.get(t.get("effect", ""), t.get("effect", ""))})
        return out

    # -- kube-up ------------------------------------------------------------------------------
    def _kubeup_masters(self) -> dict[tuple[str, str], Any]:
        out = {}
        for _, region, ec2 in _moto_backends("ec2"):
            try:
                instances = ec2.all_instances()
            except RuntimeError:
                continue
            for inst in instances:
                tags = _tags(inst)
                if tags.get(KUBEUP_TAG) and tags.get(ROLE_TAG) == "master" and inst.state not in (
                        "shutting-down", "terminated"):
                    out[(region, tags[KUBEUP_TAG])] = inst
        return out

    def _write_kubeup_record(self, sim: SimCluster) -> None:
        """kube-up.sh wrote the master's address and credentials for kubectl; this is that file."""
        import json

        region, name = sim.key
        path = self.home / "kube-up" / region / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = {"server": sim.cluster.url, "ca": base64.b64encode(sim.cluster.creds.ca_pem).decode(),
                "token": sim.cluster.creds.token}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.chmod(0o600)
        tmp.replace(path)

    def _write_status(self) -> None:
        """``clusters.json`` for ``kubekit sandbox status`` (written only when it changes)."""
        import json

        text = json.dumps(self.describe(), indent=2)
        path = self.home / "clusters.json"
        if getattr(self, "_status_text", None) != text:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(path)
            self._status_text = text

    # -- views for status ---------------------------------------------------------------------
    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"region": k[0], "name": k[1], "kind": s.kind, "url": s.cluster.url,
                     "nodes": len(s.nodes) - len(s.gone & set(s.nodes)),
                     "reachable": s.cluster.server.available} for k, s in sorted(self.sims.items())]


def wait_until(pred: Any, timeout: float, interval: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(interval)
    return pred()
