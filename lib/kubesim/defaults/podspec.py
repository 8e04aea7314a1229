"""Pod spec defaulting (scheme defaulters) and the pod admission plugins that mutate.

Follows ``pkg/apis/core/v1/defaults.go`` (``SetDefaults_PodSpec``, ``SetDefaults_Pod``,
``SetDefaults_Container``, ``SetDefaults_Probe``, volume source defaults) as wired by
``zz_generated.defaults.go``; the admission parts follow
``plugin/pkg/admission/serviceaccount/admission.go``,
``plugin/pkg/admission/defaulttolerationseconds/admission.go`` and
``plugin/pkg/admission/priority/admission.go``.
"""

from __future__ import annotations

import random
import re
from typing import Any

from .quantity import canonical_list

Obj = dict[str, Any]

# utilrand.String's alphabet (no vowels, no confusable digits): apimachinery util/rand.
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_rng = random.Random()

SA_VOLUME_PREFIX = "kube-api-access-"
SA_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
# serviceaccount.WarnOnlyBoundTokenExpirationSeconds (1h + 7s).
SA_TOKEN_EXPIRATION = 3607

VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
    "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
    "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
    "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image",
)

# A docker reference, loosely (distribution/reference): lower-case repository path,
# optional tag, optional digest. Anything else fails ParseImageName.
_IMAGE_RE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::([\w][\w.-]{0,127}))?(?:@[a-z0-9]+:[a-fA-F0-9]{32,})?$")


def set_rng(rng: random.Random) -> None:
    """Use this RNG for generated suffixes (tests pass a seeded one)."""
    global _rng
    _rng = rng


def random_suffix(n: int = 5, rng: random.Random | None = None) -> str:
    r = rng or _rng
    return "".join(r.choice(NAME_ALPHABET) for _ in range(n))


def image_tag(image: str) -> str:
    """The tag ParseImageName reports: "latest" when neither tag nor digest, "" when unparsable."""
    m = _IMAGE_RE.match(image or "")
    if not m:
        return ""
    if m.group(1):
        return m.group(1)
    return "" if "@" in image else "latest"


def _probe(p: Any) -> None:
    if not isinstance(p, dict):
        return
    # SetDefaults_Probe: zero means unset for these int32 fields.
    for k, v in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)):
        if not p.get(k):
            p[k] = v
    _http_get(p.get("httpGet"))
    grpc = p.get("grpc")
    if isinstance(grpc, dict) and grpc.get("service") is None:
        grpc["service"] = ""


def _http_get(h: Any) -> None:
    if isinstance(h, dict):
        if not h.get("path"):
            h["path"] = "/"
        if not h.get("scheme"):
            h["scheme"] = "HTTP"


def _field_ref(env_source: Any) -> None:
    if isinstance(env_source, dict):
        ref = env_source.get("fieldRef")
        if isinstance(ref, dict) and not ref.get("apiVersion"):
            ref["apiVersion"] = "v1"


def _container(c: Any) -> None:
    if not isinstance(c, dict):
        return
    # SetDefaults_Container
    if not c.get("imagePullPolicy"):
        c["imagePullPolicy"] = "Always" if image_tag(c.get("image") or "") == "latest" else "IfNotPresent"
    if not c.get("terminationMessagePath"):
        c["terminationMessagePath"] = "/dev/termination-log"
    if not c.get("terminationMessagePolicy"):
        c["terminationMessagePolicy"] = "File"
    for port in c.get("ports") or []:
        if isinstance(port, dict) and not port.get("protocol"):
            port["protocol"] = "TCP"
    for env in c.get("env") or []:
        if isinstance(env, dict):
            _field_ref(env.get("valueFrom"))
    res = c.get("resources")
    if not isinstance(res, dict):
        res = c["resources"] = {}  # a struct: always serialized, `resources: {}`
    canonical_list(res.get("limits"))
    canonical_list(res.get("requests"))
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(c.get(probe))
    lc = c.get("lifecycle")
    if isinstance(lc, dict):
        for hook in ("postStart", "preStop"):
            if isinstance(lc.get(hook), dict):
                _http_get(lc[hook].get("httpGet"))


