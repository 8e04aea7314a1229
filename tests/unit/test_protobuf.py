"""kubesim.server.protobuf: Kubernetes protobuf request bodies → JSON-shaped dicts.

The strongest check is real kubectl: its typed commands send protobuf bodies.
A capture server (``kubectl_capture.py``) records them, and every decoded body
must equal what the same command prints with ``--dry-run=client -o json`` (the
Go JSON encoding of the very same object). No normalisation is applied: kubectl's
JSON printer writes the object as Go's ``encoding/json`` does (``"status": {}``,
``"resources": {}`` …), which is exactly the form the decoder promises.

Hand-built bodies cover what kubectl never sends as protobuf (StatefulSet,
Eviction, full ObjectMeta), the wire-level corner cases (negative varints,
packed repeated fields, unknown fields) and the error paths.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from kubesim.errors import BadRequest, UnsupportedMedia
from kubesim.server import protobuf as P
from kubesim.server.protobuf_messages import KINDS, MESSAGES

from kubectl_capture import KUBECTL, CaptureServer

PROTOBUF = "application/vnd.kubernetes.protobuf"


# -- a minimal protobuf encoder for hand-built bodies ---------------------------------------------------
# Field numbers are written out by hand from the k8s.io/api and apimachinery generated.proto files
# (cited at each use), independently of the generated tables the decoder uses.


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(num: int, n: int) -> bytes:
    return varint(num << 3) + varint(n)


def f_bytes(num: int, data: bytes) -> bytes:
    return varint(num << 3 | 2) + varint(len(data)) + data


def f_str(num: int, s: str) -> bytes:
    return f_bytes(num, s.encode())


def f_msg(num: int, *parts: bytes) -> bytes:
    return f_bytes(num, b"".join(parts))


def f_map(num: int, items: dict[str, bytes | str]) -> bytes:
    out = b""
    for k, v in items.items():
        out += f_msg(num, f_str(1, k), f_str(2, v) if isinstance(v, str) else f_bytes(2, v))
    return out


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    """k8s\\0 + runtime.Unknown{typeMeta{apiVersion=1, kind=2}=1, raw=2} (apimachinery pkg/runtime/generated.proto)."""
    return P.MAGIC + f_msg(1, f_str(1, api_version), f_str(2, kind)) + f_bytes(2, raw)


def quantity(num: int, s: str) -> bytes:
    return f_msg(num, f_str(1, s))  # resource.Quantity {string = 1}


def meta(name: str, namespace: str = "") -> bytes:
    """meta.v1.ObjectMeta {name = 1, namespace = 3}."""
    return f_msg(1, f_str(1, name), *([f_str(3, namespace)] if namespace else []))


# -- real kubectl -----------------------------------------------------------------------------------------


def _decode(ctype: str, body: bytes) -> dict[str, Any]:
    if ctype == PROTOBUF:
        return P.decode_request(body)
    return json.loads(body)


needs_kubectl = pytest.mark.skipif(not KUBECTL.exists(), reason=f"no kubectl at {KUBECTL}")


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("kubectl-capture")
    (work / "blob.bin").write_bytes(bytes(range(256)))
    (work / "app.conf").write_text("listen 80;\n")
    with CaptureServer(_decode, work) as srv:
        yield srv


# A CronJob served to ``kubectl create job --from=cronjob/nightly``: kubectl reads it into its Go types,
# copies the job template into a new Job and POSTs that as protobuf, so this template exercises the
# whole PodSpec graph (probes, volumes, affinity, security contexts, env sources …).
RICH_POD_SPEC: dict[str, Any] = {
    "initContainers": [{"name": "init", "image": "busybox", "command": ["sh", "-c", "true"]}],
    "containers": [{
        "name": "app",
        "image": "registry.example/app:1.2",
        "command": ["/app"],
        "args": ["--port=8080", "--verbose"],
        "workingDir": "/srv",
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                  {"containerPort": 9090, "hostPort": 19090, "hostIP": "0.0.0.0", "protocol": "UDP"}],
        "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "settings", "optional": True}},
                    {"secretRef": {"name": "creds"}}],
        "env": [
            {"name": "PLAIN", "value": "1"},
            {"name": "EMPTY"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode",
                                                                "optional": False}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"containerName": "app",
                                                                "resource": "limits.memory",
                                                                "divisor": "1Mi"}}},
        ],
        "resources": {"limits": {"cpu": "1", "memory": "512Mi"},
                      "requests": {"cpu": "250m", "memory": "128Mi", "ephemeral-storage": "1Gi"}},
        "volumeMounts": [{"name": "data", "mountPath": "/data"},
                         {"name": "cfg", "mountPath": "/etc/app", "readOnly": True, "subPath": "app.conf"},
                         {"name": "scratch", "mountPath": "/tmp", "mountPropagation": "None"}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP",
                                      "httpHeaders": [{"name": "X-Probe", "value": "1"}]},
                          "initialDelaySeconds": 5, "periodSeconds": 10, "failureThreshold": 3},
        "readinessProbe": {"tcpSocket": {"port": 8080}, "timeoutSeconds": 2, "successThreshold": 1},
        "startupProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "terminationGracePeriodSeconds": 7},
        "lifecycle": {"postStart": {"exec": {"command": ["echo", "hi"]}},
                      "preStop": {"sleep": {"seconds": 5}}},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
                            "privileged": False, "runAsUser": 1000, "runAsNonRoot": True,
                            "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "stdin": True,
        "tty": True,
    }, {
        "name": "grpc-sidecar",
        "image": "sidecar",
        "livenessProbe": {"grpc": {"port": 9000, "service": "health"}},
        "resources": {},
    }],
    "volumes": [
        {"name": "data", "persistentVolumeClaim": {"claimName": "data-claim", "readOnly": False}},
        {"name": "cfg", "configMap": {"name": "settings", "items": [{"key": "app.conf", "path": "app.conf",
                                                                     "mode": 420}],
                                      "defaultMode": 292, "optional": True}},
        {"name": "creds", "secret": {"secretName": "creds", "defaultMode": 256}},
        {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
        {"name": "empty", "emptyDir": {}},
        {"name": "host", "hostPath": {"path": "/var/log", "type": "Directory"}},
        {"name": "proj", "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"audience": "vault", "expirationSeconds": 3600, "path": "token"}},
            {"configMap": {"name": "settings", "items": [{"key": "a", "path": "a"}]}},
            {"secret": {"name": "creds"}},
            {"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        ]}},
        {"name": "dapi", "downwardAPI": {"items": [
            {"path": "cpu", "resourceFieldRef": {"containerName": "app", "resource": "requests.cpu",
                                                 "divisor": "1m"}}]}},
    ],
    "restartPolicy": "OnFailure",
    "terminationGracePeriodSeconds": 45,
    "activeDeadlineSeconds": 600,
    "dnsPolicy": "ClusterFirst",
    "nodeSelector": {"topology.kubernetes.io/zone": "us-east-1a", "kubernetes.io/os": "linux"},
    "serviceAccountName": "runner",
    "automountServiceAccountToken": False,
    "hostNetwork": False,
    "shareProcessNamespace": True,
    "securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000,
                        "supplementalGroups": [4000, 5000], "fsGroupChangePolicy": "OnRootMismatch",
                        "sysctls": [{"name": "net.core.somaxconn", "value": "1024"}],
                        "seLinuxOptions": {"level": "s0:c123,c456"}},
    "imagePullSecrets": [{"name": "regcred"}],
    "hostname": "runner",
    "subdomain": "jobs",
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In",
                                       "values": ["us-east-1a", "us-east-1b"]}]}]},
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "preference": {"matchExpressions": [
                    {"key": "node.kubernetes.io/instance-type", "operator": "NotIn", "values": ["t3.micro"]}]}}],
        },
        "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname",
             "namespaces": ["data"]}]},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {
                "labelSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
                "topologyKey": "topology.kubernetes.io/zone"}}]},
    },
    "schedulerName": "default-scheduler",
    "tolerations": [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
        {"key": "dedicated", "operator": "Equal", "value": "batch", "effect": "NoSchedule"},
    ],
    "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["db.local"]}],
    "priorityClassName": "batch-low",
    "priority": 0,
    "dnsConfig": {"nameservers": ["1.1.1.1"], "searches": ["svc.local"],
                  "options": [{"name": "ndots", "value": "2"}]},
    "enableServiceLinks": False,
    "topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
         "labelSelector": {"matchLabels": {"app": "nightly"}}, "minDomains": 2,
         "nodeAffinityPolicy": "Honor", "matchLabelKeys": ["pod-template-hash"]}],
}

NIGHTLY = {
    "apiVersion": "batch/v1", "kind": "CronJob",
    "metadata": {"name": "nightly", "namespace": "default", "uid": "0f9c3c0e-1111-4222-8333-444455556666",
                 "labels": {"app": "nightly"}, "annotations": {"team": "infra"}},
    "spec": {
        "schedule": "0 3 * * *", "concurrencyPolicy": "Forbid",
        "jobTemplate": {
            "metadata": {"labels": {"app": "nightly"}, "annotations": {"note": "copied"}},
            "spec": {
                "parallelism": 2, "completions": 4, "backoffLimit": 0, "activeDeadlineSeconds": 3600,
                "ttlSecondsAfterFinished": 86400, "completionMode": "Indexed", "suspend": False,
                "podFailurePolicy": {"rules": [
                    {"action": "FailJob", "onExitCodes": {"containerName": "app", "operator": "In",
                                                          "values": [42]}},
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]},
                "template": {"metadata": {"labels": {"app": "nightly"}}, "spec": RICH_POD_SPEC},
            },
        },
    },
}


# (test id, kubectl arguments, objects to seed on the capture server before running)
KUBECTL_CASES: list[tuple[str, list[str]]] = [
    ("configmap", ["create", "configmap", "cm1", "--from-literal=a=b", "--from-literal=empty="]),
    ("configmap-binary", ["create", "configmap", "cm2", "--from-file=blob.bin", "--from-file=app.conf"]),
    ("configmap-empty", ["create", "configmap", "cm3"]),
    ("secret-generic", ["create", "secret", "generic", "s1", "--from-literal=password=s3cr3t",
                        "--from-literal=user=admin", "--type=Opaque"]),
    ("secret-docker", ["create", "secret", "docker-registry", "s2", "--docker-server=r.example",
                       "--docker-username=u", "--docker-password=p", "--docker-email=u@example.com"]),
    ("namespace", ["create", "namespace", "team-a"]),
    ("serviceaccount", ["create", "serviceaccount", "runner"]),
    ("deployment", ["create", "deployment", "web", "--image=nginx", "--replicas=3", "--port=80"]),
    ("deployment-multi", ["create", "deployment", "multi", "--image=nginx", "--image=busybox:1.36"]),
    ("deployment-command", ["create", "deployment", "sleeper", "--image=busybox", "--", "sleep", "3600"]),
    ("job", ["create", "job", "once", "--image=busybox", "--", "echo", "hi"]),
    ("cronjob", ["create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *", "--restart=OnFailure",
                 "--", "date"]),
    ("job-from-cronjob", ["create", "job", "nightly-manual", "--from=cronjob/nightly"]),
    ("service-clusterip", ["create", "service", "clusterip", "web", "--tcp=80:8080", "--tcp=443"]),
    ("service-headless", ["create", "service", "clusterip", "peers", "--clusterip=None"]),
    ("service-nodeport", ["create", "service", "nodeport", "np", "--tcp=8080:80", "--node-port=30080"]),
    ("service-lb", ["create", "service", "loadbalancer", "lb", "--tcp=443:8443"]),
    ("service-externalname", ["create", "service", "externalname", "ext", "--external-name=db.example.com"]),
    ("pdb-min", ["create", "poddisruptionbudget", "web-pdb", "--selector=app=web", "--min-available=2"]),
    ("pdb-max", ["create", "pdb", "db-pdb", "--selector=app=db,tier in (a,b)", "--max-unavailable=25%"]),
    ("role", ["create", "role", "reader", "--verb=get,list,watch", "--resource=pods,deployments.apps",
              "--resource-name=web"]),
    ("clusterrole", ["create", "clusterrole", "metrics", "--verb=get", "--non-resource-url=/metrics",
                     "--non-resource-url=/healthz"]),
    ("clusterrole-aggregate", ["create", "clusterrole", "agg", "--aggregation-rule=rbac.example.com/agg=true"]),
    ("rolebinding", ["create", "rolebinding", "read", "--role=reader", "--user=alice", "--group=devs",
                     "--serviceaccount=default:runner"]),
    ("clusterrolebinding", ["create", "clusterrolebinding", "admins", "--clusterrole=cluster-admin",
                            "--user=bob"]),
    ("quota", ["create", "quota", "q", "--hard=cpu=2,memory=1Gi,pods=10,requests.storage=100Gi",
               "--scopes=NotBestEffort"]),
]


def _one_write(srv: CaptureServer) -> Any:
    writes = srv.take()
    assert len(writes) == 1, [(w.method, w.path) for w in writes]
    return writes[0]


@needs_kubectl
@pytest.mark.parametrize("args", [c[1] for c in KUBECTL_CASES], ids=[c[0] for c in KUBECTL_CASES])
def test_kubectl_typed_create_bodies_decode_to_the_dry_run_json(capture: CaptureServer, args: list[str]) -> None:
    capture.seed("/apis/batch/v1/namespaces/default/cronjobs/nightly", NIGHTLY)
    # Relative --from-file paths resolve against the capture server's work directory.
    args = [a.replace("--from-file=", f"--from-file={capture.workdir}/") for a in args]
    # Flags go before a "--" (after it they would be the container's command).
    cut = args.index("--") if "--" in args else len(args)
    dry = [*args[:cut], "--dry-run=client", "-o", "json", *args[cut:]]
    expected = json.loads(capture.kubectl(*dry).stdout)
    capture.take()
    capture.kubectl(*args)
    w = _one_write(capture)
    assert w.method == "POST"
    assert w.content_type == PROTOBUF, "kubectl's typed create no longer sends protobuf?"
    assert w.body.startswith(P.MAGIC)
    assert not capture.errors, capture.errors
    assert P.decode_request(w.body) == expected


@needs_kubectl
def test_kubectl_job_from_cronjob_carries_the_whole_pod_spec(capture: CaptureServer) -> None:
    """The rich template really travelled (guards against a vacuous equality of two empty specs)."""
    capture.seed("/apis/batch/v1/namespaces/default/cronjobs/nightly", NIGHTLY)
    capture.take()
    capture.kubectl("create", "job", "nightly-2", "--from=cronjob/nightly")
    job = P.decode_request(_one_write(capture).body)
    spec = job["spec"]["template"]["spec"]
    app = spec["containers"][0]
    assert app["env"][5]["valueFrom"]["resourceFieldRef"]["divisor"] == "1Mi"
    assert app["env"][1] == {"name": "EMPTY"}
    assert app["livenessProbe"]["httpGet"]["port"] == "http"
    assert app["readinessProbe"]["tcpSocket"]["port"] == 8080
    assert app["resources"]["requests"] == {"cpu": "250m", "ephemeral-storage": "1Gi", "memory": "128Mi"}
    assert app["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}
    assert spec["volumes"][0] == {"name": "data", "persistentVolumeClaim": {"claimName": "data-claim"}}
    assert spec["volumes"][4] == {"name": "empty", "emptyDir": {}}
    assert spec["securityContext"]["supplementalGroups"] == [4000, 5000]
    assert spec["tolerations"][0]["tolerationSeconds"] == 300
    assert spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"] == 100
    assert spec["automountServiceAccountToken"] is False
    assert spec["priority"] == 0  # a pointer set to zero stays
    assert job["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == [42]
    assert job["metadata"]["ownerReferences"][0]["uid"] == NIGHTLY["metadata"]["uid"]
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"


@needs_kubectl
def test_kubectl_expose_and_token(capture: CaptureServer) -> None:
    capture.kubectl("create", "deployment", "api", "--image=nginx", "--port=8080")
    capture.take()
    expected = json.loads(capture.kubectl("expose", "deployment", "api", "--port=80", "--target-port=8080",
                                          "--name=api-svc", "--dry-run=client", "-o", "json").stdout)
    capture.kubectl("expose", "deployment", "api", "--port=80", "--target-port=8080", "--name=api-svc")
    w = _one_write(capture)
    assert w.path == "/api/v1/namespaces/default/services"
    assert _decode(w.content_type, w.body) == expected
    assert expected["spec"]["selector"] == {"app": "api"}

    capture.kubectl("create", "serviceaccount", "tok")
    capture.take()
    out = capture.kubectl("create", "token", "tok", "--duration=1h", "--audience=vault", "--audience=api",
                          "--bound-object-kind=Pod", "--bound-object-name=p1",
                          "--bound-object-uid=11111111-2222-3333-4444-555555555555")
    assert out.stdout.strip() == "captured-token"
    w = _one_write(capture)
    assert (w.path, w.content_type) == ("/api/v1/namespaces/default/serviceaccounts/tok/token", PROTOBUF)
    # What Go's JSON encoding of kubectl's TokenRequest gives (create token has no --dry-run):
    # ObjectMeta and the status struct are non-pointer structs, so they are present even when empty.
    assert P.decode_request(w.body) == {
        "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {},
        "spec": {"audiences": ["vault", "api"], "expirationSeconds": 3600,
                 "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p1",
                                    "uid": "11111111-2222-3333-4444-555555555555"}},
        "status": {"token": "", "expirationTimestamp": None},
    }


# -- hand-built bodies ---------------------------------------------------------------------------------------


def test_eviction_with_delete_options() -> None:
    # policy/v1 generated.proto: Eviction {metadata = 1, deleteOptions = 2};
    # meta/v1 generated.proto: DeleteOptions {gracePeriodSeconds = 1, preconditions = 2, orphanDependents = 3,
    #                                         propagationPolicy = 4, dryRun = 5}; Preconditions {uid = 1,
    #                                         resourceVersion = 2}
    raw = meta("web-0", "default") + f_msg(
        2,
        f_varint(1, 0),
        f_msg(2, f_str(1, "5f0c6c3a-uid"), f_str(2, "42")),
        f_str(4, "Foreground"),
        f_str(5, "All"),
    )
    assert P.decode_request(envelope("policy/v1", "Eviction", raw)) == {
        "kind": "Eviction", "apiVersion": "policy/v1",
        "metadata": {"name": "web-0", "namespace": "default"},
        # gracePeriodSeconds is a *int64: present on the wire, so kept even though it is 0.
        "deleteOptions": {"gracePeriodSeconds": 0,
                          "preconditions": {"uid": "5f0c6c3a-uid", "resourceVersion": "42"},
                          "propagationPolicy": "Foreground", "dryRun": ["All"]},
    }
    # No deleteOptions (a nil pointer) → absent.
    assert P.decode_request(envelope("policy/v1", "Eviction", meta("web-1"))) == {
        "kind": "Eviction", "apiVersion": "policy/v1", "metadata": {"name": "web-1"}}


def test_delete_options_body_in_any_served_group() -> None:
    raw = f_varint(1, 30) + f_varint(3, 1)
    assert P.decode_request(envelope("apps/v1", "DeleteOptions", raw)) == {
        "kind": "DeleteOptions", "apiVersion": "apps/v1", "gracePeriodSeconds": 30, "orphanDependents": True}


def test_statefulset_spec() -> None:
    # apps/v1 generated.proto: StatefulSet {metadata = 1, spec = 2}; StatefulSetSpec {replicas = 1,
    # selector = 2, template = 3, volumeClaimTemplates = 4, serviceName = 5, podManagementPolicy = 6,
    # updateStrategy = 7, revisionHistoryLimit = 8, minReadySeconds = 9,
    # persistentVolumeClaimRetentionPolicy = 10, ordinals = 11};
    # StatefulSetUpdateStrategy {type = 1, rollingUpdate = 2}; RollingUpdateStatefulSetStrategy {partition = 1,
    # maxUnavailable = 2}; StatefulSetPersistentVolumeClaimRetentionPolicy {whenDeleted = 1, whenScaled = 2};
    # StatefulSetOrdinals {start = 1}.
    # core/v1: PodTemplateSpec {metadata = 1, spec = 2}; PodSpec {containers = 2}; Container {name = 1, image = 2,
    # ports = 6, volumeMounts = 9}; ContainerPort {name = 1, containerPort = 3, protocol = 4};
    # VolumeMount {name = 1, mountPath = 3}; PersistentVolumeClaim {metadata = 1, spec = 2};
    # PersistentVolumeClaimSpec {accessModes = 1, resources = 2, storageClassName = 5};
    # VolumeResourceRequirements {requests = 2}; meta/v1 LabelSelector {matchLabels = 1}.
    labels = f_map(11, {"app": "web"})  # ObjectMeta.labels = 11
    container = f_msg(2, f_str(1, "web"), f_str(2, "nginx:1.27"),
                      f_msg(6, f_str(1, "http"), f_varint(3, 80), f_str(4, "TCP")),
                      f_msg(9, f_str(1, "www"), f_str(3, "/usr/share/nginx/html")))
    template = f_msg(3, f_msg(1, labels), f_msg(2, container))
    pvc = f_msg(4, f_msg(1, f_str(1, "www")),
                f_msg(2, f_str(1, "ReadWriteOnce"), f_msg(2, f_msg(2, f_str(1, "storage"), quantity(2, "1Gi"))),
                      f_str(5, "gp3")))
    spec = f_msg(
        2,
        f_varint(1, 3),
        f_msg(2, f_map(1, {"app": "web"})),
        template,
        pvc,
        f_str(5, "web"),
        f_str(6, "Parallel"),
        f_msg(7, f_str(1, "RollingUpdate"), f_msg(2, f_varint(1, 1), f_msg(2, f_varint(1, 1), f_str(3, "50%")))),
        f_varint(9, 0),
        f_msg(10, f_str(1, "Retain"), f_str(2, "Delete")),
        f_msg(11, f_varint(1, 5)),
    )
    got = P.decode_request(envelope("apps/v1", "StatefulSet", meta("web", "default") + spec))
    assert got == {
        "kind": "StatefulSet", "apiVersion": "apps/v1",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "web", "image": "nginx:1.27",
                    "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                    "resources": {},
                    "volumeMounts": [{"name": "www", "mountPath": "/usr/share/nginx/html"}],
                }]},
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "www"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                         "storageClassName": "gp3"},
                "status": {},
            }],
            "serviceName": "web",
            "podManagementPolicy": "Parallel",
            # maxUnavailable is an IntOrString whose type = 1 selects strVal.
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1, "maxUnavailable": "50%"}},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Delete"},
            "ordinals": {"start": 5},
        },
        # StatefulSetStatus is a non-pointer struct; replicas and availableReplicas have no omitempty.
        "status": {"replicas": 0, "availableReplicas": 0},
    }
    # minReadySeconds is omitempty: on the wire as 0, dropped from the JSON.
    assert "minReadySeconds" not in got["spec"]


def test_object_meta_all_fields() -> None:
    # meta/v1 generated.proto ObjectMeta: name 1, generateName 2, namespace 3, selfLink 4, uid 5, resourceVersion 6,
    # generation 7, creationTimestamp 8, deletionTimestamp 9, deletionGracePeriodSeconds 10, labels 11,
    # annotations 12, ownerReferences 13, finalizers 14, managedFields 17; Time {seconds 1, nanos 2};
    # OwnerReference {kind 1, name 3, uid 4, apiVersion 5, controller 6, blockOwnerDeletion 7};
    # ManagedFieldsEntry {manager 1, operation 2, apiVersion 3, time 4, fieldsType 6, fieldsV1 7, subresource 8};
    # FieldsV1 {Raw 1}.
    fields_json = b'{"f:data":{"f:a":{}}}'
    m = b"".join([
        f_str(1, "cfg"), f_str(2, "cfg-"), f_str(3, "prod"), f_str(5, "uid-1"), f_str(6, "1234"),
        f_varint(7, 7),
        f_msg(8, f_varint(1, 1767323045), f_varint(2, 999)),  # 2026-01-02T03:04:05Z; nanos are not kept
        f_msg(9, f_varint(1, 1767323105)),
        f_varint(10, 30),
        f_map(11, {"b": "2", "a": "1"}),
        f_map(12, {"note": ""}),
        f_msg(13, f_str(1, "StatefulSet"), f_str(3, "web"), f_str(4, "uid-0"), f_str(5, "apps/v1"),
              f_varint(6, 1), f_varint(7, 0)),
        f_str(14, "kubernetes.io/pvc-protection"), f_str(14, "example.com/x"),
        f_msg(17, f_str(1, "kubectl"), f_str(2, "Update"), f_str(3, "v1"), f_msg(4, f_varint(1, 1767323045)),
              f_str(6, "FieldsV1"), f_msg(7, f_bytes(1, fields_json))),
    ])
    got = P.decode_request(envelope("v1", "ConfigMap", f_msg(1, m) + f_map(2, {"a": "x"})))
    assert got == {
        "kind": "ConfigMap", "apiVersion": "v1",
        "metadata": {
            "name": "cfg", "generateName": "cfg-", "namespace": "prod", "uid": "uid-1", "resourceVersion": "1234",
            "generation": 7,
            "creationTimestamp": "2026-01-02T03:04:05Z",
            "deletionTimestamp": "2026-01-02T03:05:05Z",
            "deletionGracePeriodSeconds": 30,
            "labels": {"a": "1", "b": "2"},
            "annotations": {"note": ""},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "uid-0",
                                 "controller": True, "blockOwnerDeletion": False}],
            "finalizers": ["kubernetes.io/pvc-protection", "example.com/x"],
            "managedFields": [{"manager": "kubectl", "operation": "Update", "apiVersion": "v1",
                               "time": "2026-01-02T03:04:05Z", "fieldsType": "FieldsV1",
                               "fieldsV1": {"f:data": {"f:a": {}}}}],
        },
        "data": {"a": "x"},
    }
    assert list(got["metadata"]["labels"]) == ["a", "b"]  # map keys sorted, as Go's encoder does
    assert list(got) == ["kind", "apiVersion", "metadata", "data"]


def test_zero_values_follow_go_json_rules() -> None:
    # core/v1 Service {metadata 1, spec 2}; ServiceSpec {ports 1}; ServicePort {name 1, protocol 2, port 3,
    # targetPort 4, nodePort 5}; intstr.IntOrString {type 1, intVal 2, strVal 3}.
    port = f_msg(1, f_str(1, ""), f_str(2, "TCP"), f_varint(3, 0), f_msg(4, f_varint(1, 0), f_varint(2, 0)),
                 f_varint(5, 0))
    got = P.decode_request(envelope("v1", "Service", meta("s") + f_msg(2, port)))
    # port has no omitempty (kept as 0); name/nodePort do (dropped); targetPort is a struct (always present).
    assert got["spec"]["ports"] == [{"protocol": "TCP", "port": 0, "targetPort": 0}]
    # A non-pointer struct that is not on the wire at all is still rendered: status {} and its loadBalancer {}.
    assert got["status"] == {"loadBalancer": {}}

    # rbac/v1 Role {metadata 1, rules 2}; PolicyRule {verbs 1 (no omitempty), apiGroups 2, resources 3}.
    got = P.decode_request(envelope("rbac.authorization.k8s.io/v1", "Role", meta("r") + f_msg(2, f_str(3, "pods"))))
    assert got["rules"] == [{"verbs": None, "resources": ["pods"]}]  # a nil slice without omitempty is null


def test_negative_and_packed_integers() -> None:
    # core/v1 Pod {metadata 1, spec 2}; PodSpec {securityContext 14, activeDeadlineSeconds 5};
    # PodSecurityContext {runAsUser 2, supplementalGroups 4 (repeated int64)}; ObjectMeta.generation 7.
    packed = f_bytes(4, varint(1) + varint(2) + varint(300))
    unpacked = f_varint(4, 7)
    spec = f_msg(2, f_varint(5, -5), f_msg(14, f_varint(2, -1), packed, unpacked))
    got = P.decode_request(envelope("v1", "Pod", f_msg(1, f_str(1, "p"), f_varint(7, -2)) + spec))
    assert got["metadata"]["generation"] == -2
    assert got["spec"]["activeDeadlineSeconds"] == -5
    assert got["spec"]["securityContext"] == {"runAsUser": -1, "supplementalGroups": [1, 2, 300, 7]}
    # Deployment.spec.replicas is int32: a negative int32 is sign-extended to ten bytes on the wire.
    dep = P.decode_request(envelope("apps/v1", "Deployment", meta("d") + f_msg(2, f_varint(1, -3))))
    assert dep["spec"]["replicas"] == -3


def test_unknown_fields_are_skipped() -> None:
    base = meta("c") + f_map(2, {"k": "v"})
    noise = (f_varint(90, 5) + f_bytes(91, b"\x01\x02") + varint(92 << 3 | 1) + struct.pack("<d", 1.5)
             + varint(93 << 3 | 5) + b"\x00\x00\x80\x3f")
    body = envelope("v1", "ConfigMap", noise + base + noise)
    assert P.decode_request(body) == {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"},
                                      "data": {"k": "v"}}


def test_bytes_and_special_encodings() -> None:
    # core/v1 Secret {metadata 1, data 2 (map<string, bytes>), type 3, stringData 4, immutable 5}.
    body = envelope("v1", "Secret", meta("s") + f_map(2, {"bin": b"\x00\xff", "empty": b""}) + f_str(3, "Opaque")
                    + f_varint(5, 0))
    assert P.decode_request(body) == {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s"},
                                      "immutable": False, "data": {"bin": "AP8=", "empty": ""}, "type": "Opaque"}
    # events/v1 Event {metadata 1, eventTime 2 (MicroTime), reason 7}; MicroTime {seconds 1, nanos 2}.
    ev = P.decode_request(envelope("events.k8s.io/v1", "Event",
                                   meta("e") + f_msg(2, f_varint(1, 1767323045), f_varint(2, 123456789))
                                   + f_str(7, "Started")))
    assert ev["eventTime"] == "2026-01-02T03:04:05.123456Z"
    assert ev["reason"] == "Started"
    # apps/v1 ControllerRevision {metadata 1, data 2 (RawExtension {raw 1}), revision 3}.
    cr = P.decode_request(envelope("apps/v1", "ControllerRevision",
                                   meta("r") + f_msg(2, f_bytes(1, b'{"spec":{"x":1}}')) + f_varint(3, 2)))
    assert cr["data"] == {"spec": {"x": 1}} and cr["revision"] == 2


def test_go_duration_strings() -> None:
    assert [P.go_duration(n) for n in (0, 1, 1500, 2_000_000, 1_500_000_000, 90 * 10**9, 3600 * 10**9,
                                       3723_500_000_000, -10**9)] == [
        "0s", "1ns", "1.5µs", "2ms", "1.5s", "1m30s", "1h0m0s", "1h2m3.5s", "-1s"]


def test_envelope_defaults_fill_a_blank_kind() -> None:
    body = P.MAGIC + f_bytes(2, meta("x"))  # no typeMeta at all
    assert P.decode_request(body, default=("v1", "Namespace")) == {
        "kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "x"}, "spec": {}, "status": {}}
    with pytest.raises(BadRequest, match="Object 'Kind' is missing"):
        P.decode_request(body)


# -- errors ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, fragment", [
    (b"", "empty data"),
    (b'{"kind":"ConfigMap","apiVersion":"v1"}', "expected prefix [107 56 115 0]"),
    (b"k8s\x01" + f_bytes(2, b""), "expected prefix [107 56 115 0]"),
    (P.MAGIC, "empty body"),
    (P.MAGIC + b"\x0a", "unexpected EOF"),                        # truncated length varint
    (P.MAGIC + b"\x0a\x05\x0a\x02v1", "unexpected EOF"),           # length runs past the end
    (P.MAGIC + b"\x08" + b"\xff" * 11, "proto: integer overflow"),
    (P.MAGIC + b"\x0c", "wiretype end group for non-group"),
    (P.MAGIC + b"\x0f\x00", "illegal wireType 7"),
    (P.MAGIC + b"\x08\x01", "wrong wireType = 0 for field TypeMeta"),
])
def test_malformed_envelope(body: bytes, fragment: str) -> None:
    with pytest.raises(BadRequest) as e:
        P.decode_request(body, default=("v1", "ConfigMap"))
    assert e.value.code == 400
    assert fragment in e.value.message
    assert e.value.message.startswith("the object provided is unrecognized (must be of type ConfigMap): ")


@pytest.mark.parametrize("raw, fragment", [
    (b"\x0a\x03\x0a\x05ab", "unexpected EOF"),          # metadata.name longer than its message
    (meta("x") + b"\x10", "unexpected EOF"),            # truncated varint in the object
    (f_msg(1, f_varint(1, 5)), "proto: wrong wireType = 0 for field Name"),
    (meta("x") + f_varint(2, 1), "proto: wrong wireType = 0 for field Data"),
    (b"\x00\x01", "illegal tag 0"),
])
def test_malformed_object(raw: bytes, fragment: str) -> None:
    with pytest.raises(BadRequest) as e:
        P.decode_request(envelope("v1", "ConfigMap", raw))
    assert e.value.message.startswith('ConfigMap in version "v1" cannot be handled as a ConfigMap: ')
    assert fragment in e.value.message


def test_unknown_kind_is_unsupported_media_type() -> None:
    body = envelope("networking.k8s.io/v1", "Ingress", meta("i"))
    with pytest.raises(UnsupportedMedia) as e:
        P.decode_request(body)
    assert e.value.code == 415 and e.value.reason == "UnsupportedMediaType"
    assert "application/json" in e.value.message and "Ingress" in e.value.message
    assert e.value.status()["message"] == e.value.message


def test_supported_kinds() -> None:
    kinds = P.supported_kinds()
    for k in [("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Namespace"), ("v1", "ServiceAccount"),
              ("v1", "Service"), ("v1", "Pod"), ("v1", "ResourceQuota"), ("apps/v1", "Deployment"),
              ("apps/v1", "StatefulSet"), ("batch/v1", "Job"), ("batch/v1", "CronJob"),
              ("policy/v1", "PodDisruptionBudget"), ("policy/v1", "Eviction"),
              ("authentication.k8s.io/v1", "TokenRequest"), ("rbac.authorization.k8s.io/v1", "Role"),
              ("rbac.authorization.k8s.io/v1", "ClusterRole"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
              ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ("v1", "DeleteOptions")]:
        assert k in kinds, k
    assert ("networking.k8s.io/v1", "Ingress") not in kinds
    # Every message the tables mention is described (or has a custom decoder).
    for fields in MESSAGES.values():
        for _, _, typ, _ in fields:
            for t in (typ.split(":")[1:] if typ.startswith("map:") else [typ]):
                assert t in MESSAGES or t in P._SCALARS or t in P._SPECIAL, t
    assert set(KINDS.values()) <= set(MESSAGES)