def _volume(v: Any) -> None:
    if not isinstance(v, dict):
        return
    if not any(k in v for k in VOLUME_SOURCES):
        v["emptyDir"] = {}
    hp = v.get("hostPath")
    if isinstance(hp, dict) and hp.get("type") is None:
        hp["type"] = ""
    for src in ("secret", "configMap", "downwardAPI", "projected"):
        s = v.get(src)
        if isinstance(s, dict) and s.get("defaultMode") is None:
            s["defaultMode"] = 420  # 0644
    da = v.get("downwardAPI")
    if isinstance(da, dict):
        for item in da.get("items") or []:
            _field_ref(item)
    pj = v.get("projected")
    if isinstance(pj, dict):
        for s in pj.get("sources") or []:
            if not isinstance(s, dict):
                continue
            if isinstance(s.get("downwardAPI"), dict):
                for item in s["downwardAPI"].get("items") or []:
                    _field_ref(item)
            tok = s.get("serviceAccountToken")
            if isinstance(tok, dict) and tok.get("expirationSeconds") is None:
                tok["expirationSeconds"] = 3600
    iscsi = v.get("iscsi")
    if isinstance(iscsi, dict) and not iscsi.get("iscsiInterface"):
        iscsi["iscsiInterface"] = "default"
    rbd = v.get("rbd")
    if isinstance(rbd, dict):
        for k, d in (("pool", "rbd"), ("user", "admin"), ("keyring", "/etc/ceph/keyring")):
            if not rbd.get(k):
                rbd[k] = d
    az = v.get("azureDisk")
    if isinstance(az, dict):
        for k, d in (("cachingMode", "ReadWrite"), ("fsType", "ext4"), ("readOnly", False), ("kind", "Shared")):
            if az.get(k) is None:
                az[k] = d
    sio = v.get("scaleIO")
    if isinstance(sio, dict):
        for k, d in (("storageMode", "ThinProvisioned"), ("fsType", "xfs")):
            if not sio.get(k):
                sio[k] = d
    eph = v.get("ephemeral")
    if isinstance(eph, dict) and isinstance(eph.get("volumeClaimTemplate"), dict):
        tmpl = eph["volumeClaimTemplate"]
        pvc_spec(tmpl.setdefault("spec", {}))


def pvc_spec(spec: Obj) -> None:
    """SetDefaults_PersistentVolumeClaimSpec plus its resource lists."""
    if not spec.get("volumeMode"):
        spec["volumeMode"] = "Filesystem"
    res = spec.get("resources")
    if isinstance(res, dict):
        canonical_list(res.get("limits"))
        canonical_list(res.get("requests"))


def pod_spec(spec: Obj, *, is_pod: bool) -> None:
    """SetDefaults_PodSpec (pods and templates) plus SetDefaults_Pod (pods only)."""
    if is_pod:
        # Requests default to limits, per container (SetDefaults_Pod).
        for key in ("containers", "initContainers"):
            for c in spec.get(key) or []:
                res = c.get("resources") if isinstance(c, dict) else None
                if isinstance(res, dict) and isinstance(res.get("limits"), dict):
                    req = res.setdefault("requests", {})
                    if isinstance(req, dict):
                        for name, q in res["limits"].items():
                            req.setdefault(name, q)
        if spec.get("enableServiceLinks") is None:
            spec["enableServiceLinks"] = True
        if spec.get("hostNetwork"):
            for key in ("containers", "initContainers"):
                for c in spec.get(key) or []:
                    for p in (c.get("ports") or []) if isinstance(c, dict) else []:
                        if isinstance(p, dict) and not p.get("hostPort"):
                            p["hostPort"] = p.get("containerPort")
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    if not spec.get("schedulerName"):
        spec["schedulerName"] = "default-scheduler"
    # v1 <-> internal conversion mirrors the deprecated serviceAccount field.
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    else:
        spec.pop("serviceAccount", None)
    for v in spec.get("volumes") or []:
        _volume(v)
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            _container(c)
    canonical_list(spec.get("overhead"))
    if isinstance(spec.get("resources"), dict):
        canonical_list(spec["resources"].get("limits"))
        canonical_list(spec["resources"].get("requests"))


def template(tmpl: Any, k8s_version: tuple[int, int]) -> None:
    """Defaults for a PodTemplateSpec inside a workload (no pod-only or admission defaults)."""
    if not isinstance(tmpl, dict):
        return
    meta = tmpl.get("metadata")
    if not isinstance(meta, dict):
        meta = tmpl["metadata"] = {}
    object_meta_zero(meta, k8s_version)
    spec = tmpl.get("spec")
    if not isinstance(spec, dict):
        spec = tmpl["spec"] = {}
    pod_spec(spec, is_pod=False)


def object_meta_zero(meta: Obj, k8s_version: tuple[int, int]) -> None:
    """An embedded ObjectMeta serializes ``creationTimestamp: null`` until 1.34 (k/k PR #130989)."""
    if k8s_version < (1, 34):
        meta.setdefault("creationTimestamp", None)
    elif meta.get("creationTimestamp", 0) is None:
        del meta["creationTimestamp"]


# -- admission -----------------------------------------------------------------------

def default_tolerations(spec: Obj, seconds: int) -> None:
    """DefaultTolerationSeconds: tolerate not-ready/unreachable NoExecute for ``seconds``."""
    tols = spec.get("tolerations")
    if not isinstance(tols, list):
        tols = []
    not_ready = unreachable = False
    for t in tols:
        if not isinstance(t, dict):
            continue
        key, effect = t.get("key") or "", t.get("effect") or ""
        if key in ("node.kubernetes.io/not-ready", "") and effect in ("NoExecute", ""):
            not_ready = True
        if key in ("node.kubernetes.io/unreachable", "") and effect in ("NoExecute", ""):
            unreachable = True
    if not not_ready:
        tols.append({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                     "tolerationSeconds": seconds})
    if not unreachable:
        tols.append({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                     "tolerationSeconds": seconds})
    spec["tolerations"] = tols


_SYSTEM_PRIORITIES = {"system-cluster-critical": 2000000000, "system-node-critical": 2000001000}


def default_priority(spec: Obj) -> None:
    """Priority admission with no global default class: priority 0, PreemptLowerPriority."""
    cls = spec.get("priorityClassName") or ""
    if spec.get("priority") is None:
        spec["priority"] = _SYSTEM_PRIORITIES.get(cls, 0)
    if spec.get("preemptionPolicy") is None:
        spec["preemptionPolicy"] = "PreemptLowerPriority"


def service_account(spec: Obj, *, automount: bool | None, rng: random.Random | None) -> None:
    """ServiceAccount admission: default SA name and the projected token volume + mounts."""
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = "default"
    spec["serviceAccount"] = spec["serviceAccountName"]
    if spec.get("automountServiceAccountToken") is False:
        return
    if spec.get("automountServiceAccountToken") is None and automount is False:
        return
    volumes = spec.get("volumes")
    if not isinstance(volumes, list):
        volumes = []
    name = ""
    for v in volumes:
        if isinstance(v, dict) and str(v.get("name", "")).startswith(SA_VOLUME_PREFIX):
            name = v["name"]
            break
    has_volume = bool(name)
    if not name:
        name = SA_VOLUME_PREFIX + random_suffix(5, rng)
    needs = False
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            if not isinstance(c, dict):
                continue
            mounts = c.get("volumeMounts")
            if not isinstance(mounts, list):
                mounts = []
            if any(isinstance(m, dict) and m.get("mountPath") == SA_MOUNT_PATH for m in mounts):
                continue
            mounts.append({"name": name, "readOnly": True, "mountPath": SA_MOUNT_PATH})
            c["volumeMounts"] = mounts
            needs = True
    if needs and not has_volume:
        volumes.append({"name": name, "projected": {
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": SA_TOKEN_EXPIRATION, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                    "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
            "defaultMode": 420,
        }})
        spec["volumes"] = volumes
